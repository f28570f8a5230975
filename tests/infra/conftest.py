"""Fixtures for the offline Terraform checks: the real checkout, and throw-away copies to break."""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Callable
from pathlib import Path

import pytest
from infra_helpers import Edit, copy_checkout, editor

from stackctl.checks import CheckReport
from stackctl.checks.checkov import check_checkov
from stackctl.paths import repo_root


@pytest.fixture(scope="session")
def root() -> Path:
    return repo_root()


@pytest.fixture
def tree(tmp_path: Path, root: Path) -> Path:
    """A copy of the Terraform tree (and the schema) that a test may break."""
    return copy_checkout(root, tmp_path / "checkout")


@pytest.fixture
def edit(tree: Path) -> Edit:
    """edit(path, old, new): replace one exact piece of text in the copy, failing if it is absent."""
    return editor(tree)


@pytest.fixture(scope="module")
def module_tree(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Path:
    """One copy of the tree for a whole test module: for a module-scoped fixture that breaks it once
    and scans it once (checkov takes tens of seconds a run), whose tests only read the result."""
    return copy_checkout(root, tmp_path_factory.mktemp("module-tree") / "checkout")


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
