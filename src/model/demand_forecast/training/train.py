"""`train_model`: the training steps in order, from tables to a model in memory, as one distributed job.

Each worker (`demand_forecast.distributed`; a world of one without torchrun) takes its regions
(`distributed.assign` on the regions' series counts) and, one region after another, builds the
region's features and fits its segments' LASSO and baseline; the rows the shared network needs go to
the worker's shards on local disk. The global quantities come from small per-worker summaries
(`training.regions`), the pooled LASSO and the drift reference from bounded row samples, the shared
embedding networks from DistributedDataParallel over every worker's shard (`training.shared_network`).
Rank 0 assembles the model from the workers' small results: validation residuals, segment models,
counts. A region that fails is recorded (`partitions.json`, contract 2 of docs/scale.md) and its
segments left out, unless failed regions exceed `distributed.max_failed_share` of all regions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from demand_forecast import distributed
from demand_forecast.contracts import Partition, Partitions
from demand_forecast.dataset import Tables
from demand_forecast.errors import FailedPartitionsError, UsageError
from demand_forecast.models import LinearModel, NetworkSpec, fit_lasso
from demand_forecast.settings import Settings
from demand_forecast.training.description import describe
from demand_forecast.training.design import reference_bins
from demand_forecast.training.ensemble import fit_ensemble
from demand_forecast.training.model import TrainedModel
from demand_forecast.training.region_training import (
    RegionResult,
    Shards,
    failed,
    network_spec,
    train_region,
)
from demand_forecast.training.regions import (
    GlobalFrame,
    RegionSource,
    TablesInMemory,
    global_frame,
    my_regions,
)
from demand_forecast.training.segments import POOLED
from demand_forecast.training.shards import Shard, scratch_folder
from demand_forecast.training.shared_network import fit_shared_networks

Progress = Callable[[str], None]
# What each worker sends rank 0: its regions' results, its validation rows' network residuals, its
# sample of training rows for the drift reference, its series (labelled).
WorkerPart = tuple[list[RegionResult], npt.NDArray[np.float64], npt.NDArray[np.float32], pd.DataFrame]
# Rows of the bounded samples that rank 0 fits the pooled LASSO and the drift reference on. Below
# them (the sample panel: ~30,000 LASSO rows) every row is used, exactly as one process did.
POOLED_LASSO_ROWS = 250_000
REFERENCE_ROWS = 100_000


@dataclass
class TrainingOutcome:
    """The model (rank 0 only; None on the other workers) and the partitions record (contract 2)."""

    model: TrainedModel | None
    partitions: Partitions
    content: str = ""  # hash of every trained region's tables (rank 0): the data part of the version


def train_model(tables: Tables, settings: Settings, progress: Progress | None = None) -> TrainedModel:
    """Fit every segment's models on the weeks before the holdout; the model in memory (a world of one,
    or rank 0 of the job's world)."""
    outcome = train_distributed(TablesInMemory(tables), settings, progress)
    if outcome.model is None:
        raise UsageError("train_model returns the model on rank 0 only; call train_distributed on workers")
    return outcome.model


def _skeleton(settings: Settings, frame: GlobalFrame) -> TrainedModel:
    return TrainedModel(
        info={},
        settings=settings,
        spec=frame.spec,
        feature_names=(),
        vocab=frame.vocab,
        series=frame.series,
        velocity_threshold=frame.velocity_threshold,
        lasso={},
        network_spec=NetworkSpec([], 0, 0),
        networks={},
        weights={},
        offsets={},
        reference={},
    )


def _train_regions(
    regions: list[str],
    source: RegionSource,
    frame: GlobalFrame,
    model: TrainedModel,
    shards: Shards,
    say: Progress,
) -> list[RegionResult]:
    results = []
    for number, (region, tables) in enumerate(source.regions(regions), start=1):
        say(f"region {region} ({number}/{len(regions)}) on worker {distributed.world().rank}")
        try:
            results.append(train_region(region, tables, frame, model, shards))
        except (ValueError, KeyError, IndexError, ArithmeticError, RuntimeError, MemoryError) as exc:
            # Recorded, not raised: the rule below decides whether the run goes on without the region.
            results.append(failed(region, exc))
    return results


