"""The release pipeline: schema-valid, least privilege, and prod only from release/* after approval."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"


@pytest.fixture(scope="module")
def workflow() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def test_workflow_passes_githubs_published_schema() -> None:
    # check-jsonschema ships the GitHub workflow schema vendored: no network needed.
    check = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(check), "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_permissions_are_least_privilege(workflow: dict[str, Any]) -> None:
    assert workflow["permissions"] == {"contents": "read", "id-token": "write"}
    for job in workflow["jobs"].values():
        assert "permissions" not in job  # no job widens them


def test_every_run_step_goes_through_make_or_our_scripts(workflow: dict[str, Any]) -> None:
    for name, job in workflow["jobs"].items():
        for step in job["steps"]:
            if "run" not in step:
                continue
            first = step["run"].strip().split()[0]
            assert first in {"make", "bash", "scripts/write_backend_config.sh", "case"}, (name, step["run"])


def test_prod_is_applied_only_after_the_gated_plan_and_audit(workflow: dict[str, Any]) -> None:
    jobs = workflow["jobs"]
    assert jobs["plan"]["needs"] == "test"
    assert jobs["apply"]["needs"] == "plan"
    # the apply job runs in the `prod`/`dev` GitHub environment, whose required reviewers approve it
    assert jobs["apply"]["environment"] == "${{ needs.plan.outputs.target }}"
    plan_runs = [s.get("run", "") for s in jobs["plan"]["steps"]]
    assert any(r.startswith("make audit") for r in plan_runs)
    target_step = next(s for s in jobs["plan"]["steps"] if s.get("id") == "target")
    assert 'release/*) echo "env=prod"' in target_step["run"]
    assert 'main) echo "env=dev"' in target_step["run"]
    apply_runs = [s.get("run", "") for s in jobs["apply"]["steps"]]
    assert any(r.startswith("make apply") for r in apply_runs)
    review = next(i for i, r in enumerate(apply_runs) if r.startswith("make review"))
    assert review < next(i for i, r in enumerate(apply_runs) if r.startswith("make apply"))
    assert not any(
        r.startswith("make plan") for r in apply_runs
    )  # applies the uploaded plan, never a fresh one


def test_backend_config_script_rejects_a_bad_env_and_writes_no_secret(tmp_path: Path) -> None:
    script = ROOT / "scripts" / "write_backend_config.sh"
    bad = subprocess.run(
        ["bash", str(script), "qa", "rg", "acct"], capture_output=True, text=True, check=False
    )
    assert bad.returncode == 2
    assert "ENV must be dev or prod" in bad.stderr
    missing = subprocess.run(["bash", str(script), "dev"], capture_output=True, text=True, check=False)
    assert missing.returncode == 2
    assert "bootstrap_state.sh" in missing.stderr
