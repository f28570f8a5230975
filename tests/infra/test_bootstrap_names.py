"""The bootstrap's names judged by real Terraform, offline: envs/bootstrap/naming.tf is provider-free,
so a harness root plans it (with variables.tf) once per workload length, and feeds the names to the
runner module's own variables and its placeholder job's name expression (modules/ci_runner).

The review's findings: the Azure DevOps placeholder job was named by cutting the runner job's name
to 20 characters, so with an 8-character workload dev's and prod's placeholders were both
`caj-<workload>-runner-placeholder` in the one bootstrap resource group; and nothing stopped a
workload and name_suffix that make dev's runner vault (`kv-<workload>-cid-<suffix>`) longer than
Key Vault's 24 characters before Azure refused it half-way through an apply.
https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules"""

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
RUNNER = Path("modules/ci_runner")
# Every workload length envs/bootstrap/variables.tf admits (2-8), letters and digits.
WORKLOADS = ("ab", "ab1", "abcd", "abcd5", "abcdef", "abcdef7", "abcdefgh")
# Container Apps jobs: 2-32 lowercase letters, digits, hyphens; a letter first, a letter or digit
# last, no consecutive hyphens.
# https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules#microsoftapp
CONTAINER_APP_JOB = re.compile(r"^(?!.*--)[a-z][a-z0-9-]{0,30}[a-z0-9]$")
PLACEHOLDER_NAME = re.compile(
    r'resource "azurerm_container_app_job" "placeholder" \{.*?\n  name\s*=\s*(?P<expression>[^\n]+)\n',
    re.DOTALL,
)
RUNNER_INPUTS = """
  location                         = "westeurope"
  resource_group_name              = "rg-probe"
  infrastructure_subnet_id = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/vnet/s"
  identity = { resource_id = "/subscriptions/0/id", client_id = "0" }
  image                            = { registry_login_server = "crprobe.azurecr.io", tag = "latest" }
  registration_key_vault_reference = "https://kv-probe.vault.azure.net/secrets/runner-registration-token"
  platform                         = "azure-pipelines"
  azure_pipelines                  = { organization_url = "https://dev.azure.com/org", pool_name = "pool" }
  tags                             = {}
"""


@pytest.fixture(scope="module")
def terraform() -> Terraform:
    return Terraform()


def _bootstrap_values(root: Path) -> dict[str, Any]:
    values = load_tfvars(root / BOOTSTRAP / "example.tfvars")
    return {
        name: values[name]
        for name in ("location", "location_short", "name_suffix", "state_storage_account_name", "tags")
    }


def _harness(tree: Path, work: Path, values: dict[str, Any], workloads: tuple[str, ...], probe: str) -> Path:
    """A root calling the bootstrap's names (variables.tf + naming.tf) per workload, and per workload
    and environment the runner module's variables.tf with its placeholder job's name expression."""
    names = work / "bootstrap_names"
    names.mkdir(parents=True)
    for file in ("variables.tf", "naming.tf"):
        shutil.copy2(tree / BOOTSTRAP / file, names / file)
    runner = work / "runner_probe"
    runner.mkdir()
    shutil.copy2(tree / RUNNER / "variables.tf", runner / "variables.tf")
    found = PLACEHOLDER_NAME.search((tree / RUNNER / "main.tf").read_text(encoding="utf-8"))
    assert found, "modules/ci_runner/main.tf has no placeholder job with a name; the anchor is out of date"
    (runner / "probe.tf").write_text(f'output "placeholder" {{\n  value = {found["expression"]}\n}}\n')
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

locals {{
  runners = merge([for workload, names in module.names : {{
    for env in ["dev", "prod"] : "${{workload}}/${{env}}" => {{
      name             = names.names.runner_job[env]
      placeholder_name = {probe}
    }}
  }}]...)
}}

module "runner" {{
  source           = "../runner_probe"
  for_each         = local.runners
  name             = each.value.name
  placeholder_name = each.value.placeholder_name
{RUNNER_INPUTS}
}}

