"""The shared embedding networks: `nn.seeds` members trained on every segment's rows."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch

from demand_forecast.models import (
    fit_network,
    predict_network,
)
from demand_forecast.training.design import TrainingRows
from demand_forecast.training.model import TrainedModel
from demand_forecast.training.segment_models import Progress
from demand_forecast.training.segments import SHARED


def fit_shared_networks(model: TrainedModel, data: TrainingRows, say: Progress) -> npt.NDArray[np.float64]:
    """Train `nn.seeds` shared embedding networks; return their mean validation residual."""
    settings = model.settings
    design, target, is_fit, codes = data.design, data.target, data.is_fit, data.codes
    torch.set_num_threads(settings.nn.threads)
    members = []
    for member in range(settings.nn.seeds):
        say(
            f"training shared embedding network {member + 1}/{settings.nn.seeds} "
            f"({settings.nn.epochs} epochs)"
        )
        member_seed = settings.train.seed + 1000 * member
        state = fit_network(
            codes[is_fit],
            design.features[is_fit],
            target[is_fit],
            model.network_spec,
            settings.nn,
            member_seed,
            validation=(codes[~is_fit], design.features[~is_fit], target[~is_fit]),
        )
        members.append(
            predict_network(state, model.network_spec, settings.nn, codes[~is_fit], design.features[~is_fit])
        )
        if settings.ensemble.refit:
            say("refitting the shared network on train + validation")
            state = fit_network(codes, design.features, target, model.network_spec, settings.nn, member_seed)
        model.networks[SHARED if member == 0 else f"{SHARED}{member}"] = state
    return np.asarray(np.mean(members, axis=0), dtype=np.float64)
