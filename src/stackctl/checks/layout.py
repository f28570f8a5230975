"""Which directories hold Terraform, in the order the checks visit them."""

from __future__ import annotations

from pathlib import Path

from stackctl.errors import StackctlError
from stackctl.paths import CLOUD_ENVIRONMENTS


def module_dirs(root: Path) -> list[Path]:
    modules = root / "modules"
    return (
        sorted(p for p in modules.iterdir() if p.is_dir() and any(p.glob("*.tf"))) if modules.is_dir() else []
    )


def example_dirs(root: Path, module: Path | None = None) -> list[Path]:
    """Each module's runnable examples, `modules/<module>/examples/<name>/` (Azure Verified Modules'
    layout): roots of their own that call the module as its users do (`source = "../.."`); of one
    `module` when given."""
    modules = [module] if module is not None else module_dirs(root)
    return [
        example
        for directory in modules
        for example in sorted((directory / "examples").glob("*/"))
        if any(example.glob("*.tf"))
    ]


def env_roots(root: Path) -> list[Path]:
    return [root / "envs" / env for env in CLOUD_ENVIRONMENTS]


def bootstrap_root(root: Path) -> Path:
    """envs/bootstrap: the root an owner applies once before any pipeline (README, Prerequisites)."""
    return root / "envs" / "bootstrap"


def terraform_dirs(root: Path) -> list[Path]:
    """modules/*, their examples, infra/, the dev and prod roots and the bootstrap root; each must hold
    .tf files."""
    dirs = [*module_dirs(root), *example_dirs(root), root / "infra", *env_roots(root), bootstrap_root(root)]
    for directory in dirs:
        if not any(directory.glob("*.tf")):
            raise StackctlError(
                f"no Terraform files in {directory}",
                where=str(directory),
                fix="run stackctl validate from a forecast-stack checkout (or set FORECAST_STACK_ROOT)",
            )
    return dirs
