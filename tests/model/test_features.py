"""Features use only the past, and a missing week is a gap, not a zero."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from demand_forecast.data_contract import validate_tables
from demand_forecast.dataset import read_raw_tables
from demand_forecast.features import build_panel, compute_features, make_spec, past_mean
from demand_forecast.settings import load_settings

SETTINGS = load_settings()


def test_past_mean_skips_gaps_and_excludes_the_current_week() -> None:
    values = np.array([[2.0, np.nan, 4.0, 100.0]])
    means = past_mean(values, window=3)
    assert np.isnan(means[0, 0])  # nothing before the first week
    assert means[0, 1] == 2.0
    assert means[0, 2] == 2.0  # the gap is skipped, not averaged in as 0
    assert means[0, 3] == 3.0  # week 3's own 100 is never part of its feature


def test_features_at_a_week_do_not_change_when_that_week_and_later_change(tiny_data: Path) -> None:
    tables = validate_tables(read_raw_tables(tiny_data), SETTINGS.validate_).tables
    spec = make_spec(tables, 20)
    panel = build_panel(tables, spec)
    feats, level, _ = compute_features(panel, spec)
    cut = 40
    panel.units[:, cut:] = panel.units[:, cut:] * 10 + 7  # rewrite the present and the future
    changed, changed_level, _ = compute_features(panel, spec)
    for name, values in feats.items():
        np.testing.assert_array_equal(values[:, : cut + 1], changed[name][:, : cut + 1], err_msg=name)
    np.testing.assert_array_equal(level[:, : cut + 1], changed_level[:, : cut + 1])


def test_gap_weeks_stay_missing_in_the_panel(tiny_data: Path) -> None:
    tables = validate_tables(read_raw_tables(tiny_data), SETTINGS.validate_).tables
    spec = make_spec(tables, 20)
    panel = build_panel(tables, spec)
    observed = int((~np.isnan(panel.units)).sum())
    assert observed == len(tables.shipments)
    first = tables.shipments.iloc[0]
    row = panel.series.index[
        (panel.series["store_id"] == first["store_id"]) & (panel.series["product_id"] == first["product_id"])
    ][0]
    weeks = set(
        tables.shipments.query("store_id == @first.store_id and product_id == @first.product_id")[
            "week_start"
        ]
    )
    missing = [i for i, week in enumerate(panel.weeks) if week not in weeks]
    assert np.isnan(panel.units[row, missing]).all()
    assert pd.Timestamp(panel.weeks[0]).day_of_week == 0
