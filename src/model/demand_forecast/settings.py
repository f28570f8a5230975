"""Typed, frozen settings: defaults from defaults.yaml, overlaid by an optional YAML file.

Loaded with pydantic-settings (https://docs.pydantic.dev/latest/concepts/pydantic_settings/):
`YamlConfigSettingsSource` reads defaults.yaml and the overlay, deep-merged in that order, and
keyword overrides (CLI flags) win over both. Environment variables are not a source: a step's
settings are exactly its files and flags, so a run can be repeated from them.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from demand_forecast.errors import UsageError

# The YAML files of the `load_yaml_settings` call in progress. pydantic-settings builds its sources per
# class (`settings_customise_sources` is a classmethod), so a file chosen at load time reaches it here.
_YAML_FILES: ContextVar[tuple[Path | Traversable, ...]] = ContextVar("settings_yaml_files", default=())
S = TypeVar("S", bound="YamlSettings")


class YamlSettings(BaseSettings):
    """Settings read from YAML files given at load time, deep-merged in order, keyword arguments on top;
    no environment variables. The one loader of the model's settings and the local stack's
    (`stackctl.local.settings`): load with `load_yaml_settings`."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = list(_YAML_FILES.get())
        return (init_settings, YamlConfigSettingsSource(settings_cls, yaml_file=files, deep_merge=True))


def _check_yaml_mapping(path: Path) -> None:
    """A settings file must be a readable YAML mapping (pydantic-settings skips a missing file silently
    and fails obscurely on a list or a scalar)."""
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise UsageError(f"cannot read settings file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"settings file {path} is not valid YAML: {exc}") from exc
    if not isinstance(loaded, dict):
        raise UsageError(f"settings file {path} must hold a mapping of settings at the top")


def load_yaml_settings(
    cls: type[S],
    files: Sequence[Path | Traversable],
    overrides: dict[str, Any] | None = None,
    *,
    optional: Path | None = None,
) -> S:
    """`cls` from `files` (each must exist), then `optional` when it exists, then `overrides`.

    Raises UsageError naming the file and each invalid key (`section.key: message`)."""
    chosen = list(files) + ([optional] if optional is not None and optional.exists() else [])
    for path in chosen:
        if isinstance(path, Path):
            _check_yaml_mapping(path)
    token = _YAML_FILES.set(tuple(chosen))
    try:
        return cls(**(overrides or {}))
    except ValidationError as exc:
        source = ", ".join(str(path) for path in chosen if isinstance(path, Path)) or "defaults"
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise UsageError(f"invalid settings in {source}: {problems}") from exc
    finally:
        _YAML_FILES.reset(token)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ValidateSettings(_Frozen):
    max_quarantine_fraction: float = Field(ge=0.0, le=1.0)
    output_format: Literal["csv", "parquet"]
    max_unmatched_fraction: float = Field(default=0.01, ge=0.0, le=1.0)


class SegmentSettings(_Frozen):
    velocity_threshold: float | None = Field(default=None, ge=0.0)
    velocity_quantile: float = Field(gt=0.0, lt=1.0)


class FeatureSettings(_Frozen):
    max_event_features: int = Field(ge=0)


class TrainSettings(_Frozen):
    seed: int
    holdout_weeks: int = Field(ge=1)
    validation_weeks: int = Field(ge=1)
    min_history_weeks: int = Field(ge=1)


class LassoSettings(_Frozen):
    n_alphas: int = Field(ge=2)
    cv_folds: int = Field(ge=2)
    max_iter: int = Field(ge=100)
    positive_rows_only: bool


class NNSettings(_Frozen):
    sharing: Literal["global", "per_segment"]
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=8)
    learning_rate: float = Field(gt=0.0)
    weight_decay: float = Field(ge=0.0)
    hidden_sizes: tuple[int, ...]
    dropout: float = Field(ge=0.0, lt=1.0)
    max_embedding_dim: int = Field(ge=1)
    device: Literal["auto", "cpu", "cuda"]
    loss: Literal["mape", "huber"]
    threads: int = Field(ge=1)
    seeds: int = Field(ge=1)
    select_epoch: bool
    average_epochs: int = Field(ge=1)


class EnsembleSettings(_Frozen):
    weights: Literal["fitted", "equal"]
    weight_grid_step: float = Field(gt=0.0, le=0.5)
    refit: bool
    calibrate: bool
    min_segment_rows: int = Field(ge=1)
    point: Literal["mape", "median"]


class EvaluateSettings(_Frozen):
    target_mape: float = Field(gt=0.0)


class RegisterSettings(_Frozen):
    model_name: str = Field(min_length=1)
    margin: float = Field(ge=0.0, lt=1.0)
    max_abs_bias: float | None = Field(gt=0.0)


class TrackingSettings(_Frozen):
    sqlite_path: str
    experiment_name: str = Field(min_length=1)


class MonitorSettings(_Frozen):
    stale_after_days: int = Field(ge=1)
    psi_bins: int = Field(ge=2)
    psi_alert: float = Field(gt=0.0)
    recent_weeks: int = Field(ge=1)


class DistributedSettings(_Frozen):
    """How a step spreads over workers (issue 20, docs/scale.md).

    workers: local worker processes (torchrun `--nproc-per-node`), >= 1; in Azure the stack's
    Terraform variables give the instance and per-instance process counts instead.
    backend: the torch.distributed backend; None picks gloo on CPU and nccl on CUDA.
    max_failed_share: above this share of failed partitions (regions), 0..1, a run fails without
    registering; at or below it the failed partitions keep the champion's entries."""

    workers: int = Field(default=1, ge=1)
    backend: Literal["gloo", "nccl"] | None = None
    max_failed_share: float = Field(default=0.05, ge=0.0, le=1.0)


class Settings(YamlSettings):
    validate_: ValidateSettings = Field(alias="validate")
    segments: SegmentSettings
    features: FeatureSettings
    train: TrainSettings
    lasso: LassoSettings
    nn: NNSettings
    ensemble: EnsembleSettings
    evaluate: EvaluateSettings
    register_: RegisterSettings = Field(alias="register")
    tracking: TrackingSettings
    monitor: MonitorSettings
    distributed: DistributedSettings

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


@dataclass(frozen=True)
class AlertThresholds:
    """The model-quality thresholds the alerts watch: MAPE as a fraction (0.45 = 45 %), age in days.

    One source: `evaluate.target_mape` and `monitor.stale_after_days` of defaults.yaml (or a config
    overlay). The local dashboard reads them from here; the Terraform that sets the Azure alert rules
    (modules/monitoring and infra defaults, both tfvars) is checked against them by
    tests/infra/test_alert_thresholds.py, which names the value to write."""

    target_mape: float
    stale_after_days: int


def alert_thresholds(config_file: Path | None = None) -> AlertThresholds:
    """The thresholds in effect for `config_file` (None: the defaults); UsageError as load_settings."""
    settings = load_settings(config_file)
    return AlertThresholds(settings.evaluate.target_mape, settings.monitor.stale_after_days)


def load_settings(config_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Defaults, then the YAML file, then programmatic overrides (CLI flags); typos are errors.

    Raises UsageError naming the file and each invalid key (`section.key: message`)."""
    defaults = resources.files("demand_forecast").joinpath("defaults.yaml")
    try:
        return load_yaml_settings(Settings, [defaults, *([config_file] if config_file else [])], overrides)
    except UsageError as exc:
        raise UsageError(f"{exc} (see demand_forecast/defaults.yaml for every key)") from exc
