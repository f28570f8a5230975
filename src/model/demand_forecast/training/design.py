"""The training rows: the design matrix of every observed week before the holdout, its target, and the
drift reference of its features."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from demand_forecast.features import (
    Design,
    FloatArray,
    Panel,
    design_rows,
    observed_rows,
)
from demand_forecast.settings import Settings
from demand_forecast.training.model import IntVector


@dataclass(frozen=True)
class TrainingRows:
    """The observed (series, week) rows before the holdout, time-ordered, with their design.

    `target` is log1p(units) - level (the residual every model learns); `is_fit` marks the rows
    before the validation window (the rest fit the ensemble weights and offsets)."""

    design: Design
    rows: pd.DataFrame  # design.rows plus `segment`
    target: npt.NDArray[np.float64]
    is_fit: npt.NDArray[np.bool_]
    codes: IntVector


def training_design(
    panel: Panel,
    feats: dict[str, npt.NDArray[np.float32]],
    level: FloatArray,
    baseline: FloatArray,
    series: pd.DataFrame,
    holdout_idx: int,
    settings: Settings,
    unit: float,
) -> tuple[Design, pd.DataFrame, npt.NDArray[np.float64], IntVector]:
    """Design rows of every observed week before the holdout with enough history, time-ordered."""
    s_idx, t_idx = observed_rows(panel, level)
    history_count = np.cumsum(~np.isnan(panel.units), axis=1)
    enough_history = history_count[s_idx, np.maximum(t_idx - 1, 0)] >= settings.train.min_history_weeks
    keep = (t_idx < holdout_idx) & enough_history
    s_idx, t_idx = s_idx[keep], t_idx[keep]
    order = np.argsort(t_idx, kind="stable")  # time-ordered rows for time-series CV
    s_idx, t_idx = s_idx[order], t_idx[order]
    design = design_rows(panel, feats, level, baseline, s_idx, t_idx)
    rows = design.rows
    rows["segment"] = series["segment"].to_numpy()[s_idx]
    target = np.log1p(rows["units"].to_numpy() / unit) - rows["level"].to_numpy()
    return design, rows, target, t_idx


def reference_bins(
    features: npt.NDArray[np.float32], names: tuple[str, ...], bins: int
) -> dict[str, dict[str, list[float]]]:
    """Quantile bin edges and shares of each feature on training rows: the baseline for drift (PSI)."""
    reference: dict[str, dict[str, list[float]]] = {}
    for j, name in enumerate(names):
        column = features[:, j].astype(np.float64)
        edges = np.unique(np.quantile(column, np.linspace(0, 1, bins + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(edges, column, side="right"), minlength=len(edges) + 1)
        reference[name] = {"edges": edges.tolist(), "shares": (counts / max(len(column), 1)).tolist()}
    return reference
