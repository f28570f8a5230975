"""Batch forecasts: recursive multi-week forecasts from the shipments strictly before as-of."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from demand_forecast.data_contract import ValidationResult
from demand_forecast.dataset import Tables
from demand_forecast.errors import UsageError
from demand_forecast.features import Panel, build_panel, compute_features, design_rows
from demand_forecast.routed_model import RoutedModel
from demand_forecast.training.model import TrainedModel

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


# data_quality.json's report as `data_contract.quality_report` builds it; its schema is
# `contracts.DataQuality`, which every step parses it with before writing.
Report = dict[str, Any]


@dataclass
class Scored:
    """A score run's result: forecast rows and weeks written, data_quality.json's report, the lines
    the step prints (before the horizon warning)."""

    rows: int
    weeks: int
    report: Report
    lines: list[str] = field(default_factory=list)


def default_as_of(tables: Tables) -> pd.Timestamp:
    return pd.Timestamp(tables.shipments["week_start"].max()) + pd.Timedelta(weeks=1)


def forecast(model: TrainedModel, tables: Tables, as_of: pd.Timestamp | None, horizon: int) -> pd.DataFrame:
    """Ensemble forecasts for weeks as_of .. as_of + horizon - 1 of every series shipped in the 13
    weeks before as_of. Week h > 1 feeds the forecasts of earlier weeks back in as history.

    A registered bundle (`RoutedModel`) answers each series with the model its segment routes to
    (each model runs its own recursion); `model_version` names the model that made each row."""
    if isinstance(model, RoutedModel):
        routed, made_by = model.answer(
            lambda member: forecast(member, tables, as_of, horizon), ("forecast_units", "assumed_inputs")
        )
        return routed.assign(model_version=made_by)[FORECAST_COLUMNS]
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
    active = np.flatnonzero(active_mask(panel, model, start)).astype(np.int64)
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


def active_mask(panel: Panel, model: TrainedModel, start: int) -> npt.NDArray[np.bool_]:
    """Series to forecast at week index `start`: those shipped in the ACTIVE_WEEKS weeks before it,
    and those the model trained on whose whole store shipped nothing in those weeks (a store closed
    for a refit, still in stores.csv): the store is silent, not the product discontinued, so its
    series are forecast again when it reopens (issue 25, kind 5)."""
    recent = panel.units[:, max(start - ACTIVE_WEEKS, 0) : start]
    shipped = (~np.isnan(recent)).any(axis=1)
    stores = panel.series["store_id"].to_numpy()
    store_silent = ~pd.Series(shipped).groupby(stores).transform("any").to_numpy(dtype=bool)
    trained = pd.MultiIndex.from_frame(panel.series[["store_id", "product_id"]]).isin(
        pd.MultiIndex.from_frame(model.series[["store_id", "product_id"]].astype(str))
    )
    return np.asarray(shipped | (store_silent & trained), dtype=bool)


def stale_data_warning(tables: Tables, as_of: pd.Timestamp) -> str:
    """A warning when as-of lies more than one week past the last shipment week: the forecasts then
    start from data weeks old (lags missing, levels stale) and nothing else would say so."""
    return stale_after(pd.Timestamp(tables.shipments["week_start"].max()), as_of)


def stale_after(last: pd.Timestamp, as_of: pd.Timestamp) -> str:
    """`stale_data_warning` given the last shipment week `last`."""
    weeks = int((as_of - last).days // 7)
    if weeks <= 1:
        return ""
    return (
        f"--as-of {as_of.date()} is {weeks} weeks after the last shipment week {last.date()}: the "
        f"{weeks - 1} weeks between have no data, so these forecasts rest on stale history; load the "
        "recent shipments, or pass the --as-of you mean"
    )


def store_changes(model: TrainedModel, tables: Tables) -> list[str]:
    """A warning per store whose region or format differs from the one the model trained with: its
    series are forecast in the segment of the store's current attributes (with the velocity they
    trained with), never silently in the old one."""
    trained = model.series.drop_duplicates("store_id").set_index("store_id")
    current = tables.stores.set_index("store_id")
    common = trained.index.intersection(current.index)
    warnings = []
    for column in ("region", "store_format"):
        if column not in trained:
            continue
        then = trained.loc[common, column].astype(str)
        now = current.loc[common, column].astype(str)
        for store in common[(then != now).to_numpy()]:
            series = int((model.series["store_id"] == store).sum())
            warnings.append(
                f"stores.csv: store {store} has {column} '{now[store]}', the model trained with "
                f"'{then[store]}': its {series} series are forecast in the segment of '{now[store]}' "
                "(retrain to learn the change)"
            )
    return warnings


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


COVARIATE_WEEKS = 4  # the recent weeks whose covariates are compared with training's
OUTSIDE_SHARE = 0.5  # more than half of them far outside training's range: a warning


def covariate_shift(model: TrainedModel, tables: Tables, as_of: pd.Timestamp) -> dict[str, float]:
    """Per weather and promotion column the model uses: the share of its values in the 4 weeks before
    as-of and the forecast week that lie far outside training's range, i.e. beyond the training
    10%-90% quantiles (the drift reference's outer edges) by more than half their distance.

    A season stays inside a year of training data; a change of unit (Fahrenheit for Celsius, cents
    for euros) does not, which is what this catches (issue 25, kind 7)."""
    return shift_shares(covariate_counts(model, tables, as_of))


def covariate_counts(model: TrainedModel, tables: Tables, as_of: pd.Timestamp) -> dict[str, tuple[int, int]]:
    """`covariate_shift`'s counts: per covariate, (values far outside training's range, values). Counts
    of disjoint partitions add up to the whole data's (`shift_shares` of the sums)."""
    start, end = as_of - pd.Timedelta(weeks=COVARIATE_WEEKS), as_of + pd.Timedelta(weeks=1)
    sources = [("weather", tables.weather, model.spec.weather_columns)]
    sources.append(("promotions", tables.promotions, model.spec.promo_columns))
    counts: dict[str, tuple[int, int]] = {}
    for file, frame, columns in sources:
        if frame is None:
            continue
        recent = frame[(frame["week_start"] >= start) & (frame["week_start"] < end)]
        for column in columns:
            edges = model.reference.get(column, {}).get("edges", [])
            values = recent[column].dropna().to_numpy(dtype=np.float64) if column in recent else np.array([])
            if len(edges) < 2:
                continue
            low, high = float(edges[0]), float(edges[-1])
            margin = max(high - low, 1e-9) / 2
            outside = (values < low - margin) | (values > high + margin)
            counts[f"{file}:{column}"] = (int(outside.sum()), len(values))
    return counts


