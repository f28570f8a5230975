"""What `apply --env local` would rerun now, and why: the one staleness decision `apply_local` and
`plan_local` share, from content hashes of the raw data, the model's code and the settings (see
`stackctl.local.apply`'s docstring for the rule)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from stackctl.hashing import hash_json, hash_tree, sha256_file
from stackctl.local.layout import LocalLayout
from stackctl.local.settings import LocalSettings
from stackctl.local.state import ChampionState, LocalState


def training_inputs_hash(root: Path, layout: LocalLayout, settings: LocalSettings) -> str:
    config = settings.model_config_file
    config_path = root / config if config is not None else None
    return hash_json(
        {
            "raw": hash_tree(layout.lake_fs("raw"), ("*.csv", "*.parquet")),
            "code": hash_tree(root / "src" / "model" / "demand_forecast", ("*.py", "*.yaml")),
            "settings": settings.fingerprint(),
            "config": sha256_file(config_path) if config_path and config_path.exists() else None,
        }
    )


@dataclass(frozen=True)
class Staleness:
    """What `apply` would rerun now, and why: the one decision `apply_local` and `plan_local` share."""

    train: bool
    train_reason: str
    training_hash: str
    score: bool
    scoring_hash: str | None  # None while training is due (the champion may change)


def scoring_inputs_hash(training_hash: str, champion: ChampionState, settings: LocalSettings) -> str:
    """Hash of what forecasts depend on: inputs (data, code, settings), champion, scoring settings."""
    return hash_json(
        {
            "training": training_hash,
            "champion": champion.model_dump(mode="json"),
            "scoring": settings.scoring.model_dump(),
        }
    )


def staleness(root: Path, layout: LocalLayout, settings: LocalSettings, state: LocalState) -> Staleness:
    """Compare the current inputs' content hashes with those of the champion and of the last runs.

    Training is due when no champion exists, or when the inputs differ both from the champion's
    (the model in use) and from the last training run's (a candidate trained on these very inputs
    that lost to the champion needs no second try). Restoring the data the champion was trained on
    therefore retrains nothing and registers no duplicate version."""
    training_hash = training_inputs_hash(root, layout, settings)
    champion = state.champion
    last = state.training
    if champion is None:
        train, reason = True, "no champion yet"
    elif champion.inputs_hash == training_hash:
        train, reason = False, f"nothing changed: champion {champion.model_version} kept, no retraining"
    elif last is not None and last.inputs_hash == training_hash:
        train, reason = (
            False,
            f"nothing changed since candidate {last.decision.model_version} lost to the champion: "
            f"champion {champion.model_version} kept, no retraining",
        )
    else:
        train, reason = True, "data, model code or settings changed since the champion was trained"
    if train or champion is None:
        return Staleness(True, reason, training_hash, True, None)
    scoring_hash = scoring_inputs_hash(training_hash, champion, settings)
    scored = state.scoring is not None and state.scoring.inputs_hash == scoring_hash
    return Staleness(False, reason, training_hash, not scored, scoring_hash)
