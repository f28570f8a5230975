"""`terraform test` of the stack's own input validations (infra/variables.tf), offline.

infra/ needs the azurerm provider, which cannot be installed here; its variable validations do not.
`infra/tests/validations.tftest.hcl` runs against a stand-in holding infra/variables.tf, the test file
and an env's terraform.tfvars (what envs/<env> feeds infra/), so Terraform itself plans each run and
judges every `expect_failures`, with the values each env really has (issue 20: the distributed train
step's cluster, nodes and processes per node)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackctl.tools import Terraform

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
TEST_FILE = Path("tests") / "validations.tftest.hcl"


@pytest.fixture(scope="module")
def terraform() -> Terraform:
    return Terraform()


def stand_in(tree: Path, env: str, target: Path) -> Path:
    """`target` holding infra/variables.tf, its validations test and envs/<env>/terraform.tfvars."""
    (target / "tests").mkdir(parents=True)
    shutil.copy2(tree / "infra" / "variables.tf", target / "variables.tf")
    shutil.copy2(tree / "infra" / TEST_FILE, target / TEST_FILE)
    shutil.copy2(tree / "envs" / env / "terraform.tfvars", target / "terraform.tfvars")
    return target


def run_tests(terraform: Terraform, directory: Path) -> tuple[bool, str]:
    init = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], directory)
    assert init.ok, init.stdout + init.stderr
    result = terraform.run(["test", "-no-color"], directory)
    return result.ok, result.stdout + result.stderr


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_stack_validations_refuse_what_they_should_with_each_envs_values(
    env: str, tmp_path: Path, terraform: Terraform
) -> None:
    directory = stand_in(REPO, env, tmp_path / env)
    ok, output = run_tests(terraform, directory)
    assert ok, output
    runs = (REPO / "infra" / TEST_FILE).read_text(encoding="utf-8").count('\nrun "')
    assert f"{runs} passed, 0 failed" in output, output


@pytest.mark.parametrize(
    ("old", "new", "failing_run"),
    [
        # the node-count rule dropped: a job asking for more nodes than its cluster has passes
        (
            'condition     = var.aml.train_instance_count <= (var.aml.train_compute == "gpu" ? '
            "var.aml.gpu_max_nodes : var.aml.cpu_max_nodes)",
            "condition     = var.aml.train_instance_count >= 1",
            "more_cpu_nodes_than_the_cpu_cluster_has_is_refused",
        ),
        # the rule checked against the wrong cluster
        (
            '(var.aml.train_compute == "gpu" ? var.aml.gpu_max_nodes : var.aml.cpu_max_nodes)',
            "var.aml.gpu_max_nodes",
            "more_cpu_nodes_than_the_cpu_cluster_has_is_refused",
        ),
        # the enum accepting any letter case
        (
            'contains(["cpu", "gpu"], var.aml.train_compute)',
            'contains(["cpu", "gpu"], lower(var.aml.train_compute))',
            "train_compute_in_capitals_is_refused",
        ),
    ],
)
def test_a_broken_copy_of_a_validation_fails_its_run(
    old: str, new: str, failing_run: str, tmp_path: Path, terraform: Terraform
) -> None:
    directory = stand_in(REPO, "dev", tmp_path / "dev")
    variables = directory / "variables.tf"
    text = variables.read_text(encoding="utf-8")
    assert old in text, f"infra/variables.tf no longer holds {old!r}: update this broken copy"
    variables.write_text(text.replace(old, new), encoding="utf-8")
    ok, output = run_tests(terraform, directory)
    assert not ok
    assert f'run "{failing_run}"... fail' in output, output
