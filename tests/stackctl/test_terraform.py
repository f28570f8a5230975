"""Terraform runs and the guards around apply/destroy: missing or stale plans, prod rules, clear errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from stackctl.cli import main
from stackctl.errors import ExitStatus, StackctlError
from stackctl.terraform.env_root import EnvironmentTerraform
from stackctl.terraform.guards import (
    check_apply_allowed,
    confirm_destroy,
    mark_reviewed,
)
from stackctl.tools import Terraform

AZURERM_ROOT = """
terraform {
  required_providers {
    azurerm = { source = "hashicorp/azurerm", version = ">= 4.0, < 5.0" }
  }
%s
}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with Terraform code and a saved, fresh prod and dev plan."""
    root = tmp_path / "repo"
    for folder in ("infra", "modules/sql", "envs/dev", "envs/prod"):
        (root / folder).mkdir(parents=True)
        (root / folder / "main.tf").write_text("# code\n", encoding="utf-8")
    old = time.time() - 3600
    for path in root.rglob("*.tf"):
        os.utime(path, (old, old))
    for env in ("dev", "prod"):
        (root / "build" / env).mkdir(parents=True)
        (root / "build" / env / "tfplan").write_bytes(f"plan of {env}".encode())
    monkeypatch.setenv("FORECAST_STACK_ROOT", str(root))
    for variable in (
        "CI",
        "FORECAST_STACK_RELEASE",
        "GITHUB_REF_NAME",
        "BUILD_SOURCEBRANCHNAME",
        "CI_COMMIT_REF_NAME",
    ):
        monkeypatch.delenv(variable, raising=False)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    return root


def plan_of(root: Path, env: str) -> Path:
    return root / "build" / env / "tfplan"


def test_apply_refuses_a_missing_plan(repo: Path) -> None:
    plan_of(repo, "dev").unlink()
    with pytest.raises(StackctlError, match="no saved plan for dev") as caught:
        check_apply_allowed(repo, "dev", plan_of(repo, "dev"))
    assert "make plan ENV=dev" in str(caught.value.fix)


def test_apply_cli_with_a_missing_plan_exits_setup_fault_and_says_what_to_do(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan_of(repo, "dev").unlink()
    assert main(["apply", "--env", "dev"]) == ExitStatus.SETUP_FAULT
    err = capsys.readouterr().err
    assert "error: no saved plan for dev" in err
    assert "fix:   run `make plan ENV=dev`" in err


@pytest.mark.parametrize("changed", ["infra/main.tf", "modules/sql/main.tf", "envs/dev/main.tf"])
def test_apply_refuses_a_plan_older_than_the_terraform_code(repo: Path, changed: str) -> None:
    (repo / changed).write_text("# edited after planning\n", encoding="utf-8")
    with pytest.raises(StackctlError, match="older than a change") as caught:
        check_apply_allowed(repo, "dev", plan_of(repo, "dev"))
    assert changed in caught.value.what


def test_a_change_to_the_other_environment_does_not_stale_the_plan(repo: Path) -> None:
    (repo / "envs" / "prod" / "main.tf").write_text("# prod only\n", encoding="utf-8")
    check_apply_allowed(repo, "dev", plan_of(repo, "dev"))


def test_prod_apply_refuses_outside_a_release_branch(repo: Path) -> None:
    mark_reviewed(plan_of(repo, "prod"))
    with pytest.raises(StackctlError, match="only from a release/\\* branch"):
        check_apply_allowed(repo, "prod", plan_of(repo, "prod"))


def test_prod_apply_on_a_release_branch_needs_the_review_marker(repo: Path) -> None:
    subprocess.run(["git", "-C", str(repo), "checkout", "-q", "-b", "release/1.0"], check=True)
    with pytest.raises(StackctlError, match="not been marked as reviewed"):
        check_apply_allowed(repo, "prod", plan_of(repo, "prod"))
    mark_reviewed(plan_of(repo, "prod"))
    check_apply_allowed(repo, "prod", plan_of(repo, "prod"))


def test_prod_apply_refuses_a_plan_that_changed_after_review(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_REF_NAME", "release/2.1")
    mark_reviewed(plan_of(repo, "prod"))
    plan_of(repo, "prod").write_bytes(b"a different plan")
    with pytest.raises(StackctlError, match="changed after it was reviewed"):
        check_apply_allowed(repo, "prod", plan_of(repo, "prod"))


def test_prod_apply_in_ci_needs_both_ci_and_the_release_declaration(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark_reviewed(plan_of(repo, "prod"))
    monkeypatch.setenv("FORECAST_STACK_RELEASE", "1")
    with pytest.raises(StackctlError, match="release/"):
        check_apply_allowed(repo, "prod", plan_of(repo, "prod"))
    monkeypatch.setenv("CI", "true")
    check_apply_allowed(repo, "prod", plan_of(repo, "prod"))


def test_prod_destroy_needs_the_flag_and_typing_prod() -> None:
    with pytest.raises(StackctlError, match="without --allow-prod"):
        confirm_destroy("prod", yes=True, allow_prod=False, prompt=lambda _: "prod")
    with pytest.raises(StackctlError, match="not confirmed"):
        confirm_destroy("prod", yes=True, allow_prod=True, prompt=lambda _: "y")
    confirm_destroy("prod", yes=False, allow_prod=True, prompt=lambda _: "prod")


def test_dev_destroy_asks_unless_yes_and_silence_is_not_consent() -> None:
    confirm_destroy("dev", yes=True, allow_prod=False, prompt=lambda _: pytest.fail("must not ask"))
    confirm_destroy("dev", yes=False, allow_prod=False, prompt=lambda _: "y")

    def closed_stdin(_: str) -> str:
        raise EOFError

    with pytest.raises(StackctlError, match="not confirmed"):
        confirm_destroy("dev", yes=False, allow_prod=False, prompt=closed_stdin)


def test_destroy_prod_cli_without_the_flag_destroys_nothing(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["destroy", "--env", "prod", "--yes"]) == ExitStatus.SETUP_FAULT
    assert "refusing to destroy prod without --allow-prod" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["plan", "apply", "deploy", "destroy"])
def test_an_unknown_env_is_rejected_with_the_valid_ones(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([command, "--env", "staging"]) == ExitStatus.SETUP_FAULT
    assert "unknown environment 'staging'; valid: local, dev, prod" in capsys.readouterr().err


def test_plan_without_backend_config_says_how_to_write_it(repo: Path) -> None:
    with pytest.raises(StackctlError, match="backend config of dev is missing") as caught:
        EnvironmentTerraform("dev", root=repo).init()
    assert "scripts/write_backend_config.sh dev" in str(caught.value.fix)


needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform binary on PATH")


def _azurerm_root(root: Path, env: str, backend: str) -> None:
    (root / "envs" / env / "main.tf").write_text(AZURERM_ROOT % backend, encoding="utf-8")
    _azurerm_backend_config(root, env)


def _azurerm_backend_config(root: Path, env: str) -> None:
    (root / "envs" / env / "backend.hcl").write_text(
        'resource_group_name = "rg-tfstate"\nstorage_account_name = "sttfstate"\n'
        'container_name = "tfstate"\n',
        encoding="utf-8",
    )


@needs_terraform
def test_init_with_the_registry_unreachable_says_so_and_what_to_do(repo: Path) -> None:
    """The real terraform, offline: it cannot download azurerm from registry.terraform.io."""
    _azurerm_root(repo, "dev", "")
    with pytest.raises(StackctlError, match=r"registry \(registry.terraform.io\) is unreachable") as caught:
        EnvironmentTerraform("dev", root=repo, terraform=Terraform()).init()
    assert "provider mirror" in str(caught.value.fix)


@needs_terraform
def test_init_without_azure_login_says_to_run_az_login(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real terraform with an azurerm backend and no Azure CLI login (nor OIDC variables)."""
    _azurerm_root(repo, "dev", '  backend "azurerm" {\n    key = "dev.tfstate"\n  }')
    for variable in [v for v in os.environ if v.startswith(("ARM_", "AZURE_"))]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("PATH", str(Path(shutil.which("terraform") or "").parent))  # no `az` on it
    with pytest.raises(StackctlError, match="not logged in to Azure") as caught:
        EnvironmentTerraform("dev", root=repo, terraform=Terraform()).init()
    assert "az login" in str(caught.value.fix)
    assert "ARM_USE_OIDC" in str(caught.value.fix)


