"""The cloud stack of dev or prod: Terraform in envs/<env>, then the model, AML assets and SQL on top.

plan: terraform init + plan into build/<env>/ (or mark the saved plan reviewed);
apply: applies the saved plan only (guards in `stackctl.terraform.guards`), then deploys;
deploy: reads `terraform output -json` (the `stack` output), builds the model wheel and the AML
environment, creates what is new among components, pipeline components, batch endpoints with
pipeline-component deployments and schedules (content hashes decide), and applies the idempotent
T-SQL of the reporting schema and the contained users of the AML and ADF identities;
destroy: after `confirm_destroy`, terraform destroy.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from stackctl.aml.stack_output import StackOutput, parse_stack_output
from stackctl.errors import ExitStatus
from stackctl.paths import build_dir
from stackctl.terraform.env_root import EnvironmentTerraform, PlanSummary

SqlExecutor = Callable[[list[str]], None]
MAX_LISTED = 25


def read_stack(
    env: str, root: Path, console: Console, stack: EnvironmentTerraform | None = None
) -> StackOutput:
    """The `stack` output of the env, saved to build/<env>/stack.json for `pipelines dump` and reviewers."""
    terraform = stack or EnvironmentTerraform(env, root=root)
    with console.status("terraform output"):
        if stack is None:
            terraform.init()
        outputs = terraform.output_json()
    parsed = parse_stack_output(outputs, where=f"terraform output -json (envs/{env})")
    target = build_dir(env, root) / "stack.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(
        json.dumps({"stack": {"value": parsed.model_dump(by_alias=True)}}, indent=2), encoding="utf-8"
    )
    return parsed


def deploy_assets(
    stack_output: StackOutput,
    env: str,
    root: Path,
    console: Console,
    *,
    client: Any = None,
    credential: Any = None,
    sql_executor: SqlExecutor | None = None,
    skip_sql: bool = False,
) -> Any:
    from stackctl.aml.azure import azure_credential, ml_client
    from stackctl.aml.deployer import AmlDeployer
    from stackctl.aml.environment import environment_version, write_build_context
    from stackctl.aml.specs import build_assets
    from stackctl.sql.database import (
        ADF_PERMISSIONS,
        AML_PERMISSIONS,
        ContainedUser,
        azure_sql_engine,
        mssql_statements,
        run_statements,
    )

    with console.status("building the model wheel and the environment build context"):
        version = environment_version(root)
        context = write_build_context(root, build_dir(env, root) / "environment")
    assets = build_assets(stack_output, version, context)
    if client is None:
        credential = credential or azure_credential()
        client = ml_client(stack_output, credential)
    report = AmlDeployer(client, console).deploy(assets)
    if report.no_changes:
        console.print(f"[green]no changes[/]: all {len(report.unchanged)} AML assets are up to date")
    else:
        console.print(
            f"created or updated {len(report.created)} AML assets, {len(report.unchanged)} unchanged"
        )

    if not skip_sql:
        users = [
            ContainedUser(stack_output.sql.aad_principals.aml, AML_PERMISSIONS),
            ContainedUser(stack_output.sql.aad_principals.adf, ADF_PERMISSIONS),
        ]
        statements = mssql_statements(users)
        if sql_executor is None:
            engine = azure_sql_engine(
                stack_output.sql.server_fqdn, stack_output.sql.database_name, credential or azure_credential()
            )

            def sql_executor(batch: list[str]) -> None:
                run_statements(engine, batch)

        with console.status("SQL reporting schema"):
            sql_executor(statements)
        console.print(
            f"[green]✓[/] reporting schema, views and contained users ensured ({len(statements)} statements)"
        )
    return report


def print_plan_summary(console: Console, env: str, summary: PlanSummary) -> None:
    if summary.no_changes:
        console.print(f"[green]{env}: no changes[/] - the infrastructure matches the configuration")
        return
    console.print(
        f"[bold]{env}[/]: [green]{summary.adds} to add[/], [yellow]{summary.changes} to change[/], "
        f"[red]{summary.destroys} to destroy[/]"
        + (f" ({summary.replaces} replaced)" if summary.replaces else "")
    )
    table = Table(show_header=False, box=None)
    colours = {"create": "green", "update": "yellow", "delete": "red", "replace": "magenta"}
    for action, address in summary.resources[:MAX_LISTED]:
        table.add_row(f"[{colours[action]}]{action}[/]", address)
    console.print(table)
    if len(summary.resources) > MAX_LISTED:
        console.print(f"... and {len(summary.resources) - MAX_LISTED} more (see plan.json or `make audit`)")


class CloudStack:
    """dev or prod: the `Stack` operations on Terraform, Azure ML and Azure SQL."""

    def __init__(self, env: str, root: Path):
        self.env = env
        self.root = root
        self.terraform = EnvironmentTerraform(env, root=root)

    def plan(self, console: Console, *, destroy: bool = False, mark_reviewed: bool = False) -> int:
        from stackctl.terraform.guards import mark_reviewed as record_review

        stack = self.terraform
        if mark_reviewed:
            marker = record_review(stack.plan_file)
            console.print(f"marked {stack.plan_file} as reviewed ({marker})")
            return ExitStatus.OK
        with console.status(f"terraform init ({stack.terraform.source})"):
            stack.init()
        with console.status(f"terraform plan {self.env}"):
            summary = stack.plan(destroy=destroy)
        print_plan_summary(console, self.env, summary)
        console.print(f"saved plan: {stack.plan_file}\nplan JSON:  {stack.plan_json}")
        if self.env == "prod":
            console.print(
                "next: `make audit ENV=prod`, review, then `make plan ENV=prod ARGS=--mark-reviewed`"
            )
        return ExitStatus.OK

    def apply(self, console: Console, *, skip_deploy: bool = False) -> int:
        from stackctl.terraform.guards import check_apply_allowed

        stack = self.terraform
        check_apply_allowed(self.root, self.env, stack.plan_file)
        with console.status(f"terraform init ({stack.terraform.source})"):
            stack.init()
        with console.status(f"terraform apply {stack.plan_file}"):
            stack.apply_saved_plan()
        console.print(f"[green]✓[/] applied {stack.plan_file}")
        # A saved plan can be applied once; remove it so nobody applies it (or its marker) twice.
        stack.plan_file.unlink(missing_ok=True)
        (stack.plan_file.parent / "plan.reviewed").unlink(missing_ok=True)
        if skip_deploy:
            return ExitStatus.OK
        stack_output = read_stack(self.env, self.root, console, self.terraform)
        deploy_assets(stack_output, self.env, self.root, console)
        return ExitStatus.OK

    def deploy(self, console: Console, *, skip_sql: bool = False) -> int:
        stack_output = read_stack(self.env, self.root, console)
        deploy_assets(stack_output, self.env, self.root, console, skip_sql=skip_sql)
        return ExitStatus.OK

    def destroy(self, console: Console) -> int:
        stack = self.terraform
        with console.status(f"terraform init ({stack.terraform.source})"):
            stack.init()
        with console.status(f"terraform destroy {self.env}"):
            stack.destroy()
        console.print(f"[red]destroyed[/] {self.env}")
        return ExitStatus.OK

    def stack_output(self, console: Console, saved: Path | None = None) -> StackOutput:
        """The `stack` output: from `saved` (a `terraform output -json` file) or build/<env>/stack.json
        when present, else from Terraform itself."""
        from stackctl.aml.stack_output import load_stack_file

        path = saved or build_dir(self.env, self.root) / "stack.json"
        if saved is not None or path.exists():
            return load_stack_file(path)
        return read_stack(self.env, self.root, console)
