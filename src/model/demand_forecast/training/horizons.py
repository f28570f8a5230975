"""Per-horizon calibration of recursive forecasts: the log-space shift that keeps week h ahead as
high as a one-week-ahead forecast of the same (series, week) would be.

A forecast h > 1 weeks ahead reads the model's own earlier forecasts as history (lags, rolling
means, the level). Those are points, not draws: lower variance, no zeros, and a level that sits
where the median sits. The models learned from real history, so their week-h forecasts drift
(on the OJ panel -43% volume bias at h2 vs -34% at h1, issue 24). The shift of week h is measured
on training weeks only, from a few origins before the holdout: median over series of
log1p(one-week-ahead forecast) - log1p(week-h recursive forecast), the recursion itself feeding
back the already shifted points, so each week's shift corrects what the earlier ones left.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt
import pandas as pd

from demand_forecast.features import Panel, compute_features, design_rows
from demand_forecast.training.model import TrainedModel

# Recursive forecasts are validated (and their shifts fitted) up to this many weeks ahead:
# benchmarks/bench_accuracy.py reports MAPE and bias by horizon 1..13 on a real panel.
VALIDATED_HORIZON = 13
# Series forecast from an origin: those shipped in this many weeks before it (as `score` does).
ACTIVE_WEEKS = 13
# Origins the shifts are measured from (every other week back from the last possible one).
ORIGINS = 4
ORIGIN_STRIDE = 2


def shifted(units: npt.NDArray[np.float64], shift: float, unit: float) -> npt.NDArray[np.float64]:
    """`units` moved by `shift` in log1p space of the model's unit (0 stays 0 only when shift <= 0)."""
    if shift == 0.0:
        return units
    return np.asarray(unit * np.clip(np.expm1(np.log1p(units / unit) + shift), 0.0, None))


def predict_week(
    model: TrainedModel, panel: Panel, active: npt.NDArray[np.int64], week_idx: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Week `week_idx` forecasts of the `active` series from the panel's history (design rows,
    predictions), before any horizon shift."""
    feats, level, baseline = compute_features(panel, model.spec)
    weeks = np.full(len(active), week_idx, dtype=np.int64)
    design = design_rows(panel, feats, level, baseline, active, weeks)
    return design.rows, model.predict(design)


def feed_back(
    model: TrainedModel,
    panel: Panel,
    active: npt.NDArray[np.int64],
    week_idx: int,
    predictions: pd.DataFrame,
    shift: float,
) -> None:
    """Shift the week's `ensemble` and `ensemble_median` points in place and write the median into
    `panel.units` as history for later weeks (the median, not the lower MAPE point: feeding that
    back would pull every later level down)."""
    unit = model.spec.unit_scale
    for column in ("ensemble", "ensemble_median"):
        predictions[column] = shifted(predictions[column].to_numpy(dtype=np.float64), shift, unit)
    panel.units[active, week_idx] = predictions["ensemble_median"].to_numpy()


def fit_horizon_offsets(model: TrainedModel, panel: Panel, holdout_idx: int, horizon: int) -> list[float]:
    """Log shift of weeks 1..`horizon` ahead (the first is 0), measured on weeks before `holdout_idx`.

    Fewer origins than ORIGINS when the history is short; no origin at all gives all zeros."""
    first = model.settings.train.min_history_weeks + 1
    origins = [
        origin
        for origin in (holdout_idx - horizon - ORIGIN_STRIDE * i for i in range(ORIGINS))
        if origin >= first
    ]
    feats, level, baseline = compute_features(panel, model.spec)
    runs = []
    for origin in origins:
        recent = panel.units[:, max(origin - ACTIVE_WEEKS, 0) : origin]
        active = np.flatnonzero((~np.isnan(recent)).any(axis=1)).astype(np.int64)
        steps = np.repeat(np.arange(horizon), len(active))
        design = design_rows(panel, feats, level, baseline, np.tile(active, horizon), origin + steps)
        one_step = model.predict(design)["ensemble"].to_numpy(dtype=np.float64).reshape(horizon, -1)
        history = panel.units.copy()
        history[:, origin:] = np.nan
        runs.append((origin, active, one_step, replace(panel, units=history)))
    unit = model.spec.unit_scale
    offsets = []
    for step in range(horizon):
        weekly = [predict_week(model, copy, active, origin + step)[1] for origin, active, _, copy in runs]
        gaps = [
            np.log1p(one_step[step] / unit) - np.log1p(p["ensemble"].to_numpy(dtype=np.float64) / unit)
            for (_, _, one_step, _), p in zip(runs, weekly, strict=True)
        ]
        gap = np.concatenate(gaps) if gaps else np.zeros(0)
        gap = gap[np.isfinite(gap)]
        offsets.append(float(np.median(gap)) if step and len(gap) else 0.0)
        for (origin, active, _, copy), p in zip(runs, weekly, strict=True):
            feed_back(model, copy, active, origin + step, p, offsets[step])
    return offsets