def test_plan_json_is_written_from_terraform_show(repo: Path) -> None:
    """plan → show -json → build/<env>/plan.json, with a recording Terraform stand-in for the binary."""

    class RecordingTerraform(Terraform):
        def __init__(self) -> None:
            super().__init__(binary="terraform-recording", prefer_path=False)
            self.calls: list[list[str]] = []

        def run(self, args, cwd, *, env=None):  # type: ignore[no-untyped-def]
            from stackctl.tools import ToolResult

            self.calls.append(list(args))
            if args[0] == "show":
                return ToolResult(
                    0,
                    json.dumps({"resource_changes": [{"address": "x.y", "change": {"actions": ["create"]}}]}),
                    "",
                )
            return ToolResult(0, "", "")

    terraform = RecordingTerraform()
    stack = EnvironmentTerraform("dev", root=repo, terraform=terraform)
    assert stack.plan() == stack.plan_json
    assert json.loads(stack.plan_json.read_text(encoding="utf-8"))["resource_changes"][0]["address"] == "x.y"
    assert terraform.calls[0][:1] == ["plan"]
    assert f"-out={stack.plan_file}" in terraform.calls[0]
    assert terraform.calls[1] == ["show", "-json", "-no-color", str(stack.plan_file)]


REPO = Path(__file__).resolve().parents[2]


@needs_terraform
@pytest.mark.skipif(not (REPO / "envs" / "dev" / "main.tf").exists(), reason="envs/dev is not written yet")
def test_plan_of_the_real_dev_root_without_azure_login_says_to_run_az_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`stackctl plan --env dev` on a copy of the real stack, offline and logged out: one clear message."""
    root = tmp_path / "repo"
    for folder in ("infra", "modules", "envs/dev"):
        shutil.copytree(
            REPO / folder, root / folder, ignore=shutil.ignore_patterns(".terraform", "backend.hcl")
        )
    _azurerm_backend_config(root, "dev")
    monkeypatch.setenv("FORECAST_STACK_ROOT", str(root))
    for variable in [v for v in os.environ if v.startswith(("ARM_", "AZURE_"))]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("PATH", str(Path(shutil.which("terraform") or "").parent))
    assert main(["plan", "--env", "dev"]) == ExitStatus.SETUP_FAULT
    err = capsys.readouterr().err
    assert "error: terraform init: not logged in to Azure" in err
    assert "az login" in err
    assert not (root / "build" / "dev" / "tfplan").exists()
