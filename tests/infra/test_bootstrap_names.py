"""The bootstrap's names judged by real Terraform, offline: envs/bootstrap/naming.tf is provider-free,
so a harness root plans it (with variables.tf) once per workload length.

Every name is checked against Azure's rule for its kind, and a per-environment name that dev and
prod would share stops the plan: the runners (GitHub.Network/networkSettings or a Managed DevOps
Pool, whose name is also the Azure DevOps agent pool's) must differ, or dev's pipeline could select
prod's. https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from stackctl.checks.parity import load_tfvars
from stackctl.tools import Terraform

pytestmark = pytest.mark.slow

BOOTSTRAP = Path("envs/bootstrap")
# Every workload length envs/bootstrap/variables.tf admits (2-8), letters and digits.
WORKLOADS = ("ab", "ab1", "abcd", "abcd5", "abcdef", "abcdef7", "abcdefgh")
# Managed DevOps Pools: 3-44 letters, digits, hyphens and periods, a letter or digit at each end.
# https://learn.microsoft.com/azure/devops/managed-devops-pools/create-resources
POOL_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9.-]{1,42}[a-zA-Z0-9]$")


@pytest.fixture(scope="module")
def terraform() -> Terraform:
    return Terraform()


def _bootstrap_values(root: Path) -> dict[str, Any]:
    values = load_tfvars(root / BOOTSTRAP / "example.tfvars")
    names = ("location", "location_short", "name_suffix", "state_storage_account_name", "tags")
    # The runner's own inputs (github, azure_devops) are not the names' concern.
    return {**{name: values[name] for name in names}, "ci_runner": {"enabled": False}}


def _harness(tree: Path, work: Path, values: dict[str, Any], workloads: tuple[str, ...]) -> Path:
    """A root calling the bootstrap's names (variables.tf + naming.tf) once per workload."""
    names = work / "bootstrap_names"
    names.mkdir(parents=True)
    for file in ("variables.tf", "naming.tf"):
        shutil.copy2(tree / BOOTSTRAP / file, names / file)
    arguments = "\n".join(f"  {name} = {json.dumps(value)}" for name, value in values.items())
    harness = work / "harness"
    harness.mkdir()
    (harness / "main.tf").write_text(
        f"""
module "names" {{
  source   = "../bootstrap_names"
  for_each = toset({json.dumps(list(workloads))})
  workload = each.key
{arguments}
}}

output "names" {{
  value = {{ for workload, names in module.names : workload => names.names }}
}}
"""
    )
    return harness


def _plan(terraform: Terraform, harness: Path) -> tuple[bool, str]:
    init = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], harness)
    assert init.ok, init.stdout + init.stderr
    plan = terraform.run(["plan", "-input=false", "-no-color", "-out=names.tfplan"], harness)
    if not plan.ok:
        return False, " ".join((plan.stdout + plan.stderr).replace("│", " ").split())
    shown = terraform.run(["show", "-json", "names.tfplan"], harness)
    assert shown.ok, shown.stderr
    return True, shown.stdout


# The bootstrap gives the runner module its placeholder's name (modules/ci_runner, placeholder_name).
def test_dev_and_prod_runners_differ_and_are_valid_for_every_workload_length(
    root: Path, tmp_path: Path, terraform: Terraform
) -> None:
    ok, output = _plan(terraform, _harness(root, tmp_path, _bootstrap_values(root), WORKLOADS))
    assert ok, output
    names: dict[str, dict[str, Any]] = json.loads(output)["planned_values"]["outputs"]["names"]["value"]
    for workload in WORKLOADS:
        runners = names[workload]["runner"]
        assert runners["dev"] != runners["prod"], f"workload {workload}: one runner name for dev and prod"
        for runner in runners.values():
            assert POOL_NAME.match(runner), f"{runner} breaks the Managed DevOps Pool naming rule"
    # The bootstrap passes the same name to the module it calls.
    call = (root / BOOTSTRAP / "main.runner.tf").read_text(encoding="utf-8")
    assert "name                = local.names.runner[each.key]" in call


def test_a_runner_name_too_long_for_azure_fails_the_plan_with_the_rule(
    root: Path, tmp_path: Path, terraform: Terraform
) -> None:
    """location_short is free text: a long one makes the runner's name break the pool's 44 characters."""
    values = {**_bootstrap_values(root), "location_short": "westeuropewesteuropewesteurope"}
    ok, output = _plan(terraform, _harness(root, tmp_path, values, ("abcdefgh",)))
    assert not ok
    assert (
        'runner.prod "ci-abcdefgh-prod-westeuropewesteuropewesteurope" breaks the Managed DevOps Pool: '
        "3-44 letters, digits, hyphens and periods" in output
    )
    assert "Shorten workload or name_suffix" in output


def _broken_copy(root: Path, tmp_path: Path, path: str, old: str, new: str) -> Path:
    """A copy of the bootstrap with one piece of text replaced."""
    tree = tmp_path / "tree"
    shutil.copytree(root / BOOTSTRAP, tree / BOOTSTRAP, ignore=shutil.ignore_patterns(".terraform*"))
    file = tree / path
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}; the test's anchor is out of date"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tree


def test_the_state_account_follows_the_same_rule(root: Path, tmp_path: Path, terraform: Terraform) -> None:
    """One rule table for every bootstrap name: the state storage account (3-24 lowercase letters and
    digits) cannot be broken through today's validation, so break the copy's validation instead."""
    tree = _broken_copy(
        root,
        tmp_path / "state",
        "envs/bootstrap/variables.tf",
        'can(regex("^[a-z0-9]{3,24}$", var.state_storage_account_name))',
        "var.state_storage_account_name != null",
    )
    values = {**_bootstrap_values(root), "state_storage_account_name": "st-fcst-tfstate"}
    ok, output = _plan(terraform, _harness(tree, tmp_path / "state", values, ("fcst",)))
    assert not ok
    assert (
        'state_storage_account "st-fcst-tfstate" breaks the storage account: '
        "3-24 lowercase letters and digits rule" in output
    )


def test_dev_and_prod_sharing_a_runner_name_fails_the_plan(
    root: Path, tmp_path: Path, terraform: Terraform
) -> None:
    """One runner name for both would be one Azure DevOps agent pool: dev's pipeline could select it."""
    tree = _broken_copy(
        root,
        tmp_path,
        "envs/bootstrap/naming.tf",
        '"ci-${var.workload}-${env}-${var.location_short}"',
        '"ci-${var.workload}-${var.location_short}"',
    )
    ok, output = _plan(terraform, _harness(tree, tmp_path / "work", _bootstrap_values(root), ("fcst",)))
    assert not ok
    assert 'runner: dev and prod are both "ci-fcst-weu"' in output
