"""The naming convention (modules/naming) judged by real Terraform, offline: the module needs no
provider, so `terraform test` runs its own run blocks, and a small harness root plans it with
each stack's terraform.tfvars values."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stackctl.checks.parity import load_tfvars
from stackctl.tools import Terraform

pytestmark = pytest.mark.slow

NAMING_INPUTS = ("environment", "location_short", "name_suffix", "workload")
HARNESS = """
module "naming" {{
  source = "{source}"
{arguments}
}}

output "names" {{
  value = module.naming.names
}}
"""


@pytest.fixture(scope="module")
def terraform() -> Terraform:
    return Terraform()


def _copy_module(root: Path, target: Path) -> Path:
    module = target / "naming"
    shutil.copytree(root / "modules" / "naming", module, ignore=shutil.ignore_patterns(".terraform*"))
    return module


def _plan_names(
    terraform: Terraform, tmp_path: Path, module: Path, values: dict[str, str]
) -> tuple[int, str]:
    harness = tmp_path / "harness"
    harness.mkdir()
    arguments = "\n".join(f"  {name} = {json.dumps(values[name])}" for name in NAMING_INPUTS)
    (harness / "main.tf").write_text(HARNESS.format(source=module.as_posix(), arguments=arguments))
    init = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], harness)
    assert init.ok, init.stdout + init.stderr
    plan = terraform.run(["plan", "-input=false", "-no-color", "-out=names.tfplan"], harness)
    if not plan.ok:
        return 1, plan.stdout + plan.stderr
    shown = terraform.run(["show", "-json", "names.tfplan"], harness)
    assert shown.ok, shown.stderr
    return 0, shown.stdout


def test_terraform_test_of_the_naming_module(root: Path, tmp_path: Path, terraform: Terraform) -> None:
    module = _copy_module(root, tmp_path)
    init = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], module)
    assert init.ok, init.stdout + init.stderr
    result = terraform.run(["test", "-no-color"], module)
    assert result.ok, result.stdout + result.stderr
    assert "4 passed, 0 failed" in result.stdout


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_each_stack_gets_valid_names(root: Path, tmp_path: Path, terraform: Terraform, env: str) -> None:
    values = load_tfvars(root / "envs" / env / "terraform.tfvars")
    status, output = _plan_names(terraform, tmp_path, _copy_module(root, tmp_path), values)
    assert status == 0, output
    names = json.loads(output)["planned_values"]["outputs"]["names"]["value"]
    suffix = values["name_suffix"]
    assert names["data_lake"] == f"stdlfcst{env}weu{suffix}"
    assert names["training_endpoint"] == f"fcst-{env}-train-{suffix}"


def test_a_name_too_long_for_azure_fails_the_plan_with_the_rule(
    root: Path, tmp_path: Path, terraform: Terraform
) -> None:
    values = {**load_tfvars(root / "envs" / "dev" / "terraform.tfvars"), "workload": "forecasting"}
    status, output = _plan_names(terraform, tmp_path, _copy_module(root, tmp_path), values)
    assert status == 1
    flat = " ".join(output.replace("│", " ").split())
    assert (
        'key_vault name "kv-forecasting-dev-weu-d01" breaks the Key Vault: 3-24 letters, digits, hyphens rule'
        in flat
    )
    # The storage names are 24 characters here, exactly Azure's limit, so they still pass.
    assert "data_lake name" not in flat
