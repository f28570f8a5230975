"""The trained model's description: the content of its `model_info.json`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from demand_forecast import __version__
from demand_forecast.training.model import TrainedModel
from demand_forecast.training.segments import split_weeks

MODEL_NAME = "demand-forecast"


def describe(
    model: TrainedModel,
    weeks: pd.DatetimeIndex,
    rows_per_segment: Mapping[str, int],
    validation: dict[str, float | None],
) -> dict[str, Any]:
    """The model's `model_info.json` content (`model_version` is set by the train step): `weeks` is the
    panel's week grid, `rows_per_segment` the training rows of each trained segment."""
    settings = model.settings
    validation_start, holdout_start = split_weeks(weeks[-1], settings)
    train_weeks = weeks[weeks < holdout_start]
    series = model.series
    segments = sorted(rows_per_segment)
    return {
        "model_name": MODEL_NAME,
        "model_version": "",
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "train_first_week": train_weeks[0].strftime("%Y-%m-%d"),
        "train_last_week": train_weeks[-1].strftime("%Y-%m-%d"),
        "holdout": {
            "start": holdout_start.strftime("%Y-%m-%d"),
            "end": weeks[-1].strftime("%Y-%m-%d"),
            "weeks": settings.train.holdout_weeks,
        },
        "validation": {
            "start": validation_start.strftime("%Y-%m-%d"),
            "weeks": settings.train.validation_weeks,
        },
        "segments": [
            {
                "segment": segment,
                "series": int((series["segment"] == segment).sum()),
                "rows": int(rows_per_segment[segment]),
                "lasso_weight": model.weights[segment],
                "lasso": "segment" if segment in model.lasso else "pooled",
            }
            for segment in segments
        ],
        "velocity_threshold_units": model.velocity_threshold,
        "nn_sharing": settings.nn.sharing,
        "feature_count": len(model.feature_names),
        "training_rows": int(sum(rows_per_segment.values())),
        "series": len(series),
        "metrics": validation,
        "package_version": __version__,
        "config": settings.as_dict(),
    }
