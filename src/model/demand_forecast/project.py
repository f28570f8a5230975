"""Where the forecast-stack checkout is, for paths that are relative to the project, not the cwd."""

from __future__ import annotations

from pathlib import Path


def project_root(start: Path | None = None) -> Path | None:
    """The forecast-stack checkout: the first ancestor of `start` (default: the working directory)
    holding src/model/pyproject.toml, else the checkout this package is installed from (editable)."""
    for folder in [(start or Path.cwd()).resolve(), *(start or Path.cwd()).resolve().parents]:
        if (folder / "src" / "model" / "pyproject.toml").is_file():
            return folder
    package = Path(__file__).resolve().parent
    for folder in package.parents:
        if (folder / "src" / "model" / "pyproject.toml").is_file():
            return folder
    return None
