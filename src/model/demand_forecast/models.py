"""The estimators: LASSO on standardised features and a neural network with categorical embeddings.

Both learn the log-residual target of `features` (log1p(units) - level). Pure: arrays in, arrays out.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import Lasso, LassoCV
from sklearn.model_selection import TimeSeriesSplit
from torch import nn

from demand_forecast.errors import DeviceError
from demand_forecast.settings import LassoSettings, NNSettings

Matrix = npt.NDArray[np.float32]
Vector = npt.NDArray[np.float64]
IntMatrix = npt.NDArray[np.int64]
# Segments with fewer rows than this borrow the pooled LASSO rather than overfit their own.
MIN_LASSO_ROWS = 40


@dataclass(frozen=True)
class LinearModel:
    """A fitted LASSO in plain numbers: no pickle needed to store or load it."""

    mean: Vector
    scale: Vector
    coef: Vector
    intercept: float
    alpha: float

    def predict(self, features: Matrix) -> Vector:
        standardized = (features.astype(np.float64) - self.mean) / self.scale
        return np.asarray(standardized @ self.coef + self.intercept, dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept,
            "alpha": self.alpha,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinearModel:
        return cls(
            np.asarray(data["mean"], dtype=np.float64),
            np.asarray(data["scale"], dtype=np.float64),
            np.asarray(data["coef"], dtype=np.float64),
            float(data["intercept"]),
            float(data["alpha"]),
        )


def fit_lasso(features: Matrix, target: Vector, settings: LassoSettings, seed: int) -> LinearModel:
    """LASSO with the penalty chosen by time-ordered cross-validation (rows must be sorted by week)."""
    x = features.astype(np.float64)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    standardized = (x - mean) / scale
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if len(target) >= settings.cv_folds * 20:
            model: Lasso | LassoCV = LassoCV(
                alphas=settings.n_alphas,
                cv=TimeSeriesSplit(n_splits=settings.cv_folds),
                max_iter=settings.max_iter,
                random_state=seed,
            )
        else:
            model = Lasso(alpha=0.01, max_iter=settings.max_iter, random_state=seed)
        model.fit(standardized, target)
    alpha = float(model.alpha_) if isinstance(model, LassoCV) else 0.01
    return LinearModel(mean, scale, np.asarray(model.coef_, dtype=np.float64), float(model.intercept_), alpha)


def embedding_dim(cardinality: int, cap: int) -> int:
    return int(min(cap, max(2, round(1.6 * cardinality**0.56))))


class EmbeddingNet(nn.Module):
    """Embeddings for each categorical (index 0 = unseen) joined with standardised numerics, then an MLP."""

    def __init__(
        self,
        cardinalities: list[int],
        n_numeric: int,
        hidden_sizes: tuple[int, ...],
        dropout: float,
        max_embedding_dim: int,
    ) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.Embedding(size + 1, embedding_dim(size + 1, max_embedding_dim)) for size in cardinalities
        )
        width = n_numeric + sum(embedding_dim(size + 1, max_embedding_dim) for size in cardinalities)
        layers: list[nn.Module] = []
        for size in hidden_sizes:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)
        self.numeric_mean: torch.Tensor
        self.numeric_scale: torch.Tensor
        self.register_buffer("numeric_mean", torch.zeros(n_numeric))
        self.register_buffer("numeric_scale", torch.ones(n_numeric))

    def forward(self, categories: torch.Tensor, numeric: torch.Tensor) -> torch.Tensor:
        scaled = (numeric - self.numeric_mean) / self.numeric_scale
        embedded = [table(categories[:, i]) for i, table in enumerate(self.embeddings)]
        return torch.as_tensor(self.mlp(torch.cat([scaled, *embedded], dim=1)).squeeze(1))


# Where the NVIDIA kernel driver says it is loaded, and its version (Linux).
NVIDIA_DRIVER_VERSION_FILE = Path("/proc/driver/nvidia/version")
# The device node the NVIDIA container runtime mounts into a container given GPU access.
NVIDIA_CONTROL_DEVICE = Path("/dev/nvidiactl")
# The oldest driver each CUDA major's builds run on (minor version compatibility).
MINIMUM_DRIVER = {"11": "450.80.02", "12": "525.60.13", "13": "580.65.06"}


def pick_device(preference: str) -> torch.device:
    """The device the network trains on: "cpu", "cuda" or "auto" (CUDA when torch can use it).

    Raises DeviceError when CUDA is asked for, or when "auto" finds an NVIDIA GPU on the node and a
    CUDA build of torch that cannot use it: a CUDA 12.x build (the AML training image's) needs driver
    >= 525.60.13, a 13.x build >= 580
    (https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html). Falling
    back to the CPU there would hide the fault. A CPU build of torch (.venv, the CPU image) on a
    machine with a GPU trains on the CPU, as it always could. "auto" fails only where the driver's
    device node (/dev/nvidiactl) is there too, so a container started without GPU access is not
    blamed on the driver.
    """
    if preference == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    gpu_present = NVIDIA_DRIVER_VERSION_FILE.exists() and NVIDIA_CONTROL_DEVICE.exists()
    if preference == "cuda" or (gpu_present and torch.version.cuda is not None):
        raise DeviceError(_cuda_unusable(gpu_present))
    return torch.device("cpu")


def _cuda_unusable(gpu_present: bool) -> str:
    build = f"torch {torch.__version__} (CUDA {torch.version.cuda or 'none: a CPU build'})"
    if not gpu_present:
        return (
            f"nn.device is 'cuda' but this node has no NVIDIA driver loaded; {build}. "
            "Fix: run on a GPU cluster, or set nn.device to 'auto'"
        )
    driver = NVIDIA_DRIVER_VERSION_FILE.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    needed = MINIMUM_DRIVER.get(str(torch.version.cuda).split(".")[0], "?")
    return (
        f"{build} cannot use this node's GPU (driver: {driver.strip()}); CUDA {torch.version.cuda} "
        f"needs NVIDIA driver >= {needed}: use a GPU VM size/image with a newer driver, or pin a torch "
        "build for the driver (src/stackctl/aml/runtime.yaml, images.gpu)"
    )


@dataclass(frozen=True)
class NetworkSpec:
    cardinalities: list[int]
    n_numeric: int
    level_index: int  # column of the features holding the series level (log space)

    def build(self, settings: NNSettings) -> EmbeddingNet:
        return EmbeddingNet(
            self.cardinalities,
            self.n_numeric,
            tuple(settings.hidden_sizes),
            settings.dropout,
            settings.max_embedding_dim,
        )


def network_loss(
    settings: NNSettings, predicted: torch.Tensor, target: torch.Tensor, level: torch.Tensor
) -> torch.Tensor:
    """The network's training objective on a batch (log residuals `predicted` and `target`, the rows'
    `level`): Huber in log space, or MAPE on the non-zero actuals plus 0.1 x that Huber."""
    log_loss: torch.Tensor = nn.functional.huber_loss(predicted, target, delta=1.0)
    if settings.loss == "huber":
        return log_loss
    # MAPE on the batch's non-zero actuals (what the case study measures), steadied by a small
    # log-space term that also keeps zero-actual rows (RMSE where actual = 0) in view.
    units = torch.expm1(target + level)
    positive = units > 0.5
    forecast = torch.expm1(torch.clamp(level + predicted, max=20.0))
    ape = torch.abs(forecast[positive] - units[positive]) / units[positive]
    mape_loss: torch.Tensor = ape.mean() if bool(positive.any()) else log_loss * 0.0
    return torch.as_tensor(mape_loss + 0.1 * log_loss)


@dataclass(frozen=True)
class NetworkRows:
    """Rows the network sees, on its device: categorical codes, numeric features, log-residual target."""

    cats: torch.Tensor
    nums: torch.Tensor
    target: torch.Tensor

    @classmethod
    def of(cls, categories: IntMatrix, features: Matrix, target: Vector, device: torch.device) -> NetworkRows:
        return cls(
            torch.as_tensor(categories, dtype=torch.long, device=device),
            torch.as_tensor(features, dtype=torch.float32, device=device),
            torch.as_tensor(target, dtype=torch.float32, device=device),
        )


def _validation_loss(net: EmbeddingNet, rows: NetworkRows, settings: NNSettings, level_index: int) -> float:
    net.eval()
    with torch.no_grad():
        loss = network_loss(settings, net(rows.cats, rows.nums), rows.target, rows.nums[:, level_index])
    net.train()
    return float(loss)


def fit_network(
    categories: IntMatrix,
    features: Matrix,
    target: Vector,
    spec: NetworkSpec,
    settings: NNSettings,
    seed: int,
    validation: tuple[IntMatrix, Matrix, Vector] | None = None,
) -> dict[str, torch.Tensor]:
    """Train the embedding network (`network_loss`, AdamW, one-cycle schedule); return its state dict
    on the CPU.

    With `validation` rows (codes, features, target of weeks after the fitted ones) and
    `settings.select_epoch`, the state returned is that of the epoch with the lowest validation loss:
    on a panel where the network overfits its store x product embeddings (Dominick's orange juice:
    validation MAPE best at epoch ~6 of 10, 0.344 -> 0.335) that epoch, on one where it converges
    (the synthetic panels) the last epochs, which score alike."""
    torch.manual_seed(seed)
    device = pick_device(settings.device)
    net = spec.build(settings)
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    net.numeric_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
    net.numeric_scale.copy_(torch.as_tensor(np.where(scale > 1e-6, scale, 1.0), dtype=torch.float32))
    net.to(device)
    train = NetworkRows.of(categories, features, target, device)
    held = None
    if validation is not None and settings.select_epoch and len(validation[2]):
        held = NetworkRows.of(*validation, device)
    optimizer = torch.optim.AdamW(
        net.parameters(), lr=settings.learning_rate, weight_decay=settings.weight_decay
    )
    steps_per_epoch = max(1, (len(train.target) + settings.batch_size - 1) // settings.batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=settings.learning_rate, total_steps=settings.epochs * steps_per_epoch
    )
    level = train.nums[:, spec.level_index]
    generator = torch.Generator(device="cpu").manual_seed(seed)
    best = EpochSelection(settings.average_epochs)
    net.train()
    for _ in range(settings.epochs):
        order = torch.randperm(len(train.target), generator=generator).to(device)
        for start in range(0, len(train.target), settings.batch_size):
            batch = order[start : start + settings.batch_size]
            optimizer.zero_grad(set_to_none=True)
            predicted = net(train.cats[batch], train.nums[batch])
            loss = network_loss(settings, predicted, train.target[batch], level[batch])
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            scheduler.step()
        if held is not None:
            best.offer(net, _validation_loss(net, held, settings, spec.level_index))
    return best.final_state(net)


class EpochSelection:
    """The state of the epoch with the lowest validation loss so far (`nn.select_epoch`); shared by
    `fit_network` and the distributed `training.shared_network` so both keep an epoch by one rule.

    With `keep` > 1, the `keep` epochs with the lowest validation losses are kept and their parameters
    averaged (stochastic weight averaging over the best epochs of one run: they lie in one basin)."""

    def __init__(self, keep: int = 1) -> None:
        self.keep = keep
        self.kept: list[tuple[float, dict[str, torch.Tensor]]] = []

    @property
    def score(self) -> float | None:
        return self.kept[0][0] if self.kept else None

    def offer(self, net: nn.Module, score: float) -> None:
        """Keep a copy of `net`'s state when `score` is among the `keep` lowest so far."""
        if len(self.kept) < self.keep or score < self.kept[-1][0]:
            state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            self.kept = sorted([*self.kept, (score, state)], key=lambda item: item[0])[: self.keep]

    def final_state(self, net: nn.Module) -> dict[str, torch.Tensor]:
        """The kept epochs' (mean) state (the last epoch's when none was offered), on the CPU; `net`
        left in eval mode with that state loaded."""
        if self.kept:
            states = [state for _, state in self.kept]
            net.load_state_dict(
                {
                    name: torch.stack([state[name] for state in states]).mean(dim=0)
                    if states[0][name].is_floating_point()
                    else states[0][name]
                    for name in states[0]
                }
            )
        net.eval()
        return {name: tensor.detach().cpu() for name, tensor in net.state_dict().items()}


def predict_network(
    state: dict[str, torch.Tensor],
    spec: NetworkSpec,
    settings: NNSettings,
    categories: IntMatrix,
    features: Matrix,
) -> Vector:
    net = spec.build(settings)
    net.load_state_dict(state)
    net.eval()
    out = []
    with torch.no_grad():
        cats = torch.as_tensor(categories, dtype=torch.long)
        nums = torch.as_tensor(features, dtype=torch.float32)
        for start in range(0, len(nums), 65536):
            out.append(net(cats[start : start + 65536], nums[start : start + 65536]).numpy())
    return np.concatenate(out).astype(np.float64) if out else np.zeros(0)
