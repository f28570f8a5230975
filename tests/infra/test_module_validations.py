"""`terraform test` of each module's provider-free logic, its input validations, offline.

The azurerm provider cannot be installed here, so `terraform test` cannot init a module that uses it.
Its validations need no provider: each module's `tests/validations.tftest.hcl` runs against a
stand-in holding the module's variables.tf alone (and the test file), where Terraform itself plans
the runs and judges every `expect_failures`. modules/naming, provider-free as a whole, runs its own
tests on the real module (test_naming_module.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackctl.checks.layout import module_dirs
from stackctl.tools import Terraform

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TESTED = sorted(d.name for d in module_dirs(REPO) if (d / "tests" / "validations.tftest.hcl").is_file())


@pytest.fixture(scope="module")
def terraform() -> Terraform:
    return Terraform()


def variables_stand_in(module: Path, target: Path) -> Path:
    """`target` holding the module's variables.tf and its validations test, nothing that needs a provider."""
    (target / "tests").mkdir(parents=True)
    shutil.copy2(module / "variables.tf", target / "variables.tf")
    shutil.copy2(module / "tests" / "validations.tftest.hcl", target / "tests" / "validations.tftest.hcl")
    return target


def run_tests(terraform: Terraform, directory: Path) -> tuple[bool, str]:
    init = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], directory)
    assert init.ok, init.stdout + init.stderr
    result = terraform.run(["test", "-no-color"], directory)
    return result.ok, result.stdout + result.stderr


def test_the_modules_with_provider_free_validations_test_them() -> None:
    assert {"data_lake", "key_vault", "monitoring", "network", "sql"} <= set(TESTED)


@pytest.mark.parametrize("name", TESTED)
def test_the_module_validations_refuse_what_they_should(
    name: str, tmp_path: Path, terraform: Terraform
) -> None:
    stand_in = variables_stand_in(REPO / "modules" / name, tmp_path / name)
    ok, output = run_tests(terraform, stand_in)
    assert ok, output
    runs = (stand_in / "tests" / "validations.tftest.hcl").read_text(encoding="utf-8").count('\nrun "')
    assert f"{runs} passed, 0 failed" in output, output


def test_a_validation_that_no_longer_refuses_fails_its_test(tmp_path: Path, terraform: Terraform) -> None:
    """The harness can fail: a broken copy of key_vault's sku validation (accepting anything)."""
    stand_in = variables_stand_in(REPO / "modules" / "key_vault", tmp_path / "key_vault")
    variables = stand_in / "variables.tf"
    text = variables.read_text(encoding="utf-8")
    broken = text.replace('contains(["standard", "premium"], var.sku_name)', "var.sku_name != null")
    assert broken != text
    variables.write_text(broken, encoding="utf-8")
    ok, output = run_tests(terraform, stand_in)
    assert not ok
    assert "an_unknown_sku_is_refused" in output
