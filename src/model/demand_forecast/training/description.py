"""The trained model's description: the content of its `model_info.json`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from demand_forecast import __version__
from demand_forecast.features import Panel
from demand_forecast.training.design import TrainingRows
from demand_forecast.training.model import TrainedModel
from demand_forecast.training.segments import split_weeks

MODEL_NAME = "demand-forecast"


def describe(
    model: TrainedModel,
    panel: Panel,
    data: TrainingRows,
    segments: list[str],
    validation: dict[str, float | None],
) -> dict[str, Any]:
    """The model's `model_info.json` content (`model_version` is set by the train step)."""
    settings = model.settings
    validation_start, holdout_start = split_weeks(panel.weeks[-1], settings)
    train_weeks = panel.weeks[panel.weeks < holdout_start]
    series, rows = model.series, data.rows
    return {
        "model_name": MODEL_NAME,
        "model_version": "",
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "train_first_week": train_weeks[0].strftime("%Y-%m-%d"),
        "train_last_week": train_weeks[-1].strftime("%Y-%m-%d"),
        "holdout": {
            "start": holdout_start.strftime("%Y-%m-%d"),
            "end": panel.weeks[-1].strftime("%Y-%m-%d"),
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
                "rows": int((rows["segment"] == segment).sum()),
                "lasso_weight": model.weights[segment],
                "lasso": "segment" if segment in model.lasso else "pooled",
            }
            for segment in segments
        ],
        "velocity_threshold_units": model.velocity_threshold,
        "nn_sharing": settings.nn.sharing,
        "feature_count": len(model.feature_names),
        "training_rows": len(rows),
        "series": len(series),
        "metrics": validation,
        "package_version": __version__,
        "config": settings.as_dict(),
    }