output "placeholders" {{
  value = {{ for key, runner in module.runner : key => runner.placeholder }}
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
BOOTSTRAP_PLACEHOLDER = "names.names.runner_placeholder[env]"


def test_dev_and_prod_placeholders_differ_and_are_valid_for_every_workload_length(
    root: Path, tmp_path: Path, terraform: Terraform
) -> None:
    harness = _harness(root, tmp_path, _bootstrap_values(root), WORKLOADS, BOOTSTRAP_PLACEHOLDER)
    ok, output = _plan(terraform, harness)
    assert ok, output
    outputs = json.loads(output)["planned_values"]["outputs"]
    placeholders: dict[str, str] = outputs["placeholders"]["value"]
    names: dict[str, dict[str, Any]] = outputs["names"]["value"]
    for workload in WORKLOADS:
        dev, prod = placeholders[f"{workload}/dev"], placeholders[f"{workload}/prod"]
        assert dev != prod, f"workload {workload}: dev's and prod's placeholder jobs are both {dev}"
        jobs = {*names[workload]["runner_job"].values(), dev, prod}
        assert len(jobs) == 4, f"workload {workload}: the bootstrap group's jobs collide: {sorted(jobs)}"
        for job in jobs:
            assert CONTAINER_APP_JOB.match(job), f"{job} breaks the Container Apps job naming rule"
    # The bootstrap passes the same name to the module it calls.
    call = (root / BOOTSTRAP / "main.runner.tf").read_text(encoding="utf-8")
    assert "local.names.runner_placeholder[each.key]" in call


def test_the_review_s_cut_name_collides_for_an_8_character_workload(
    root: Path, tmp_path: Path, terraform: Terraform
) -> None:
    """The review's expression (the runner job's name cut to 20 characters) through the same harness:
    dev's and prod's placeholders come out equal, which the first test would refuse."""
    cut = 'format("%s-placeholder", trimsuffix(substr(names.names.runner_job[env], 0, 20), "-"))'
    harness = _harness(root, tmp_path, _bootstrap_values(root), ("abcdefgh",), cut)
    ok, output = _plan(terraform, harness)
    assert ok, output
    placeholders = json.loads(output)["planned_values"]["outputs"]["placeholders"]["value"]
    assert placeholders["abcdefgh/dev"] == placeholders["abcdefgh/prod"] == "caj-abcdefgh-runner-placeholder"


def test_the_runner_module_refuses_a_placeholder_named_like_its_runner_or_too_long(
    root: Path, tmp_path: Path, terraform: Terraform
) -> None:
    same = _harness(
        root, tmp_path / "same", _bootstrap_values(root), ("fcst",), "names.names.runner_job[env]"
    )
    ok, output = _plan(terraform, same)
    assert not ok
    assert "placeholder_name must differ from name: both jobs live in one resource group." in output
    long = _harness(
        root,
        tmp_path / "long",
        _bootstrap_values(root),
        ("abcdefgh",),  # caj-abcdefgh-runner-prod-placeholder: 36 characters
        '"${names.names.runner_job[env]}-placeholder"',
    )
    ok, output = _plan(terraform, long)
    assert not ok
    assert "placeholder_name must be 2-32 lowercase letters, digits and hyphens" in output


def test_a_vault_name_too_long_for_azure_fails_the_plan_with_the_rule(
    root: Path, tmp_path: Path, terraform: Terraform
) -> None:
    """workload (8) and name_suffix (9) make dev's runner vault 25 characters: Key Vault allows 24."""
    values = {**_bootstrap_values(root), "name_suffix": "p01234567"}
    harness = _harness(root, tmp_path, values, ("abcdefgh",), BOOTSTRAP_PLACEHOLDER)
    ok, output = _plan(terraform, harness)
    assert not ok
    assert (
        'runner_key_vault.dev "kv-abcdefgh-cid-p01234567" breaks the Key Vault: 3-24 letters, digits and '
        "hyphens, starting with a letter, ending with a letter or digit, no consecutive hyphens rule"
        in output
    )
    # Prod's vault (kv-abcdefgh-ci-p01234567) is 24 characters, exactly the limit: it passes.
    assert "runner_key_vault.prod" not in output
    assert "Shorten workload or name_suffix" in output


def _broken_copy(root: Path, tmp_path: Path, path: str, old: str, new: str) -> Path:
    """A copy of the bootstrap and the runner module with one piece of text replaced."""
    tree = tmp_path / "tree"
    for part in (BOOTSTRAP, RUNNER):
        shutil.copytree(root / part, tree / part, ignore=shutil.ignore_patterns(".terraform*"))
    file = tree / path
    text = file.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}; the test's anchor is out of date"
    file.write_text(text.replace(old, new, 1), encoding="utf-8")
    return tree


def test_the_registry_and_state_account_follow_the_same_rule(
    root: Path, tmp_path: Path, terraform: Terraform
) -> None:
    """One rule table for every bootstrap name: the registry (5-50 letters and digits) and the state
    storage account (3-24 lowercase letters and digits) are checked like the vaults. Neither can be
    broken through today's variables, so break the copy's name and validation instead."""
    tree = _broken_copy(
        root,
        tmp_path / "registry",
        "envs/bootstrap/naming.tf",
        'runner_registry  = "cr',
        'runner_registry  = "cr-',
    )
    ok, output = _plan(
        terraform,
        _harness(tree, tmp_path / "registry", _bootstrap_values(root), ("fcst",), BOOTSTRAP_PLACEHOLDER),
    )
    assert not ok
    assert (
        'runner_registry "cr-fcstcip01" breaks the container registry: 5-50 letters and digits rule' in output
    )
    tree = _broken_copy(
        root,
        tmp_path / "state",
        "envs/bootstrap/variables.tf",
        'can(regex("^[a-z0-9]{3,24}$", var.state_storage_account_name))',
        "var.state_storage_account_name != null",
    )
    values = {**_bootstrap_values(root), "state_storage_account_name": "st-fcst-tfstate"}
    ok, output = _plan(
        terraform, _harness(tree, tmp_path / "state", values, ("fcst",), BOOTSTRAP_PLACEHOLDER)
    )
    assert not ok
    assert (
        'state_storage_account "st-fcst-tfstate" breaks the storage account: '
        "3-24 lowercase letters and digits rule" in output
    )


def test_dev_and_prod_sharing_a_vault_name_fails_the_plan(
    root: Path, tmp_path: Path, terraform: Terraform
) -> None:
    """Azure DevOps and GitHub alike, dev's and prod's registration tokens live in two vaults: a name
    both environments share would put them in one."""
    tree = _broken_copy(
        root,
        tmp_path,
        "envs/bootstrap/naming.tf",
        'dev = "kv-${var.workload}-cid-${var.name_suffix}"',
        'dev = "kv-${var.workload}-ci-${var.name_suffix}"',
    )
    harness = _harness(tree, tmp_path / "work", _bootstrap_values(root), ("fcst",), BOOTSTRAP_PLACEHOLDER)
    ok, output = _plan(terraform, harness)
    assert not ok
    assert 'runner_key_vault: dev and prod are both "kv-fcst-ci-p01"' in output
