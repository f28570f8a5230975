"""Per-segment fitting: each segment's LASSO (and network, with per-segment sharing) in a process pool."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
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
from demand_forecast.training.segments import POOLED

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


def _worker_init() -> None:
    # Workers share the cores: one thread each, or they oversubscribe and slow everyone down.
    torch.set_num_threads(1)


def lasso_rows(
    features: npt.NDArray[np.float32], target: npt.NDArray[np.float64], level_index: int, positive_only: bool
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """The rows LASSO learns from: all, or those with units > 0 (log1p(units) = target + level > 0)."""
    if not positive_only:
        return features, target
    positive = (target + features[:, level_index]) > 1e-9
    return features[positive], target[positive]


def _fit_segment(task: SegmentTask) -> SegmentResult:
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


def fit_segments(
    tasks: list[SegmentTask], settings: Settings, rows: int, say: Progress
) -> list[SegmentResult]:
    """Fit every segment's LASSO (and network, with per-segment sharing), in a process pool."""
    per_segment_nn = settings.nn.sharing == "per_segment"
    n_jobs = settings.train.n_jobs or os.cpu_count() or 1
    say(f"training {len(tasks)} segments on {rows} rows with {n_jobs} worker(s)")
    results: list[SegmentResult] = []
    if n_jobs > 1 and len(tasks) > 1:
        # fork is cheap and safe while the parent has not run torch yet; with per-segment networks the
        # parent may have, so spawn clean workers instead.
        method = "spawn" if per_segment_nn else "fork"
        with ProcessPoolExecutor(
            n_jobs, mp_context=multiprocessing.get_context(method), initializer=_worker_init
        ) as pool:
            for result in pool.map(_fit_segment, tasks, chunksize=max(1, len(tasks) // (4 * n_jobs))):
                results.append(result)
                say(f"segment {result.segment} done")
    else:
        for task in tasks:
            results.append(_fit_segment(task))
            say(f"segment {task.segment} done")
    return results


def collect_segment_models(
    model: TrainedModel, data: TrainingRows, results: list[SegmentResult]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Store the pooled and per-segment models; return validation residuals of LASSO and network."""
    settings = model.settings
    design, target, is_fit = data.design, data.target, data.is_fit
    level_index = model.network_spec.level_index
    positive_only = settings.lasso.positive_rows_only
    fit_px, fit_py = lasso_rows(design.features[is_fit], target[is_fit], level_index, positive_only)
    pooled_before_refit = fit_lasso(fit_px, fit_py, settings.lasso, settings.train.seed)
    if settings.ensemble.refit:
        model.lasso[POOLED] = fit_lasso(
            *lasso_rows(design.features, target, level_index, positive_only),
            settings.lasso,
            settings.train.seed,
        )
    else:
        model.lasso[POOLED] = pooled_before_refit
    for result in results:
        if result.lasso is not None:
            model.lasso[result.segment] = result.lasso
        if result.network is not None:
            model.networks[result.segment] = result.network

    val_lasso = np.zeros(int((~is_fit).sum()))
    val_nn = np.zeros(int((~is_fit).sum()))
    val_rows = data.rows[~is_fit].reset_index(drop=True)
    for result in results:
        seg_mask = (val_rows["segment"] == result.segment).to_numpy()
        val_lasso[seg_mask] = (
            result.lasso_val
            if result.lasso is not None
            else pooled_before_refit.predict(design.features[~is_fit][seg_mask])
        )
        if result.network_val is not None:
            val_nn[seg_mask] = result.network_val
    return val_lasso, val_nn
