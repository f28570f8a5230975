"""Segments and weeks: each series' segment (region x store format x fast/slow mover), the pools a
segment falls back to, and which weeks fit, validate and hold out."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import numpy as np
import pandas as pd

from demand_forecast.errors import UsageError
from demand_forecast.features import Panel
from demand_forecast.settings import Settings

T = TypeVar("T")
POOLED = "__pooled__"
SHARED = "__shared__"


def segment_label(region: str, store_format: str, velocity: str) -> str:
    return f"{region}|{store_format}|{velocity}"


def velocity_pool(segment: str) -> str:
    """Key of the fast- or slow-mover pool a segment falls back to when it has too little data."""
    return f"__velocity__|{segment.rsplit('|', 1)[-1]}"


def lookup(table: Mapping[str, T], segment: str, default: T) -> T:
    """The segment's own entry, else its velocity pool's, else the pooled one, else `default`."""
    for key in (segment, velocity_pool(segment), POOLED):
        if key in table:
            return table[key]
    return default


def split_weeks(last_week: pd.Timestamp, settings: Settings) -> tuple[pd.Timestamp, pd.Timestamp]:
    holdout_start = last_week - pd.Timedelta(weeks=settings.train.holdout_weeks - 1)
    validation_start = holdout_start - pd.Timedelta(weeks=settings.train.validation_weeks)
    return validation_start, holdout_start


def check_history(weeks: int, validation_idx: int, settings: Settings) -> None:
    """UsageError when the panel is too short for holdout + validation + minimum history."""
    if validation_idx < settings.train.min_history_weeks + 1:
        raise UsageError(
            f"only {weeks} weeks of shipments: need more than "
            f"holdout ({settings.train.holdout_weeks}) "
            f"+ validation ({settings.train.validation_weeks}) + {settings.train.min_history_weeks} weeks; "
            "supply more history or lower train.holdout_weeks / train.validation_weeks with --config"
        )


def assign_segments(panel: Panel, holdout_idx: int, settings: Settings) -> tuple[pd.DataFrame, float]:
    """Each series' velocity (fast/slow) and segment label, and the velocity threshold in units/week.

    Velocity comes from training history only: mean weekly units over observed weeks before the holdout."""
    train_units = panel.units[:, :holdout_idx]
    with np.errstate(invalid="ignore"):
        series_mean = np.nanmean(
            np.where(np.isnan(train_units).all(axis=1, keepdims=True), 0.0, train_units), axis=1
        )
    threshold = (
        float(settings.segments.velocity_threshold)
        if settings.segments.velocity_threshold is not None
        else float(np.quantile(series_mean, settings.segments.velocity_quantile))
    )
    series = panel.series.copy()
    series["velocity"] = np.where(series_mean >= threshold, "fast", "slow")
    series["segment"] = [
        segment_label(r, f, v)
        for r, f, v in zip(series["region"], series["store_format"], series["velocity"], strict=True)
    ]
    return series, threshold
