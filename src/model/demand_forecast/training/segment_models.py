"""Per-segment fitting: each segment's LASSO (and network, with per-segment sharing).

A worker fits its regions' segments one after another (`training.region_training`): the workers of
the distributed job are the parallelism (issue 20), so there is no process pool inside a worker."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

from demand_forecast.models import (
    MIN_LASSO_ROWS,
    LinearModel,
    NetworkSpec,
    fit_lasso,
    fit_network,
    predict_network,
)
from demand_forecast.settings import Settings
from demand_forecast.training.design import TrainingRows
from demand_forecast.training.model import IntVector, TrainedModel

Progress = Callable[[str], None]


@dataclass(frozen=True)
class SegmentTask:
    segment: str
    seed: int
    fit_x: npt.NDArray[np.float32]
    fit_y: npt.NDArray[np.float64]
    fit_codes: IntVector
    val_x: npt.NDArray[np.float32]
    val_codes: IntVector
    all_x: npt.NDArray[np.float32]
    all_y: npt.NDArray[np.float64]
    all_codes: IntVector
    settings: Settings
    level_index: int
    network_spec: NetworkSpec | None  # set when each segment trains its own network


@dataclass(frozen=True)
class SegmentResult:
    segment: str
    lasso: LinearModel | None
    lasso_val: npt.NDArray[np.float64]
    network: dict[str, torch.Tensor] | None
    network_val: npt.NDArray[np.float64] | None


def lasso_rows(
    features: npt.NDArray[np.float32], target: npt.NDArray[np.float64], level_index: int, positive_only: bool
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """The rows LASSO learns from: all, or those with units > 0 (log1p(units) = target + level > 0)."""
    if not positive_only:
        return features, target
    positive = (target + features[:, level_index]) > 1e-9
    return features[positive], target[positive]


def fit_segment(task: SegmentTask) -> SegmentResult:
    """The segment's LASSO (and network, with per-segment sharing), with their validation residuals."""
    settings = task.settings
    lasso: LinearModel | None = None
    lasso_val = np.zeros(len(task.val_x))
    positive_only = settings.lasso.positive_rows_only
    fit_x, fit_y = lasso_rows(task.fit_x, task.fit_y, task.level_index, positive_only)
    if len(fit_y) >= MIN_LASSO_ROWS:
        lasso = fit_lasso(fit_x, fit_y, settings.lasso, task.seed)
        lasso_val = lasso.predict(task.val_x)
        all_x, all_y = lasso_rows(task.all_x, task.all_y, task.level_index, positive_only)
        if settings.ensemble.refit and len(all_y) > len(fit_y):
            lasso = fit_lasso(all_x, all_y, settings.lasso, task.seed)
    network = None
    network_val = None
    if task.network_spec is not None and len(task.fit_y) >= MIN_LASSO_ROWS:
        state = fit_network(task.fit_codes, task.fit_x, task.fit_y, task.network_spec, settings.nn, task.seed)
        network_val = predict_network(state, task.network_spec, settings.nn, task.val_codes, task.val_x)
        if settings.ensemble.refit and len(task.all_y) > len(task.fit_y):
            state = fit_network(
                task.all_codes, task.all_x, task.all_y, task.network_spec, settings.nn, task.seed
            )
        network = state
    return SegmentResult(task.segment, lasso, lasso_val, network, network_val)


def _segment_seed(seed: int, segment: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{segment}".encode()).digest()[:4], "little")


def segment_tasks(model: TrainedModel, data: TrainingRows, segments: list[str]) -> list[SegmentTask]:
    """One task per segment: its fit, validation and all rows, with a seed derived from the segment."""
    settings = model.settings
    per_segment_nn = settings.nn.sharing == "per_segment"
    design, rows, target, is_fit, codes = data.design, data.rows, data.target, data.is_fit, data.codes
    tasks = []
    for segment in segments:
        mask = (rows["segment"] == segment).to_numpy()
        fit, val = mask & is_fit, mask & ~is_fit
        tasks.append(
            SegmentTask(
                segment,
                _segment_seed(settings.train.seed, segment),
                design.features[fit],
                target[fit],
                codes[fit],
                design.features[val],
                codes[val],
                design.features[mask],
                target[mask],
                codes[mask],
                settings,
                model.network_spec.level_index,
                model.network_spec if per_segment_nn else None,
            )
        )
    return tasks
