"""Training: segments, per-segment LASSO, the embedding network, ensemble weights, as one distributed
job (issue 20: each worker its regions, one after another; rank 0 assembles the model).

One module per reason to change:

- `segments`: each series' segment, its fallback pools, and the fit / validation / holdout weeks
- `design`: the training rows (design matrix, target) and the drift reference of their features
- `segment_models`: each segment's LASSO (and per-segment network)
- `regions`: a worker's regions (from tables in memory) and the global quantities every worker agrees on
- `region_training`: one region's rows, segments and shard rows on one worker
- `shards`: a worker's training rows on local disk, streamed back a window at a time
- `shared_network`: the shared embedding networks, data-parallel (DDP) over the workers' shards
- `ensemble`: log-space calibration offsets and LASSO weights on the validation window
- `description`: the model's `model_info.json` content
- `model`: the trained model, its forecasts and its folder (`save`/`load`)
- `provenance`: the content hashes a model version is derived from
- `train`: `train_distributed` / `train_model`, the steps above in order, and `partitions.json`
"""

from __future__ import annotations

from demand_forecast.training.model import TrainedModel
from demand_forecast.training.provenance import code_hash, content_hash
from demand_forecast.training.train import train_model

__all__ = ["TrainedModel", "code_hash", "content_hash", "train_model"]
