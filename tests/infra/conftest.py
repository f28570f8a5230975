"""Fixtures for the offline Terraform checks: the real checkout, and throw-away copies to break."""

from __future__ import annotations

import hashlib
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from infra_helpers import Edit

from stackctl.checks import CheckReport
from stackctl.checks.checkov import check_checkov
from stackctl.paths import repo_root

COPIED = (
    "modules",
    "infra",
    "envs/shared",
    "envs/dev",
    "envs/prod",
    "envs/bootstrap",
    "tests/infra/azurerm_schema.json",
)


@pytest.fixture(scope="session")
def root() -> Path:
    return repo_root()


@pytest.fixture
def tree(tmp_path: Path, root: Path) -> Path:
    """A copy of the Terraform tree (and the schema) that a test may break.

    Links stay links (the roots' shared files point into envs/shared and infra/), so an edit of
    envs/prod/main.tf changes the one file both roots read, as it would in the checkout."""
    copy = tmp_path / "checkout"
    for part in COPIED:
        source = root / part
        target = copy / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source, target, symlinks=True, ignore=shutil.ignore_patterns(".terraform", "__pycache__")
            )
        else:
            shutil.copy2(source, target)
    return copy


@pytest.fixture
def edit(tree: Path) -> Edit:
    """edit(path, old, new): replace one exact piece of text in the copy, failing if it is absent."""

    def _edit(path: str, old: str, new: str) -> None:
        file = tree / path
        text = file.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {path}; the test's anchor text is out of date"
        file.write_text(text.replace(old, new, 1), encoding="utf-8")

    return _edit


@pytest.fixture(scope="session")
def checkov_report(root: Path, shared_artifact: Callable[[str, Callable[[Path], None]], Path]) -> CheckReport:
    """checkov over modules/ and the dev, prod and bootstrap roots, once per session for all xdist
    workers (the slow part; it writes build/checkov/, which two workers must not write at once).
    Keyed by the content of everything it scans, so an edit made during the session scans again."""

    def scan(folder: Path) -> None:
        (folder / "report.pickle").write_bytes(pickle.dumps(check_checkov(root)))

    folder = shared_artifact(f"checkov-{_scanned_content(root)}", scan)
    # The pickle is this session's own, written by a sibling worker in the session's temp folder.
    report: CheckReport = pickle.loads((folder / "report.pickle").read_bytes())  # noqa: S301
    return report


def _scanned_content(root: Path) -> str:
    digest = hashlib.sha256()
    for part in ("modules", "infra", "envs"):
        for path in sorted((root / part).rglob("*")):
            if path.is_file() and ".terraform" not in path.parts and "__pycache__" not in path.parts:
                digest.update(f"{path.relative_to(root)}\0".encode())
                digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
