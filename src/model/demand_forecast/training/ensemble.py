"""Ensembling and calibration on the validation window: log-space offsets and LASSO weights per
segment, velocity pool and pooled."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pandas as pd

from demand_forecast.metrics import mape
from demand_forecast.training.model import TrainedModel
from demand_forecast.training.segments import POOLED, lookup, velocity_pool

OFFSET_GRID = np.round(np.arange(-1.0, 0.5001, 0.05), 4)


def fit_weight(
    actual: npt.NDArray[np.float64],
    level: npt.NDArray[np.float64],
    lasso_r: npt.NDArray[np.float64],
    nn_r: npt.NDArray[np.float64],
    step: float,
) -> float:
    """LASSO weight in [0, 1] that minimises validation MAPE of the log-space blend."""
    best_weight, best_score = 0.5, float("inf")
    for weight in np.round(np.arange(0.0, 1.0 + 1e-9, step), 6):
        forecast = np.clip(np.expm1(level + weight * lasso_r + (1 - weight) * nn_r), 0, None)
        score = mape(actual, forecast)
        # Prefer the equal blend on ties: it is the more robust choice on a short window.
        if score is not None and (
            score < best_score - 1e-9 or (abs(score - best_score) <= 1e-9 and weight == 0.5)
        ):
            best_weight, best_score = float(weight), score
    return best_weight


def median_offset(
    actual: npt.NDArray[np.float64], level: npt.NDArray[np.float64], residual: npt.NDArray[np.float64]
) -> float:
    """Log-space shift that makes the forecast the median of the actuals around it: the median of
    log1p(actual) - (level + residual) over every row (zeros included); 0 with no rows."""
    if not len(actual):
        return 0.0
    return float(np.median(np.log1p(actual) - (level + residual)))


def best_offset(
    actual: npt.NDArray[np.float64], level: npt.NDArray[np.float64], residual: npt.NDArray[np.float64]
) -> float:
    """Log-space shift of a model's forecasts that minimises MAPE (ties go to the smaller shift)."""
    best, best_score = 0.0, float("inf")
    for offset in sorted(OFFSET_GRID, key=abs):
        score = mape(actual, np.clip(np.expm1(level + residual + offset), 0, None))
        if score is not None and score < best_score - 1e-9:
            best, best_score = float(offset), score
    return best


def calibrate_offsets(
    segments: npt.NDArray[np.object_],
    actual: npt.NDArray[np.float64],
    level: npt.NDArray[np.float64],
    lasso_r: npt.NDArray[np.float64],
    nn_r: npt.NDArray[np.float64],
    min_rows: int,
) -> dict[str, dict[str, float]]:
    """Offsets for all rows, for each velocity pool, and for each segment, where the group has
    `min_rows` non-zero validation actuals (smaller groups fall back to the next larger one)."""

    def fitted(mask: npt.NDArray[np.bool_]) -> dict[str, float]:
        a, lv, lr, nr = actual[mask], level[mask], lasso_r[mask], nn_r[mask]
        return {
            "lasso": best_offset(a, lv, lr),
            "nn": best_offset(a, lv, nr),
            "lasso_median": median_offset(a, lv, lr),
            "nn_median": median_offset(a, lv, nr),
        }

    offsets = {POOLED: fitted(np.ones(len(actual), dtype=bool))}
    pools = np.array([velocity_pool(str(segment)) for segment in segments], dtype=object)
    for group_keys in (pools, segments):
        for key in pd.unique(group_keys):
            mask = group_keys == key
            if int((actual[mask] > 0).sum()) >= min_rows:
                offsets[str(key)] = fitted(mask)
    return offsets


def segment_weight(
    model: TrainedModel,
    segment: str,
    seg_mask: npt.NDArray[np.bool_],
    validation: tuple[npt.NDArray[np.float64], ...],
    pooled_weight: float,
) -> float:
    """A segment's LASSO weight: equal, its pool's (too few validation actuals) or its own fitted one."""
    settings = model.settings
    val_actual, val_level, val_lasso, val_nn = validation
    has_nn = settings.nn.sharing != "per_segment" or segment in model.networks
    if not has_nn:
        return 1.0
    if settings.ensemble.weights == "equal" or not seg_mask.any():
        return 0.5
    if int((val_actual[seg_mask] > 0).sum()) < settings.ensemble.min_segment_rows:
        # Too few validation weeks to trust a segment's own weight: use its pool's.
        return float(lookup(model.weights, segment, pooled_weight))
    return fit_weight(
        val_actual[seg_mask],
        val_level[seg_mask],
        val_lasso[seg_mask],
        val_nn[seg_mask],
        settings.ensemble.weight_grid_step,
    )


def fit_ensemble(
    model: TrainedModel,
    val_rows: pd.DataFrame,
    val_lasso: npt.NDArray[np.float64],
    val_nn: npt.NDArray[np.float64],
    segments: list[str],
) -> dict[str, float | None]:
    """Offsets and LASSO weights (pooled, per velocity pool, per segment) fitted on the validation
    window; returns the validation MAPE of each model (`validation_mape_<model>`)."""
    settings = model.settings
    # In the model's unit, as its forecasts expm1(level + r) are (MAPE is the same in any unit).
    val_actual = val_rows["units"].to_numpy() / model.spec.unit_scale
    val_level = val_rows["level"].to_numpy()
    val_segments = val_rows["segment"].to_numpy()
    if settings.ensemble.calibrate:
        model.offsets = calibrate_offsets(
            val_segments, val_actual, val_level, val_lasso, val_nn, settings.ensemble.min_segment_rows
        )
        for segment in pd.unique(val_segments):
            mask = val_segments == segment
            offset = lookup(model.offsets, str(segment), {})
            suffix = "" if settings.ensemble.point == "mape" else "_median"
            val_lasso[mask] += offset.get(f"lasso{suffix}", 0.0)
            val_nn[mask] += offset.get(f"nn{suffix}", 0.0)
    step = settings.ensemble.weight_grid_step
    pooled_weight = fit_weight(val_actual, val_level, val_lasso, val_nn, step) if len(val_actual) else 0.5
    model.weights[POOLED] = pooled_weight
    val_pools = np.array([velocity_pool(str(segment)) for segment in val_segments], dtype=object)
    for pool in pd.unique(val_pools):
        mask = val_pools == pool
        if int((val_actual[mask] > 0).sum()) >= settings.ensemble.min_segment_rows:
            model.weights[str(pool)] = fit_weight(
                val_actual[mask], val_level[mask], val_lasso[mask], val_nn[mask], step
            )
    validation_arrays = (val_actual, val_level, val_lasso, val_nn)
    for segment in segments:
        seg_mask = (val_rows["segment"] == segment).to_numpy()
        model.weights[segment] = segment_weight(model, segment, seg_mask, validation_arrays, pooled_weight)
    blend_weight = np.array([model.weights[s] for s in val_rows["segment"]])
    validation: dict[str, float | None] = {}
    for name, residual in (
        ("lasso", val_lasso),
        ("nn", val_nn),
        ("ensemble", blend_weight * val_lasso + (1 - blend_weight) * val_nn),
    ):
        validation[f"validation_mape_{name}"] = mape(
            val_actual, np.clip(np.expm1(val_level + residual), 0, None)
        )
    validation["validation_mape_baseline"] = mape(
        val_rows["units"].to_numpy(), val_rows["baseline"].to_numpy()
    )
    return validation
