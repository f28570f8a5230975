"""`.local/state.json`: what the local stack last trained, which model is champion, what it scored.

Typed with pydantic so a renamed key is an error here, not a `KeyError` pages later. A state file
that is missing, cut short by a crash or from an older layout is read as empty: it only costs a
rerun, never a reason to stop.
"""

from __future__ import annotations

from pathlib import Path

from demand_forecast.contracts import Decision
from pydantic import BaseModel, ConfigDict, ValidationError


class _State(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ChampionState(_State):
    """The model in use: its identity, scores and the content hash of the inputs it was trained on."""

    model_version: str
    registered_version: str
    mape: float | None
    metrics_json: Path
    model_dir: Path
    inputs_hash: str  # training_inputs_hash() when it was trained: data, model code, settings


class TrainingState(_State):
    """The last training run that finished (promoted or not)."""

    inputs_hash: str
    run_id: str
    decision: Decision
    metrics_json: Path


class ScoringState(_State):
    """The last scoring run that finished, and where its outputs are."""

    inputs_hash: str
    run_id: str
    forecasts_csv: Path
    monitoring_json: Path
    conditioned: Path


class LocalState(_State):
    training: TrainingState | None = None
    champion: ChampionState | None = None
    scoring: ScoringState | None = None

    @classmethod
    def load(cls, path: Path) -> LocalState:
        """The state at `path`; empty when it is missing, unreadable or does not match this layout."""
        try:
            return cls.model_validate_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, ValidationError):
            return cls()

    def save(self, path: Path) -> None:
        """Write atomically (a temporary file replaced into place), so a crash leaves the old state."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")
        tmp.replace(path)
