"""Settings of the local stack, read from envs/local/settings.yaml (frozen; unknown keys are errors).

Loaded by the model's settings loader (`demand_forecast.settings.load_yaml_settings`: pydantic-settings'
`YamlConfigSettingsSource`, https://docs.pydantic.dev/latest/concepts/pydantic_settings/#other-settings-source);
a missing file means every default.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from demand_forecast.errors import UsageError
from demand_forecast.settings import AlertThresholds, YamlSettings, alert_thresholds, load_yaml_settings
from demand_forecast.settings import load_settings as load_model_settings
from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import SettingsConfigDict

from stackctl.errors import StackctlError
from stackctl.paths import env_dir

# The model CLI, run by the interpreter stackctl runs in.
DEFAULT_STEP_COMMAND = ("{python}", "-m", "demand_forecast")


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class TrainingSettings(_Strict):
    seed: int = 42
    epochs: int | None = Field(default=None, ge=1)
    margin: float | None = Field(default=None, ge=0.0, lt=1.0)


class ScoringSettings(_Strict):
    as_of: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")
    horizon: int | None = Field(default=None, ge=1)


class DashboardSettings(_Strict):
    """What the dashboard shows; its thresholds are the model's (`LocalSettings.alert_thresholds`)."""

    series_to_plot: int = Field(default=4, ge=1, le=12)


class LocalSettings(YamlSettings):
    model_config = SettingsConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    sample_data: Path = Path("data/sample")
    step_command: tuple[str, ...] = DEFAULT_STEP_COMMAND
    model_config_file: Path | None = Field(default=None, alias="model_config")
    training: TrainingSettings = TrainingSettings()
    scoring: ScoringSettings = ScoringSettings()
    dashboard: DashboardSettings = DashboardSettings()

    def command(self) -> list[str]:
        """The step command with `{python}` bound to the interpreter running stackctl."""
        return [token.replace("{python}", sys.executable) for token in self.step_command]

    def alert_thresholds(self, root: Path) -> AlertThresholds:
        """The MAPE target and staleness limit in effect: the model's settings (defaults.yaml, overlaid
        by `model_config`), the one source every alert reads; StackctlError when that file is bad."""
        config = (root / self.model_config_file) if self.model_config_file else None
        try:
            return alert_thresholds(config)
        except UsageError as exc:
            raise StackctlError(
                str(exc), where=str(config), fix="correct the model settings file `model_config` names"
            ) from exc

    def distributed_workers(self, root: Path) -> int:
        """Processes of each distributed step (torchrun `--nproc-per-node`): the model's
        `distributed.workers` (defaults.yaml, overlaid by `model_config`), the one setting the
        benchmark and the model read too; StackctlError when that file is bad."""
        config = (root / self.model_config_file) if self.model_config_file else None
        try:
            return load_model_settings(config).distributed.workers
        except UsageError as exc:
            raise StackctlError(
                str(exc), where=str(config), fix="correct the model settings file `model_config` names"
            ) from exc

    def fingerprint(self) -> dict[str, Any]:
        """What of these settings changes a trained model (the retraining decision hashes it)."""
        return {"training": self.training.model_dump(), "model_config": str(self.model_config_file)}


def settings_file(root: Path) -> Path:
    return env_dir("local", root) / "settings.yaml"


def load_settings(root: Path) -> LocalSettings:
    """envs/local/settings.yaml of `root` (every default when absent); StackctlError naming bad keys.

    The same loader as the model's settings (`demand_forecast.settings.load_yaml_settings`)."""
    path = settings_file(root)
    try:
        return load_yaml_settings(LocalSettings, [], optional=path)
    except UsageError as exc:
        raise StackctlError(
            f"invalid local stack settings: {exc}",
            where=str(path),
            fix="correct or remove the keys named above (the file's comments list the valid ones)",
        ) from exc
