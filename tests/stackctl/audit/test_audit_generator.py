"""The benchmark's plan generator writes plans the audit reads, with every kind of change in them."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from stackctl.audit.plan import load_plan
from stackctl.checks.hclmodel import read_dir
from stackctl.paths import repo_root

SCRIPT = repo_root() / "scripts" / "generate_audit_fixture.py"


def test_generated_plan_loads_with_every_action_and_is_reproducible(tmp_path: Path) -> None:
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    for target in (first, second):
        subprocess.run(
            [sys.executable, str(SCRIPT), "--resources", "120", "--out", str(target)],
            check=True,
            capture_output=True,
        )

    plan = load_plan(first)
    assert len(plan.resource_changes) == 120
    kinds = Counter(rc.change.kind for rc in plan.resource_changes)
    assert set(kinds) == {"create", "update", "no-op", "replace", "delete"}
    assert plan.resource_drift
    assert first.read_bytes() == second.read_bytes()


def test_generated_plan_names_blocks_our_modules_declare(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), "--resources", "24", "--out", str(target)],
        check=True,
        capture_output=True,
    )
    for change in load_plan(target).resource_changes:
        module = (change.module_address or "").rsplit(".", 1)[-1]
        declared = {(b.type, b.name) for b in read_dir(repo_root() / "modules" / module).blocks}
        assert (change.type, change.name) in declared, f"{change.address}: modules/{module} has no such block"
        assert change.address == f'{change.module_address}.{change.type}.{change.name}["{change.index}"]'
