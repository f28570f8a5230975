"""The Makefile is the only entry point people and CI call: its promises, checked."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONSTRAINTS = "requirements/constraints.txt"


def _make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-s", *args], cwd=ROOT, capture_output=True, text=True, check=False)


def test_plain_make_prints_help_listing_every_target() -> None:
    result = _make()
    assert result.returncode == 0
    declared = set(re.findall(r"^([a-z-]+):.*## ", (ROOT / "Makefile").read_text(), flags=re.M))
    listed = {line.split()[0] for line in result.stdout.splitlines() if line.startswith("  ")}
    assert declared == listed
    assert {
        "setup",
        "test",
        "apply",
        "plan",
        "audit",
        "deploy",
        "destroy",
        "bench",
        "fmt",
        "validate",
    } <= listed


@pytest.mark.parametrize("bad_env", ["qa", "Prod", "dev prod"])
def test_unknown_env_fails_at_once_with_one_line(bad_env: str) -> None:
    result = _make("apply", f"ENV={bad_env}")
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "use one of: local dev prod" in lines[0]
    assert result.stdout == ""  # nothing ran


def test_setup_when_nothing_changed_is_a_silent_no_op() -> None:
    # `make test` runs setup before pytest, so the stamp is current there. Run alone after a
    # dependency file changed, this test would trigger a real reinstall under the running suite.
    stamp = ROOT / ".venv" / ".stamp"
    digest = hashlib.sha256(
        b"".join((ROOT / f).read_bytes() for f in ("pyproject.toml", "src/model/pyproject.toml", CONSTRAINTS))
    ).hexdigest()[:16]
    if not stamp.exists() or stamp.read_text().strip() != digest:
        pytest.skip("the environment is older than the dependency files: run `make setup` first")
    result = _make("setup")
    assert result.returncode == 0
    assert result.stdout == ""
    assert "installing" not in result.stderr


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    assert "make test" in ci
    assert "make test" in (ROOT / "README.md").read_text()
