"""Terraform's output reaches the job log (CI always, locally with --verbose) and build/<env>/; a
failure shows Terraform's real cause; destroy lists what goes and where, then applies that plan."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest

from stackctl.audit.plan import parse_plan
from stackctl.audit.summary import subscriptions_in_plan
from stackctl.cli import LOG_COLUMNS, main, size_console_for_logs
from stackctl.errors import ExitStatus, StackctlError
from stackctl.terraform.env_root import EnvironmentTerraform, classify_failure, terraform_errors
from stackctl.tools import Terraform, ToolResult

SUBSCRIPTION = "0b1f6471-1bf0-4dda-aec3-111122223333"
AZ_MISSING = """
Error: building account: could not acquire access token to parse claims: running Azure CLI: \
exec: "az": executable file not found in $PATH

  with provider["registry.terraform.io/hashicorp/azurerm"],
  on main.tf line 2, in provider "azurerm":
"""
# Plan JSON as `terraform show -json` writes it (format 1.x; each change with mode, type and name), so the
# destroy flow reads it through the one plan model (stackctl.audit.plan) as it reads a real plan.
PLAN_HEADER = {"format_version": "1.2", "terraform_version": "1.9.8"}
NO_CHANGES_PLAN = {**PLAN_HEADER, "resource_changes": []}
DESTROY_PLAN = {
    **PLAN_HEADER,
    "resource_changes": [
        {
            "address": "module.stack.azurerm_resource_group.this",
            "mode": "managed",
            "type": "azurerm_resource_group",
            "name": "this",
            "change": {
                "actions": ["delete"],
                "before": {"id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-fcst-dev-weu"},
            },
        },
        {
            "address": "module.stack.module.sql.azurerm_mssql_server.this",
            "mode": "managed",
            "type": "azurerm_mssql_server",
            "name": "this",
            "change": {
                "actions": ["delete"],
                "before": {
                    "id": f"/subscriptions/{SUBSCRIPTION}/resourceGroups/rg-fcst-dev-weu"
                    "/providers/Microsoft.Sql/servers/sql-x"
                },
            },
        },
    ],
}


needs_terraform = pytest.mark.skipif(shutil.which("terraform") is None, reason="no terraform on PATH")


class RecordingTerraform(Terraform):
    """Stands in for the terraform binary: records each call and answers from `script`."""

    calls: ClassVar[list[list[str]]] = []
    script: ClassVar[dict[str, ToolResult]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(binary="terraform-recording", prefer_path=False)

    def run(self, args: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None) -> ToolResult:
        RecordingTerraform.calls.append(list(args))
        for arg in args:  # terraform plan writes its -out file
            if arg.startswith("-out="):
                Path(arg.removeprefix("-out=")).write_bytes(b"saved plan")
        for prefix, result in RecordingTerraform.script.items():
            if " ".join(args).startswith(prefix):
                return result
        return ToolResult(0, "", "")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    for folder in ("infra", "modules", "envs/dev", "envs/prod"):
        (root / folder).mkdir(parents=True)
        (root / folder / "main.tf").write_text("# code\n", encoding="utf-8")
    for env in ("dev", "prod"):
        (root / "envs" / env / "backend.hcl").write_text('container_name = "tfstate"\n', encoding="utf-8")
    old = time.time() - 600
    for path in root.rglob("*"):
        os.utime(path, (old, old))
    monkeypatch.setenv("FORECAST_STACK_ROOT", str(root))
    for variable in [v for v in os.environ if v.startswith(("ARM_", "AZURE_", "ACTIONS_"))]:
        monkeypatch.delenv(variable)
    for variable in ("CI", "GITHUB_ACTIONS", "TF_BUILD", "FORECAST_STACK_RELEASE", "BUILD_SOURCEBRANCH"):
        monkeypatch.delenv(variable, raising=False)
    RecordingTerraform.calls = []
    RecordingTerraform.script = {
        "plan": ToolResult(0, "Plan: 0 to add, 0 to change, 2 to destroy.\n", ""),
        "show": ToolResult(0, json.dumps(DESTROY_PLAN), ""),
    }
    monkeypatch.setattr("stackctl.terraform.env_root.Terraform", RecordingTerraform)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    return root


def test_plan_streams_terraform_output_in_ci_and_keeps_the_full_log(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CI", "true")
    RecordingTerraform.script["plan"] = ToolResult(0, "module.stack.x: Refreshing...\nPlan: 1 to add\n", "")
    echoed: list[str] = []
    stack = EnvironmentTerraform("dev", root=repo, echo=echoed.append)
    stack.init()
    stack.plan()
    assert "module.stack.x: Refreshing..." in echoed
    log = (repo / "build" / "dev" / "terraform-plan.log").read_text(encoding="utf-8")
    assert "module.stack.x: Refreshing...\nPlan: 1 to add\n" in log
    assert log.startswith("$ terraform plan ")
    assert (repo / "build" / "dev" / "terraform-init.log").is_file()


def test_locally_terraform_is_quiet_unless_verbose_but_always_logged(repo: Path) -> None:
    RecordingTerraform.script["plan"] = ToolResult(0, "Plan: 1 to add\n", "")
    echoed: list[str] = []
    EnvironmentTerraform("dev", root=repo, echo=echoed.append).plan()
    assert echoed == []
    assert "Plan: 1 to add" in (repo / "build" / "dev" / "terraform-plan.log").read_text(encoding="utf-8")
    EnvironmentTerraform("dev", root=repo, echo=echoed.append, stream=True).plan()
    assert "Plan: 1 to add" in echoed


def test_plan_cli_verbose_prints_terraform_lines(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    RecordingTerraform.script["plan"] = ToolResult(
        0, "module.stack.azurerm_resource_group.this: Refreshing state...\n", ""
    )
    RecordingTerraform.script["show"] = ToolResult(0, json.dumps(NO_CHANGES_PLAN), "")
    assert main(["plan", "--env", "dev", "--verbose"]) == 0
    assert "module.stack.azurerm_resource_group.this: Refreshing state..." in capsys.readouterr().out


def test_a_real_process_is_streamed_line_by_line_with_stderr_in_order(tmp_path: Path) -> None:
    fake = tmp_path / "terraform"
    fake.write_text("#!/bin/sh\necho one\necho two >&2\necho three\nexit 3\n", encoding="utf-8")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    seen: list[str] = []
    result = Terraform(str(fake)).run_streaming(["plan"], tmp_path, seen.append)
    assert seen == ["one", "two", "three"]
    assert result.returncode == 3
    assert "two" in result.stderr  # failure classifiers read stderr


def test_with_arm_variables_set_the_real_cause_is_shown_not_not_logged_in() -> None:
    """The case from the issue: no az CLI, ARM_* set; Terraform's own error is the message."""
    result = ToolResult(1, "", AZ_MISSING)
    error = classify_failure(
        result,
        "plan",
        "envs/dev",
        environ={"ARM_USE_OIDC": "true", "ARM_CLIENT_ID": "x"},
        log=Path("build/dev/terraform-plan.log"),
    )
    assert "not logged in" not in error.what
    assert 'exec: "az": executable file not found' in error.what
    assert "ARM_CLIENT_ID, ARM_USE_OIDC" in error.what
    assert "id-token: write" in str(error.fix)
    assert "build/dev/terraform-plan.log" in str(error.fix)