def _partitions(results: list[RegionResult], counts: dict[str, int], settings: Settings) -> Partitions:
    """Every worker's regions with status, error and segments; raises FailedPartitionsError on every
    worker alike when the failed share exceeds `distributed.max_failed_share`."""
    world = distributed.world()
    mine = {
        r.region: Partition(rank=world.rank, status=r.status, error=r.error, segments=r.segments)
        for r in results
    }
    merged: dict[str, Partition] = {}
    for part in distributed.all_gather(mine):
        merged.update(part)
    record = Partitions(version=1, world_size=world.world_size, partitions=dict(sorted(merged.items())))
    failures = record.failed()
    limit = settings.distributed.max_failed_share
    share = len(failures) / max(len(counts), 1)
    if failures and (share > limit or len(failures) == len(counts)):
        listed = "; ".join(f"{region}: {error}" for region, error in sorted(failures.items()))
        raise FailedPartitionsError(
            f"{len(failures)} of {len(counts)} regions failed in training (share {share:.3f}, "
            f"distributed.max_failed_share {limit}): {listed}. No model was written; fix the cause named "
            "for each region, or raise distributed.max_failed_share to train without them",
            {region: error or "" for region, error in failures.items()},
            len(counts),
        )
    return record


def _sample(shard: Shard, limit: int) -> npt.NDArray[np.int64]:
    """Evenly spaced rows of `shard`, this worker's share of `limit` rows over all workers (all rows
    when every worker's rows together fit)."""
    total = sum(distributed.all_gather(shard.rows))
    if total <= limit:
        return np.arange(shard.rows, dtype=np.int64)
    quota = int(limit * shard.rows / total)
    return (
        np.unique(np.linspace(0, shard.rows - 1, quota).round().astype(np.int64))
        if quota
        else np.zeros(0, np.int64)
    )


def _pooled_lasso(shards: Shards, settings: Settings) -> tuple[LinearModel, LinearModel]:
    """The pooled LASSO fitted before and after refit (the same without `ensemble.refit`), on rank 0
    over every worker's sampled rows in one process's row order (week, store, product), then sent to all."""
    features, keys, target = shards.pool.take(_sample(shards.pool, POOLED_LASSO_ROWS))
    parts = distributed.gather_to_rank0((features, keys, target))
    fitted = None
    if parts is not None:
        x = np.concatenate([p[0] for p in parts])
        k = np.concatenate([p[1] for p in parts])
        y = np.concatenate([p[2] for p in parts])
        order = np.lexsort((k[:, 2], k[:, 1], k[:, 0]))
        x, k, y = x[order], k[order], y[order]
        fit = k[:, 3] == 1
        before = fit_lasso(x[fit], y[fit], settings.lasso, settings.train.seed)
        fitted = (
            before,
            fit_lasso(x, y, settings.lasso, settings.train.seed) if settings.ensemble.refit else before,
        )
    chosen = distributed.all_gather(fitted)[0]
    assert chosen is not None  # rank 0 always fits
    return chosen


def _fill_pooled(results: list[RegionResult], val: Shard, pooled: LinearModel) -> None:
    """Validation residuals of the segments without their own LASSO: the pooled one's."""
    start = 0
    for result in results:
        if result.val_lasso is None:
            continue
        missing = np.flatnonzero(np.isnan(result.val_lasso))
        if len(missing):
            features, _, _ = val.take(start + missing)
            result.val_lasso[missing] = pooled.predict(features)
        start += len(result.val_lasso)


def _reference_sample(shards: Shards) -> npt.NDArray[np.float32]:
    """This worker's part of the drift reference's rows: fit and validation rows in the proportion of
    all workers' (every row when they total at most REFERENCE_ROWS)."""
    totals = distributed.all_gather((shards.fit.rows, shards.val.rows))
    fit_rows = sum(t[0] for t in totals)
    fit_limit = REFERENCE_ROWS * fit_rows // max(1, fit_rows + sum(t[1] for t in totals))
    fit = shards.fit.take(_sample(shards.fit, fit_limit))[0]
    val = shards.val.take(_sample(shards.val, REFERENCE_ROWS - fit_limit))[0]
    return np.concatenate([fit, val])


