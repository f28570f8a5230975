"""The shared embedding networks: `nn.seeds` members trained on every segment's rows, data-parallel over
the workers (`torch.nn.parallel.DistributedDataParallel`), each worker streaming its own rows from its
shard on local disk a window at a time.

Every worker runs the same number of optimiser steps per epoch, ceil(all workers' rows / batch_size),
each on its share of the batch (its rows split into that many parts), so no worker waits on a
collective another never reaches (DDP's all-reduce runs in every backward; uneven step counts
deadlock: https://docs.pytorch.org/tutorials/advanced/generic_join.html). A worker's loss is scaled by
world_size x its rows / all rows, so DDP's mean over workers of the gradients is the gradient of the
mean loss over all rows. A worker with no rows in a step (more steps than rows) steps on a zero loss
of one dummy row, which still joins the all-reduce. In a world of one this is plain minibatch
training over the worker's rows.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import torch

from demand_forecast import distributed
from demand_forecast.models import (
    EmbeddingNet,
    EpochSelection,
    NetworkSpec,
    network_loss,
    pick_device,
    predict_network,
)
from demand_forecast.settings import NNSettings
from demand_forecast.training.model import TrainedModel
from demand_forecast.training.segment_models import Progress
from demand_forecast.training.segments import SHARED
from demand_forecast.training.shards import WINDOW_ROWS, Shard

Standardisation = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int]


def standardisation(fit: Shard) -> Standardisation:
    """Mean and standard deviation of each feature over every worker's fit rows, and their count.

    Each worker sends its count, sum and sum of squares (float64) per feature; the network's input
    scaling is then the same on every worker, as if one process had seen all rows."""
    total = np.zeros(fit.width)
    squares = np.zeros(fit.width)
    for _, features, _, _ in fit.windows():
        values = features.astype(np.float64)
        total += values.sum(axis=0)
        squares += (values**2).sum(axis=0)
    parts = distributed.all_gather((fit.rows, total, squares))
    count = sum(part[0] for part in parts)
    mean = sum(part[1] for part in parts) / max(count, 1)
    variance = sum(part[2] for part in parts) / max(count, 1) - mean**2
    return np.asarray(mean), np.sqrt(np.clip(variance, 0.0, None)), count


def _network(spec: NetworkSpec, settings: NNSettings, scaling: Standardisation, seed: int) -> EmbeddingNet:
    torch.manual_seed(seed)
    net = spec.build(settings)
    mean, scale, _ = scaling
    net.numeric_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
    net.numeric_scale.copy_(torch.as_tensor(np.where(scale > 1e-6, scale, 1.0), dtype=torch.float32))
    return net


def _wrap(net: EmbeddingNet, device: torch.device) -> torch.nn.Module:
    world = distributed.world()
    if world.world_size == 1:
        return net
    from torch.nn.parallel import DistributedDataParallel

    # broadcast_buffers=False: DDP would otherwise broadcast the buffers (the input standardisation,
    # identical on every rank and never changed by training: no batch norm) before every forward, one
    # more collective per step (https://docs.pytorch.org/docs/stable/generated/torch.nn.parallel.DistributedDataParallel.html).
    return DistributedDataParallel(
        net, device_ids=[world.local_rank] if device.type == "cuda" else None, broadcast_buffers=False
    )


def validation_loss(net: EmbeddingNet, val: Shard, settings: NNSettings, spec: NetworkSpec) -> float:
    """`network_loss` over every worker's validation rows: each window's loss weighted by its rows (the
    same as one loss over all rows when they fit one window, as on the sample; a row-weighted mean of
    window losses above)."""
    device = next(net.parameters()).device
    total, count = 0.0, 0
    net.eval()
    with torch.no_grad():
        for _, features, codes, target in val.windows():
            cats, nums, ys, _ = _batch(codes, features, target, device, spec)
            loss = network_loss(settings, net(cats, nums), ys, nums[:, spec.level_index])
            total += float(loss) * len(target)
            count += len(target)
    net.train()
    parts = distributed.all_gather((total, count))
    return sum(part[0] for part in parts) / max(1, sum(part[1] for part in parts))


def fit_streamed(
    fit: Shard,
    spec: NetworkSpec,
    settings: NNSettings,
    seed: int,
    scaling: Standardisation,
    val: Shard | None = None,
) -> dict[str, torch.Tensor]:
    """Train one shared network over every worker's fit rows; its state dict (the same on every worker).

    With `val` and `nn.select_epoch`, the state of the epoch with the lowest validation loss over every
    worker's validation rows (`models.fit_network`'s rule; every worker sees the same loss, so keeps
    the same epoch)."""
    device = pick_device(settings.device)
    net = _network(spec, settings, scaling, seed)
    net.to(device)
    model = _wrap(net, device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    steps = max(1, math.ceil(scaling[2] / settings.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.learning_rate, total_steps=settings.epochs * steps
    )
    world = distributed.world()
    weight = world.world_size * fit.rows / max(scaling[2], 1)
    generator = torch.Generator(device="cpu").manual_seed(seed + 7919 * world.rank)
    per_window = max(1, WINDOW_ROWS // max(1, math.ceil(fit.rows / steps)))
    held = val is not None and settings.select_epoch and sum(distributed.all_gather(val.rows)) > 0
    best = EpochSelection(settings.average_epochs)
    model.train()
    for _ in range(settings.epochs):
        parts = np.array_split(torch.randperm(fit.rows, generator=generator).numpy(), steps)
        for first in range(0, steps, per_window):
            group = parts[first : first + per_window]
            features, codes, target = fit.take(np.concatenate(group).astype(np.int64))
            start = 0
            for part in group:
                stop = start + len(part)
                batch = _batch(codes[start:stop], features[start:stop], target[start:stop], device, spec)
                _step(model, optimizer, batch, settings, spec.level_index, weight)
                scheduler.step()
                start = stop
        if held and val is not None:
            best.offer(net, validation_loss(net, val, settings, spec))
    return best.final_state(net)


def _batch(
    codes: npt.NDArray[np.int64],
    features: npt.NDArray[np.float32],
    target: npt.NDArray[np.float64],
    device: torch.device,
    spec: NetworkSpec,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool]:
    """The step's rows on the device, and whether there are any. Without rows (more steps than this
    worker has rows) one dummy row of zeros: its loss, multiplied by 0, still runs the forward and the
    all-reduce every other worker is waiting for."""
    real = bool(len(target))
    if not real:
        codes = np.zeros((1, len(spec.cardinalities)), dtype=np.int64)
        features = np.zeros((1, spec.n_numeric), dtype=np.float32)
        target = np.zeros(1)
    return (
        torch.as_tensor(codes, dtype=torch.long, device=device),
        torch.as_tensor(features, dtype=torch.float32, device=device),
        torch.as_tensor(target, dtype=torch.float32, device=device),
        real,
    )


def _step(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batch: tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool],
    settings: NNSettings,
    level_index: int,
    weight: float,
) -> None:
    cats, nums, target, real = batch
    optimizer.zero_grad(set_to_none=True)
    loss = network_loss(settings, model(cats, nums), target, nums[:, level_index]) * (weight if real else 0.0)
    loss.backward()  # type: ignore[no-untyped-call]
    optimizer.step()


def predict_streamed(
    state: dict[str, torch.Tensor], spec: NetworkSpec, settings: NNSettings, rows: Shard
) -> npt.NDArray[np.float64]:
    """The network's residual for every row of `rows`, in order, a window at a time."""
    out = [np.zeros(0)]
    for _, features, codes, _ in rows.windows():
        out.append(predict_network(state, spec, settings, codes, features))
    return np.concatenate(out)


def fit_shared_networks(
    model: TrainedModel, fit: Shard, val: Shard, say: Progress
) -> npt.NDArray[np.float64]:
    """Train `nn.seeds` shared embedding networks over every worker's fit rows (stored in `model`);
    return their mean residual on this worker's validation rows (`val`'s order)."""
    settings = model.settings
    torch.set_num_threads(settings.nn.threads)
    scaling = standardisation(fit)
    members = []
    for member in range(settings.nn.seeds):
        say(
            f"training shared embedding network {member + 1}/{settings.nn.seeds} "
            f"({settings.nn.epochs} epochs)"
        )
        state = fit_streamed(
            fit, model.network_spec, settings.nn, settings.train.seed + 1000 * member, scaling, val
        )
        members.append(predict_streamed(state, model.network_spec, settings.nn, val))
        model.networks[SHARED if member == 0 else f"{SHARED}{member}"] = state
    return np.asarray(np.mean(members, axis=0), dtype=np.float64)
