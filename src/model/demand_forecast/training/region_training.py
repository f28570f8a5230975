"""One region on one worker: its panel, features, per-segment LASSO (and per-segment networks) and
baseline, fitted while only that region's design is in memory; the rows the shared network and the
pooled LASSO need go to the worker's shards on local disk, and what the model keeps is returned small.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch

from demand_forecast.dataset import Tables
from demand_forecast.features import CATEGORICALS, build_panel, compute_features
from demand_forecast.models import LinearModel, NetworkSpec
from demand_forecast.settings import Settings
from demand_forecast.training.design import TrainingRows, training_design
from demand_forecast.training.model import TrainedModel
from demand_forecast.training.provenance import content_hash
from demand_forecast.training.regions import GlobalFrame
from demand_forecast.training.segment_models import SegmentResult, fit_segment, segment_tasks
from demand_forecast.training.shards import Shard

# A test seam (issue 20 item 3): regions named here (comma-separated) fail in training on purpose, so
# the failed-partition rule can be exercised end to end through the CLI and torchrun. Never set in a stack.
FAULT_REGIONS_VARIABLE = "DEMAND_FORECAST_FAULT_REGIONS"
# Columns of the pooled-LASSO shard's keys: the row's week (days since 1970), store and product codes
# (their order in the sorted vocabularies), and whether it is a fit (not validation) row.
POOL_KEYS = 4


@dataclass
class Shards:
    """A worker's shards: fit rows and validation rows of the shared network, the pooled LASSO's rows."""

    fit: Shard
    val: Shard
    pool: Shard


@dataclass
class RegionResult:
    """What the model keeps of one region (small: models, validation residuals, counts)."""

    region: str
    status: Literal["trained", "failed"] = "trained"
    error: str | None = None
    content: str = ""  # `provenance.content_hash` of the region's tables
    segments: list[str] = field(default_factory=list)
    lasso: dict[str, LinearModel] = field(default_factory=dict)
    networks: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    rows_per_segment: dict[str, int] = field(default_factory=dict)
    # The region's validation rows (units, level, segment, baseline), in its val shard's order, with
    # the LASSO residual (NaN where the segment uses the pooled LASSO) and the per-segment network's.
    val_rows: pd.DataFrame | None = None
    val_lasso: npt.NDArray[np.float64] | None = None
    val_nn: npt.NDArray[np.float64] | None = None


def network_spec(vocab: dict[str, list[str]], names: tuple[str, ...]) -> NetworkSpec:
    return NetworkSpec([len(vocab[c]) for c in CATEGORICALS], len(names), names.index("level"))


def _fault(region: str) -> None:
    if region in os.environ.get(FAULT_REGIONS_VARIABLE, "").split(","):
        raise RuntimeError(f"fault injected into region {region} ({FAULT_REGIONS_VARIABLE})")


def region_rows(tables: Tables, frame: GlobalFrame, model: TrainedModel, settings: Settings) -> TrainingRows:
    """The region's training rows (`design.training_design` on the region's panel, on the global week
    grid and spec), encoded with the global vocabularies; sets the model's feature names and network
    shape on the first region."""
    panel = build_panel(tables, frame.spec, until_week=frame.weeks[-1])
    feats, level, baseline = compute_features(panel, frame.spec)
    keys = ["store_id", "product_id"]
    series = panel.series[keys].merge(frame.series, on=keys, how="left")
    holdout_idx = panel.week_index(frame.holdout_start)
    design, rows, target, t_idx = training_design(
        panel, feats, level, baseline, series, holdout_idx, settings, frame.spec.unit_scale
    )
    del feats
    if not model.feature_names:
        model.feature_names = design.feature_names
        model.network_spec = network_spec(frame.vocab, design.feature_names)
    codes = model.encode(rows, rows["segment"].to_numpy(dtype=object))
    is_fit = t_idx < panel.week_index(frame.validation_start)
    return TrainingRows(design, rows, target, is_fit, codes)


def _pool_rows(data: TrainingRows, level_index: int, positive_only: bool, shards: Shards) -> None:
    """Append the rows the pooled LASSO learns from (`segment_models.lasso_rows`) with their keys."""
    features, target = data.design.features, data.target
    keep = (target + features[:, level_index]) > 1e-9 if positive_only else np.ones(len(target), dtype=bool)
    weeks = data.rows["week_start"].to_numpy(dtype="datetime64[D]").astype(np.int64)
    keys = np.column_stack([weeks, data.codes[:, 0], data.codes[:, 1], data.is_fit.astype(np.int64)])
    shards.pool.append(features[keep], keys[keep], target[keep])


def train_region(
    region: str, tables: Tables, frame: GlobalFrame, model: TrainedModel, shards: Shards
) -> RegionResult:
    """Fit the segments of region `region` (its `tables`) one after another; append its rows to the
    shards; return what the model keeps. Raises whatever the region's data or fitting raises (the
    caller records it)."""
    settings = model.settings
    _fault(region)
    content = content_hash(tables)
    data = region_rows(tables, frame, model, settings)
    del tables
    segments = sorted(map(str, pd.unique(data.rows["segment"])))
    results = [fit_segment(task) for task in segment_tasks(model, data, segments)]
    is_fit = data.is_fit
    features, codes, target = data.design.features, data.codes, data.target
    shards.fit.append(features[is_fit], codes[is_fit], target[is_fit])
    shards.val.append(features[~is_fit], codes[~is_fit], target[~is_fit])
    _pool_rows(data, model.network_spec.level_index, settings.lasso.positive_rows_only, shards)
    out = _result(region, data, segments, results)
    out.content = content
    return out


def _result(
    region: str, data: TrainingRows, segments: list[str], results: list[SegmentResult]
) -> RegionResult:
    val_rows = data.rows.loc[~data.is_fit, ["units", "level", "segment", "baseline"]].reset_index(drop=True)
    val_lasso = np.full(len(val_rows), np.nan)
    val_nn = np.zeros(len(val_rows))
    out = RegionResult(region, segments=segments, val_rows=val_rows, val_lasso=val_lasso, val_nn=val_nn)
    counts = data.rows["segment"].value_counts()
    out.rows_per_segment = {segment: int(counts[segment]) for segment in segments}
    for result in results:
        mask = (val_rows["segment"] == result.segment).to_numpy()
        if result.lasso is not None:
            out.lasso[result.segment] = result.lasso
            val_lasso[mask] = result.lasso_val
        if result.network is not None:
            out.networks[result.segment] = result.network
        if result.network_val is not None:
            val_nn[mask] = result.network_val
    return out


def failed(region: str, exc: BaseException) -> RegionResult:
    return RegionResult(region, status="failed", error=f"{type(exc).__name__}: {exc}")
