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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("plan", "status", "why"),
    [
        ("missing.json", 3, "setup fault, nothing written"),
        ("tests/stackctl/audit/fixtures/delete_sql.json", 1, "blocking findings"),
    ],
)
def test_make_audit_fails_and_names_the_audits_own_status(
    tmp_path: Path, plan: str, status: int, why: str
) -> None:
    """GNU make reports every failed recipe as 2, so `make audit` cannot exit 1; what the README
    promises instead: it fails, and its last line names the audit's status (1 or 2)."""
    plan_path = tmp_path / plan if plan == "missing.json" else ROOT / plan
    result = _make("audit", "ENV=dev", f"ARGS=--plan {plan_path} --out {tmp_path / 'out'}")
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()
    assert f"make audit: stackctl audit exited {status} ({why})" in last[-2:], result.stderr
    readme = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    assert "`make audit: stackctl audit exited 1 (blocking findings)`" in readme
