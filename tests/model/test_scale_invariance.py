"""The unit of `units` does not change the forecasts: a panel in ten-thousandths or in billions gets
the same holdout MAPE (and the same forecasts, times the factor) as the panel itself."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from demand_forecast.dataset import Tables
from demand_forecast.settings import load_settings


def _scaled(tables: Tables, factor: float) -> Tables:
    shipments = tables.shipments.copy()
    for column in ("units", "returns"):
        if column in shipments:
            shipments[column] = shipments[column] * factor
    return replace(tables, shipments=shipments)


def _holdout(tables: Tables) -> tuple[float, pd.DataFrame]:
    from demand_forecast.metrics import mape
    from demand_forecast.pipeline import backtest
    from demand_forecast.training import train_model

    settings = load_settings(overrides={"nn": {"epochs": 1, "seeds": 1}})
    model = train_model(tables, settings)
    holdout = model.model_info.holdout
    predictions = backtest(model, tables, pd.Timestamp(holdout.start), pd.Timestamp(holdout.end))
    score = mape(predictions["units"].to_numpy(), predictions["ensemble"].to_numpy())
    assert score is not None
    return score, predictions


@pytest.mark.slow
def test_holdout_mape_does_not_depend_on_the_unit_of_units(tiny_data: Path) -> None:
    from demand_forecast.pipeline import load_dataset

    tables = load_dataset(tiny_data, load_settings()).tables
    reference, reference_rows = _holdout(tables)
    # ten-thousandths (log1p ~ linear there), billions (beyond expm1's clamp), and an odd unit
    for factor in (1e-4, 1e9, 3.7):
        score, rows = _holdout(_scaled(tables, factor))
        assert abs(score - reference) / reference < 0.01, (factor, score, reference)
        np.testing.assert_allclose(
            rows["ensemble"].to_numpy() / factor, reference_rows["ensemble"].to_numpy(), rtol=1e-3, atol=1e-6
        )


@pytest.mark.parametrize(
    ("units", "expected"),
    [
        (np.array([0.0, 1.0, 2.0, 5.0, 9.0]), 1.0),  # a count panel: its unit is 1
        (np.array([0.0, 1e-4, 2e-4, 5e-4]), 1e-4),  # the same in ten-thousandths
        (np.array([0.0, 0.0, np.nan]), 1.0),  # nothing ever sold: no unit to measure, 1
    ],
)
def test_the_counting_unit_scales_with_the_data(units: np.ndarray, expected: float) -> None:
    from demand_forecast.features import unit_scale

    assert unit_scale(units) == pytest.approx(expected, rel=1e-2)