def shift_shares(counts: dict[str, tuple[int, int]]) -> dict[str, float]:
    """Shares of `covariate_counts`, for covariates with at least COVARIATE_WEEKS values."""
    return {
        name: round(outside / total, 4)
        for name, (outside, total) in counts.items()
        if total >= COVARIATE_WEEKS
    }


def covariate_warnings(shift: dict[str, float]) -> list[str]:
    """A warning per covariate whose recent values lie mostly far outside training's range."""
    return [
        f"{name.replace(':', '.csv: column ', 1)}: {share:.0%} of its values in the last {COVARIATE_WEEKS} "
        "weeks lie far outside the range the model trained on (a change of unit or source?); forecasts "
        "that use it are unreliable: correct the feed, or retrain if the change is real"
        for name, share in sorted(shift.items())
        if share > OUTSIDE_SHARE
    ]


def scoring_warnings(model: TrainedModel, tables: Tables, as_of: pd.Timestamp) -> list[str]:
    """What a score or monitor run should know about its data against the model: an as-of past the
    data, stores whose region or format changed since training, covariates far outside training's."""
    stale = stale_data_warning(tables, as_of)
    shift = covariate_warnings(covariate_shift(model, tables, as_of))
    return ([stale] if stale else []) + store_changes(model, tables) + shift


def scoring_quality(
    validation: ValidationResult,
    forecasts: pd.DataFrame,
    as_of: pd.Timestamp,
    assumed: tuple[str, ...],
    notes: list[str] | None = None,
) -> tuple[Report, list[str]]:
    """data_quality.json of a score/monitor run (validation's report plus what the step left out),
    and the lines the step prints: quarantined rows, active series without a forecast, warnings
    (validation's, then `notes`: `scoring_warnings`)."""
    missing = without_forecast(validation, forecasts, as_of)
    report = dict(validation.report)
    report["warnings"] = [*validation.warnings, *(notes or [])]
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
    return report, quality_lines(report, missing, assumed)


def quality_lines(report: Report, missing: pd.DataFrame, assumed: Sequence[str]) -> list[str]:
    """The lines a score/monitor run prints for its data_quality report: quarantined rows, active
    series without a forecast (`missing`: store_id, product_id), warnings, assumed inputs."""
    by_reason = report["quarantined_by_reason"]
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
    lines += [f"warning: {message}" for message in report["warnings"]]
    lines += [f"warning: input assumed by the model's documented fallback: {a}" for a in assumed]
    return lines