def test_without_arm_variables_a_missing_az_is_named_with_the_install_fix() -> None:
    error = classify_failure(ToolResult(1, "", AZ_MISSING), "init", "envs/dev", environ={})
    assert error.what.startswith(
        "terraform init: not logged in to Azure: the Azure CLI (az) is not installed"
    )
    assert "install-azure-cli" in str(error.fix)


def test_terraform_errors_reads_both_diagnostic_formats() -> None:
    boxed = "╷\n│ Error: Failed to get existing workspaces: containers.Client#ListBlobs: 403\n│ \n╵\n"
    assert terraform_errors(boxed) == [
        "Error: Failed to get existing workspaces: containers.Client#ListBlobs: 403"
    ]
    assert terraform_errors(AZ_MISSING)[0].startswith("Error: building account")


@needs_terraform
def test_real_terraform_without_az_but_with_arm_ids_reports_the_exec_error(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real terraform and azurerm backend, offline: ARM ids set, no az on PATH."""
    monkeypatch.setattr("stackctl.terraform.env_root.Terraform", Terraform)
    (repo / "envs" / "dev" / "main.tf").write_text(
        'terraform {\n  backend "azurerm" {\n    key = "dev.tfstate"\n  }\n}\n', encoding="utf-8"
    )
    (repo / "envs" / "dev" / "backend.hcl").write_text(
        'resource_group_name = "rg"\nstorage_account_name = "sttfstate"\ncontainer_name = "tfstate"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("ARM_CLIENT_ID", "11111111-1111-4111-8111-111111111111")
    monkeypatch.setenv("ARM_TENANT_ID", "22222222-2222-4222-8222-222222222222")
    monkeypatch.setenv("ARM_SUBSCRIPTION_ID", SUBSCRIPTION)
    monkeypatch.setenv("PATH", str(Path(shutil.which("terraform") or "").parent))
    with pytest.raises(StackctlError) as caught:
        EnvironmentTerraform("dev", root=repo, terraform=Terraform()).init()
    assert "not logged in" not in caught.value.what
    assert "ARM variables" in caught.value.what
    assert "Terraform said" in caught.value.what


def test_plan_carries_the_lock_file_and_apply_restores_it(repo: Path) -> None:
    lock = repo / "envs" / "dev" / ".terraform.lock.hcl"
    lock.write_text(
        'provider "registry.terraform.io/hashicorp/azurerm" {\n  version = "4.73.0"\n}\n', encoding="utf-8"
    )
    RecordingTerraform.script["show"] = ToolResult(0, json.dumps(NO_CHANGES_PLAN), "")
    stack = EnvironmentTerraform("dev", root=repo)
    stack.plan()
    carried = repo / "build" / "dev" / ".terraform.lock.hcl"
    assert carried.read_text(encoding="utf-8") == lock.read_text(encoding="utf-8")
    lock.write_text(
        'provider "registry.terraform.io/hashicorp/azurerm" {\n  version = "4.99.0"\n}\n', encoding="utf-8"
    )
    stack.init(restore_planned_lock=True)
    assert '"4.73.0"' in lock.read_text(encoding="utf-8")


def test_destroy_lists_resources_and_subscription_then_applies_that_plan(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("builtins.input", lambda question: "y")
    assert main(["destroy", "--env", "dev"]) == 0
    out = capsys.readouterr().out
    assert SUBSCRIPTION in out
    assert "module.stack.module.sql.azurerm_mssql_server.this" in out
    destroy_plan = str(repo / "build" / "dev" / "destroy.tfplan")
    assert RecordingTerraform.calls[1][0] == "plan"
    assert "-destroy" in RecordingTerraform.calls[1]
    assert f"-out={destroy_plan}" in RecordingTerraform.calls[1]
    applied = RecordingTerraform.calls[-1]
    assert applied[0] == "apply"
    assert applied[-1] == destroy_plan
    assert not any("-auto-approve" in call for call in RecordingTerraform.calls)


def test_destroy_not_confirmed_applies_nothing(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("builtins.input", lambda question: "n")
    assert main(["destroy", "--env", "dev"]) == ExitStatus.SETUP_FAULT
    assert not any(call[0] == "apply" for call in RecordingTerraform.calls)


def test_destroy_checks_the_login_before_asking(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr("builtins.input", lambda question: asked.append(question) or "y")
    RecordingTerraform.script = {"plan": ToolResult(1, "", "Error: building account: Please run 'az login'")}
    assert main(["destroy", "--env", "dev"]) == ExitStatus.SETUP_FAULT
    assert asked == []


def test_prod_destroy_without_the_flag_runs_no_terraform(repo: Path) -> None:
    assert main(["destroy", "--env", "prod"]) == ExitStatus.SETUP_FAULT
    assert RecordingTerraform.calls == []


def test_subscriptions_are_read_from_the_resource_ids() -> None:
    assert subscriptions_in_plan(parse_plan(DESTROY_PLAN)) == [SUBSCRIPTION]
    created = {**DESTROY_PLAN["resource_changes"][0], "change": {"actions": ["create"], "before": None}}
    assert subscriptions_in_plan(parse_plan({**PLAN_HEADER, "resource_changes": [created]})) == []


def test_a_log_gets_a_wide_console_a_terminal_or_set_columns_does_not() -> None:
    environ: dict[str, str] = {}
    size_console_for_logs(environ)  # pytest captures stdout: not a terminal
    assert environ["COLUMNS"] == str(LOG_COLUMNS)
    environ = {"COLUMNS": "100"}
    size_console_for_logs(environ)
    assert environ["COLUMNS"] == "100"


def test_azure_pipelines_release_branch_is_read_from_the_full_source_branch(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Build.SourceBranchName of release/1.0 is "1.0"; Build.SourceBranch keeps refs/heads/release/1.0."""
    from stackctl.terraform.guards import check_release_context, current_branch

    monkeypatch.setenv("BUILD_SOURCEBRANCHNAME", "1.0")
    monkeypatch.setenv("BUILD_SOURCEBRANCH", "refs/heads/release/1.0")
    assert current_branch(repo) == "release/1.0"
    check_release_context(repo)
    monkeypatch.setenv("BUILD_SOURCEBRANCH", "refs/heads/main")
    with pytest.raises(StackctlError, match="prod is applied only from a release/\\* branch"):
        check_release_context(repo)


def test_azure_pipelines_counts_as_ci_for_the_release_declaration(monkeypatch: pytest.MonkeyPatch) -> None:
    from stackctl.terraform.guards import ci_declares_release

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("FORECAST_STACK_RELEASE", "1")
    monkeypatch.delenv("TF_BUILD", raising=False)
    assert not ci_declares_release()
    monkeypatch.setenv("TF_BUILD", "True")
    assert ci_declares_release()
