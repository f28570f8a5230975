"""Batch forecasts: recursive multi-week forecasts from the shipments strictly before as-of."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from demand_forecast.data_contract import ValidationResult
from demand_forecast.dataset import Tables
from demand_forecast.errors import UsageError
from demand_forecast.features import build_panel, compute_features, design_rows
from demand_forecast.training import TrainedModel

ACTIVE_WEEKS = 13
# Recursive forecasts are validated up to this many weeks ahead: benchmarks/bench_accuracy.py reports
# MAPE and bias by horizon 1..13 on a real panel (src/model/README.md, "Horizons"). Beyond it nobody
# has measured them, so `score` says so.
VALIDATED_HORIZON = 13
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
    "assumed_inputs",
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
        # Later weeks read this one as history: the median point, not the (lower) MAPE point.
        panel.units[active, week_idx] = predictions["ensemble_median"].to_numpy()
        frames.append(
            design.rows[["week_start", "store_id", "product_id", "region", "store_format"]].assign(
                segment=predictions["segment"].to_numpy(),
                forecast_units=predictions["ensemble"].to_numpy().round(4),
            )
        )
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=FORECAST_COLUMNS)
    out["week_start"] = pd.to_datetime(out["week_start"]).dt.strftime("%Y-%m-%d")
    if not np.isfinite(out["forecast_units"].to_numpy(dtype=np.float64)).all():
        raise RuntimeError("a forecast is not finite; no forecasts.csv is written with NaN or inf")
    out["model_name"] = model.info["model_name"]
    out["model_version"] = model.info["model_version"]
    # Inputs the model was trained with that this data lacks, filled by their documented fallback.
    out["assumed_inputs"] = "; ".join(panel.assumed)
    return out[FORECAST_COLUMNS]


def horizon_warnings(horizon: int) -> list[str]:
    """The warning `score` prints when asked for more weeks ahead than were validated, else none."""
    if horizon <= VALIDATED_HORIZON:
        return []
    return [
        f"--horizon {horizon} is beyond the validated horizon of {VALIDATED_HORIZON} weeks: weeks "
        f"{VALIDATED_HORIZON + 1}..{horizon} ahead are recursive forecasts whose accuracy and bias were "
        "never measured; use them as an indication only"
    ]


def without_forecast(
    validation: ValidationResult, forecasts: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Series active before `as_of` (a quarantined shipment row in its 13 weeks, or one whose week
    cannot be read) that got no forecast: store_id, product_id, rows, reasons."""
    rows = validation.quarantined_series()
    week = pd.to_datetime(rows["week_start"], format="%Y-%m-%d", errors="coerce")
    recent = week.isna() | ((week < as_of) & (week >= as_of - pd.Timedelta(weeks=ACTIVE_WEEKS)))
    rows = rows[recent.to_numpy()]
    forecast_keys = pd.MultiIndex.from_frame(forecasts[["store_id", "product_id"]].astype(str))
    rows = rows[~pd.MultiIndex.from_frame(rows[["store_id", "product_id"]]).isin(forecast_keys)]
    if rows.empty:
        return pd.DataFrame(columns=["store_id", "product_id", "rows", "reasons"])
    grouped = rows.groupby(["store_id", "product_id"], sort=True)["reason"]
    return grouped.agg(rows="size", reasons=lambda r: ",".join(sorted(set(r)))).reset_index()


def scoring_quality(
    validation: ValidationResult, forecasts: pd.DataFrame, as_of: pd.Timestamp, assumed: tuple[str, ...]
) -> tuple[dict[str, Any], list[str]]:
    """data_quality.json of a score/monitor run (validation's report plus what the step left out),
    and the lines the step prints: quarantined rows, active series without a forecast, warnings."""
    missing = without_forecast(validation, forecasts, as_of)
    report = dict(validation.report)
    report["scoring"] = {
        "as_of": as_of.strftime("%Y-%m-%d"),
        "series_forecast": int(forecasts[["store_id", "product_id"]].drop_duplicates().shape[0]),
        "series_without_forecast": len(missing),
        "without_forecast": [
            {"store_id": r.store_id, "product_id": r.product_id, "rows": int(r.rows), "reasons": r.reasons}
            for r in missing.itertuples()
        ],
        "assumed_inputs": list(assumed),
    }
    by_reason = validation.report["quarantined_by_reason"]
    lines = [
        f"{sum(by_reason.values())} input rows quarantined"
        + (f" ({', '.join(f'{k}={v}' for k, v in by_reason.items())}) -> quarantine.csv" if by_reason else "")
    ]
    if len(missing):
        stores = missing.groupby("store_id").size()
        shown = ", ".join(f"store {store}: {n}" for store, n in stores.head(5).items())
        lines.append(
            f"warning: {len(missing)} active series left without a forecast ({shown}"
            f"{', ...' if len(stores) > 5 else ''}); see data_quality.json 'scoring' and quarantine.csv"
        )
    lines += [f"warning: {message}" for message in validation.warnings]
    lines += [f"warning: input assumed by the model's documented fallback: {a}" for a in assumed]
    return report, lines
