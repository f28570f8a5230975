"""Typed, frozen settings: defaults from defaults.yaml, overlaid by an optional YAML file.

Loaded with pydantic-settings (https://docs.pydantic.dev/latest/concepts/pydantic_settings/):
`YamlConfigSettingsSource` reads defaults.yaml and the overlay, deep-merged in that order, and
keyword overrides (CLI flags) win over both. Environment variables are not a source: a step's
settings are exactly its files and flags, so a run can be repeated from them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from demand_forecast.errors import UsageError

# The overlay file of the `load_settings` call in progress (settings sources are built per class).
_OVERLAY: ContextVar[Path | None] = ContextVar("demand_forecast_settings_overlay", default=None)


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
    n_jobs: int | None = Field(default=None, ge=1)


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
    alias: str = Field(min_length=1)
    max_abs_bias: float | None = Field(gt=0.0)


class TrackingSettings(_Frozen):
    sqlite_path: str
    experiment_name: str = Field(min_length=1)


class MonitorSettings(_Frozen):
    stale_after_days: int = Field(ge=1)
    psi_bins: int = Field(ge=2)
    psi_alert: float = Field(gt=0.0)
    recent_weeks: int = Field(ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="forbid")

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

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        overlay = _OVERLAY.get()
        files: list[Any] = [resources.files("demand_forecast").joinpath("defaults.yaml")]
        files += [overlay] if overlay is not None else []
        return (init_settings, YamlConfigSettingsSource(settings_cls, yaml_file=files, deep_merge=True))

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


@contextmanager
def _overlay(config_file: Path | None) -> Iterator[None]:
    token = _OVERLAY.set(config_file)
    try:
        yield
    finally:
        _OVERLAY.reset(token)


def _check_overlay(config_file: Path) -> None:
    """The overlay must be a readable YAML mapping (pydantic-settings skips a missing file silently)."""
    try:
        overlay = yaml.safe_load(config_file.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise UsageError(f"cannot read config file {config_file}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise UsageError(f"config file {config_file} is not valid YAML: {exc}") from exc
    if not isinstance(overlay, dict):
        raise UsageError(f"config file {config_file} must hold a mapping of settings at the top")


def load_settings(config_file: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Defaults, then the YAML file, then programmatic overrides (CLI flags); typos are errors.

    Raises UsageError naming the file and each invalid key (`section.key: message`)."""
    if config_file is not None:
        _check_overlay(config_file)
    try:
        with _overlay(config_file):
            return Settings(**(overrides or {}))
    except ValidationError as exc:
        source = str(config_file) if config_file else "defaults"
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise UsageError(
            f"invalid settings in {source}: {problems} (see demand_forecast/defaults.yaml for every key)"
        ) from exc
