"""Multi-week forecasts: recursive forecasts keep their level (no decay week by week), and a horizon
beyond the validated one is named in a warning."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def _flat_panel(folder: Path, mean_units: float, seed: int) -> Path:
    """A panel with no trend and no season: every series Poisson around its own constant mean."""
    rng = np.random.default_rng(seed)
    weeks = pd.date_range("2023-01-02", periods=80, freq="7D")
    stores = pd.DataFrame(
        {
            "store_id": [f"S{i}" for i in range(4)],
            "region": ["north", "north", "south", "south"],
            "store_format": ["large", "small", "large", "small"],
        }
    )
    rows = []
    for store in stores["store_id"]:
        for product in range(6):
            level = mean_units * rng.uniform(0.3, 3.0)
            for week in weeks:
                rows.append((week.strftime("%Y-%m-%d"), store, f"P{product}", int(rng.poisson(level))))
    folder.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows, columns=["week_start", "store_id", "product_id", "units"]).to_csv(
        folder / "shipments.csv", index=False
    )
    stores.to_csv(folder / "stores.csv", index=False)
    return folder


@pytest.mark.slow
@pytest.mark.parametrize(("mean_units", "seed"), [(3.0, 1), (40.0, 2), (400.0, 3)])
def test_recursive_forecasts_keep_their_level_up_to_the_validated_horizon(
    tmp_path: Path, mean_units: float, seed: int
) -> None:
    from demand_forecast.pipeline import load_dataset
    from demand_forecast.scoring import VALIDATED_HORIZON, forecast
    from demand_forecast.settings import load_settings
    from demand_forecast.training import train_model

    settings = load_settings(overrides={"nn": {"epochs": 3, "seeds": 1}})
    tables = load_dataset(_flat_panel(tmp_path / "flat", mean_units, seed), settings).tables
    model = train_model(tables, settings)
    ahead = forecast(model, tables, None, VALIDATED_HORIZON)
    volume = ahead.groupby("week_start")["forecast_units"].sum().to_numpy()
    # Demand is flat, so week 13's forecast volume is week 1's: feeding the (low) MAPE point back as
    # history made it fall week after week.
    assert volume[-1] / volume[0] > 0.9, volume / volume[0]


@pytest.mark.parametrize("weeks_beyond", [1, 13, 39])  # horizons 14, 26 and 52
def test_a_horizon_beyond_the_validated_one_is_named_in_a_warning(weeks_beyond: int) -> None:
    # imported here: demand_forecast.scoring brings torch and sklearn, which collection must not pay
    from demand_forecast.scoring import VALIDATED_HORIZON, horizon_warnings

    horizon = VALIDATED_HORIZON + weeks_beyond
    (message,) = horizon_warnings(horizon)
    assert f"--horizon {horizon}" in message
    assert f"validated horizon of {VALIDATED_HORIZON} weeks" in message


@pytest.mark.parametrize("horizon", [1, 4, None])  # None: the validated horizon itself
def test_validated_horizons_need_no_warning(horizon: int | None) -> None:
    from demand_forecast.scoring import VALIDATED_HORIZON, horizon_warnings

    assert horizon_warnings(VALIDATED_HORIZON if horizon is None else horizon) == []
