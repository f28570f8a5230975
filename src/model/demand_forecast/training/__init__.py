"""Training: segments, per-segment LASSO in a process pool, the embedding network, ensemble weights.

One module per reason to change:

- `segments`: each series' segment, its fallback pools, and the fit / validation / holdout weeks
- `design`: the training rows (design matrix, target) and the drift reference of their features
- `segment_models`: each segment's LASSO (and per-segment network) in a process pool
- `shared_network`: the shared embedding networks
- `ensemble`: log-space calibration offsets and LASSO weights on the validation window
- `description`: the model's `model_info.json` content
- `model`: the trained model, its forecasts and its folder (`save`/`load`)
- `provenance`: the content hashes a model version is derived from
- `train`: `train_model`, the steps above in order
"""

from __future__ import annotations

from demand_forecast.training.model import TrainedModel
from demand_forecast.training.provenance import code_hash, content_hash
from demand_forecast.training.train import train_model

__all__ = ["TrainedModel", "code_hash", "content_hash", "train_model"]
