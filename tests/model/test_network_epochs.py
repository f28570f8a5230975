"""Best-epoch selection of the embedding network (`nn.select_epoch`, issue 24 item 1): with validation
rows, the state kept is the epoch with the lowest validation loss, not the last one; with
`nn.average_epochs` k > 1, the mean of the k lowest-loss epochs' parameters."""

from __future__ import annotations

from typing import Any

import numpy as np
from demand_forecast.settings import load_settings

ROWS = 480
LEVELS = 60


def _overfitting_case(seed: int) -> dict[str, Any]:
    """Training targets that are pure noise keyed by a memorisable id (60 levels, ~8 rows each) and
    validation targets of 0: every epoch that learns the ids' noise raises the validation loss."""
    rng = np.random.default_rng(seed)
    codes = rng.integers(1, LEVELS + 1, size=(ROWS, 1)).astype(np.int64)
    features = rng.normal(size=(ROWS, 2)).astype(np.float32)
    features[:, 1] = 0.0  # the level column: log1p(units) = target
    target = rng.normal(0.0, 1.0, size=ROWS)
    val_codes = rng.integers(1, LEVELS + 1, size=(ROWS, 1)).astype(np.int64)
    val_features = rng.normal(size=(ROWS, 2)).astype(np.float32)
    val_features[:, 1] = 0.0
    return {
        "fit": (codes, features, target),
        "validation": (val_codes, val_features, np.zeros(ROWS)),
    }


def _train(
    select_epoch: bool, case: dict[str, Any], with_validation: bool = True, average_epochs: int = 1
) -> Any:
    import torch
    from demand_forecast.models import NetworkSpec, fit_network

    # One thread, as training runs it (nn.threads): on a busy machine OpenMP spin-waits otherwise.
    torch.set_num_threads(1)
    settings = load_settings(
        overrides={
            "nn": {
                "epochs": 12,
                "batch_size": 32,
                "loss": "huber",
                "device": "cpu",
                "dropout": 0.0,
                "select_epoch": select_epoch,
                "average_epochs": average_epochs,
            }
        }
    ).nn
    spec = NetworkSpec([LEVELS], 2, 1)
    validation = case["validation"] if with_validation else None
    codes, features, target = case["fit"]
    state = fit_network(codes, features, target, spec, settings, seed=5, validation=validation)
    return state, spec, settings


def _validation_loss(trained: Any, case: dict[str, Any]) -> float:
    import torch
    from demand_forecast.models import network_loss, predict_network

    state, spec, settings = trained
    codes, features, target = case["validation"]
    predicted = predict_network(state, spec, settings, codes, features)
    return float(
        network_loss(
            settings,
            torch.as_tensor(predicted, dtype=torch.float32),
            torch.as_tensor(target, dtype=torch.float32),
            torch.as_tensor(features[:, 1]),
        )
    )


def test_the_epoch_with_the_lowest_validation_loss_is_kept() -> None:
    case = _overfitting_case(seed=1)
    selected = _validation_loss(_train(True, case), case)
    last = _validation_loss(_train(False, case), case)
    assert selected < last - 1e-3


def test_without_validation_rows_the_last_epoch_is_kept() -> None:
    import torch

    case = _overfitting_case(seed=2)
    without_rows, _, _ = _train(True, case, with_validation=False)
    switched_off, _, _ = _train(False, case)
    assert without_rows.keys() == switched_off.keys()
    for name, tensor in without_rows.items():
        assert torch.equal(tensor, switched_off[name]), name


def test_the_k_lowest_loss_epochs_are_averaged() -> None:
    import torch
    from demand_forecast.models import EpochSelection

    net = torch.nn.Linear(2, 1)
    selection = EpochSelection(keep=2)
    # (parameter value, validation loss) per epoch: the two lowest losses are epochs 2 and 3.
    for value, loss in ((1.0, 3.0), (2.0, 1.0), (4.0, 2.0), (8.0, 5.0)):
        torch.nn.init.constant_(net.weight, value)
        torch.nn.init.constant_(net.bias, -value)
        selection.offer(net, loss)
    state = selection.final_state(net)
    assert selection.score == 1.0
    assert torch.equal(state["weight"], torch.full((1, 2), 3.0))
    assert torch.equal(state["bias"], torch.full((1,), -3.0))
    assert torch.equal(net.weight.detach(), state["weight"])  # the averaged state is loaded


def test_averaging_epochs_keeps_the_validation_loss_at_or_below_the_last_epochs() -> None:
    case = _overfitting_case(seed=1)
    averaged = _validation_loss(_train(True, case, average_epochs=3), case)
    last = _validation_loss(_train(False, case), case)
    assert averaged < last - 1e-3
