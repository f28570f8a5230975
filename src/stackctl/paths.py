"""Where things live in the repository, in one place."""

from __future__ import annotations

import os
from pathlib import Path

ENVIRONMENTS = ("local", "dev", "prod")
CLOUD_ENVIRONMENTS = ("dev", "prod")


def repo_root() -> Path:
    """The checkout root: $FORECAST_STACK_ROOT if set (tests point it at a copy), else the tree this
    package sits in (the package is installed editable from src/stackctl)."""
    override = os.environ.get("FORECAST_STACK_ROOT")
    if override:
        return Path(override).resolve()
    return Path(__file__).resolve().parents[2]


def build_dir(env: str, root: Path | None = None) -> Path:
    """Plan files, plan JSON and reports of one environment: build/<env>/."""
    return (root or repo_root()) / "build" / env


def env_dir(env: str, root: Path | None = None) -> Path:
    """The Terraform root (dev, prod) or the local stack settings (local): envs/<env>/."""
    return (root or repo_root()) / "envs" / env


def local_stack_dir(root: Path | None = None) -> Path:
    """State of the embedded local stack: .local/."""
    return (root or repo_root()) / ".local"