def train_distributed(
    source: RegionSource, settings: Settings, progress: Progress | None = None
) -> TrainingOutcome:
    """This worker's part of the job; on rank 0, the assembled model. Raises FailedPartitionsError (above
    the failed share), UsageError (a panel too short; `ensemble.refit` with a shared network)."""
    say = progress or (lambda message: None)
    if settings.ensemble.refit and settings.nn.sharing != "per_segment":
        raise UsageError(
            "ensemble.refit with a shared network is not supported by the distributed trainer; set "
            "ensemble.refit: false (the default, measured no better on the sample)"
        )
    world = distributed.world()
    counts, regions = my_regions(source, world)
    frame = global_frame(source, regions, settings)
    model = _skeleton(settings, frame)
    with scratch_folder() as scratch:
        shards = Shards(
            Shard(Path(scratch, "fit")), Shard(Path(scratch, "val")), Shard(Path(scratch, "pool"))
        )
        results = _train_regions(regions, source, frame, model, shards, say)
        partitions = _partitions(results, counts, settings)
        trained = [r for r in results if r.status == "trained"]
        _agree_on_shape(model, frame, shards)
        pooled_before, pooled = _pooled_lasso(shards, settings)
        _fill_pooled(trained, shards.val, pooled_before)
        if settings.nn.sharing != "per_segment":
            val_nn = fit_shared_networks(model, shards.fit, shards.val, say)
        else:
            val_nn = np.concatenate([np.zeros(0), *(r.val_nn for r in trained if r.val_nn is not None)])
        reference = _reference_sample(shards)
    parts = distributed.gather_to_rank0((trained, val_nn, reference, frame.series))
    if parts is None:
        return TrainingOutcome(None, partitions)
    model.lasso[POOLED] = pooled
    _assemble(model, frame, parts)
    return TrainingOutcome(model, partitions, _content(parts))


def _content(parts: list[WorkerPart]) -> str:
    """One hash of the trained regions' content hashes, in region order (whatever worker had them), and
    of the number of workers (which draw the shared network's batches: another count, another model)."""
    digest = hashlib.sha256(f"world_size={len(parts)}|".encode())
    for region, content in sorted((r.region, r.content) for part in parts for r in part[0]):
        digest.update(f"{region}:{content}|".encode())
    return digest.hexdigest()


def _agree_on_shape(model: TrainedModel, frame: GlobalFrame, shards: Shards) -> None:
    """Feature names (the same from every region: they follow the spec) on every worker, also on one
    that trained nothing; its empty shards get the rows' shape."""
    names = next(n for n in distributed.all_gather(model.feature_names or None) if n)
    model.feature_names = tuple(names)
    model.network_spec = network_spec(frame.vocab, model.feature_names)
    for shard, n_codes in ((shards.fit, len(frame.vocab)), (shards.val, len(frame.vocab)), (shards.pool, 4)):
        if shard.width < 0:
            shard.shape(len(names), n_codes)


def _assemble(model: TrainedModel, frame: GlobalFrame, parts: list[WorkerPart]) -> None:
    """Rank 0: the model from every worker's results (segment models, validation residuals, samples)."""
    results = [result for part in parts for result in part[0]]
    trained = {result.region for result in results}
    series = pd.concat([part[3] for part in parts], ignore_index=True)
    model.series = (
        series[series["region"].isin(trained)].sort_values(["store_id", "product_id"]).reset_index(drop=True)
    )
    for result in results:
        model.lasso.update(result.lasso)
        model.networks.update(result.networks)
    val_rows = pd.concat([r.val_rows for r in results if r.val_rows is not None], ignore_index=True)
    val_lasso = np.concatenate([np.zeros(0), *(r.val_lasso for r in results if r.val_lasso is not None)])
    val_nn = np.concatenate([part[1] for part in parts])
    rows_per_segment = {s: n for r in results for s, n in r.rows_per_segment.items()}
    validation = fit_ensemble(model, val_rows, val_lasso, val_nn, sorted(rows_per_segment))
    reference = np.concatenate([part[2] for part in parts])
    model.reference = reference_bins(reference, model.feature_names, model.settings.monitor.psi_bins)
    model.info = describe(model, frame.weeks, rows_per_segment, validation)
