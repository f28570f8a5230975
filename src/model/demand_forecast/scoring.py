"""Batch forecasts: recursive multi-week forecasts from the shipments strictly before as-of."""

from __future__ import annotations

import numpy as np
import pandas as pd

from demand_forecast.dataset import Tables
from demand_forecast.errors import UsageError
from demand_forecast.features import build_panel, compute_features, design_rows
from demand_forecast.training import TrainedModel

ACTIVE_WEEKS = 13
FORECAST_COLUMNS = [
    "week_start",
    "store_id",
    "product_id",
    "region",
    "store_format",
    "segment",
    "forecast_units",
    "model_name",
    "model_version",
]


def default_as_of(tables: Tables) -> pd.Timestamp:
    return pd.Timestamp(tables.shipments["week_start"].max()) + pd.Timedelta(weeks=1)


def forecast(model: TrainedModel, tables: Tables, as_of: pd.Timestamp | None, horizon: int) -> pd.DataFrame:
    """Ensemble forecasts for weeks as_of .. as_of + horizon - 1 of every series shipped in the 13
    weeks before as_of. Week h > 1 feeds the forecasts of earlier weeks back in as history."""
    if horizon < 1:
        raise UsageError(f"--horizon must be >= 1, got {horizon}")
    as_of = default_as_of(tables) if as_of is None else as_of
    if as_of.day_of_week != 0:
        raise UsageError(f"--as-of {as_of.date()} is not a Monday; weeks start on Monday")
    history = tables.shipments[tables.shipments["week_start"] < as_of]
    if history.empty:
        raise UsageError(f"no shipments before --as-of {as_of.date()}; nothing to forecast from")
    past = Tables(
        history, tables.stores, tables.promotions, tables.weather, tables.events, tables.numeric_columns
    )
    last_week = as_of + pd.Timedelta(weeks=horizon - 1)
    panel = build_panel(past, model.spec, until_week=last_week)
    start = panel.week_index(as_of)
    recent = panel.units[:, max(start - ACTIVE_WEEKS, 0) : start]
    active = np.flatnonzero((~np.isnan(recent)).any(axis=1)).astype(np.int64)
    frames = []
    for step in range(horizon):
        week_idx = start + step
        feats, level, baseline = compute_features(panel, model.spec)
        design = design_rows(
            panel, feats, level, baseline, active, np.full(len(active), week_idx, dtype=np.int64)
        )
        predictions = model.predict(design)
        panel.units[active, week_idx] = predictions["ensemble"].to_numpy()
        frames.append(
            design.rows[["week_start", "store_id", "product_id", "region", "store_format"]].assign(
                segment=predictions["segment"].to_numpy(),
                forecast_units=predictions["ensemble"].to_numpy().round(4),
            )
        )
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FORECAST_COLUMNS)
    out["week_start"] = pd.to_datetime(out["week_start"]).dt.strftime("%Y-%m-%d")
    out["model_name"] = model.info["model_name"]
    out["model_version"] = model.info["model_version"]
    return out[FORECAST_COLUMNS]
