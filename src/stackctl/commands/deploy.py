"""`stackctl deploy --env E`: the model, its AML pipelines and schedules, and the SQL reporting schema.

dev / prod: reads `terraform output -json` (the `stack` output), builds the model wheel and the AML
environment, then creates what is new among components, pipeline components, batch endpoints with
pipeline-component deployments and schedules (content hashes decide: a second deploy with nothing
changed says "no changes"), and applies the idempotent T-SQL of the reporting schema and the contained
users of the AML and ADF identities. local: provisions the local stand-ins.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from stackctl.cli import add_env_argument
from stackctl.paths import build_dir, repo_root
from stackctl.terraform.runner import EnvironmentTerraform

SqlExecutor = Callable[[list[str]], None]


def configure(parser: argparse.ArgumentParser) -> None:
    add_env_argument(parser)
    parser.add_argument("--skip-sql", action="store_true", help="do not touch the SQL reporting schema")
    parser.add_argument(
        "--rollback",
        action="store_true",
        help="point each batch endpoint's default back at its previous deployment, and do nothing else",
    )
    parser.add_argument(
        "--keep-deployments",
        type=int,
        default=3,
        metavar="N",
        help="batch deployments kept per endpoint, newest first (default 3; at least 2)",
    )


def read_stack(env: str, root: Path, console: Console, stack: EnvironmentTerraform | None = None) -> Any:
    """The `stack` output of the env, saved to build/<env>/stack.json for `pipelines dump` and reviewers."""
    from stackctl.aml.stack import parse_stack_output

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
    stack_output: Any,
    env: str,
    root: Path,
    console: Console,
    *,
    client: Any = None,
    credential: Any = None,
    sql_executor: SqlExecutor | None = None,
    skip_sql: bool = False,
    keep_deployments: int = 3,
) -> Any:
    from stackctl.aml.azure import azure_credential, ml_client
    from stackctl.aml.deployer import AmlDeployer
    from stackctl.aml.environment import environment_version, write_build_contexts
    from stackctl.aml.quiet import quiet_azure_ai_ml
    from stackctl.aml.specs import build_assets
    from stackctl.sql.database import (
        ADF_PERMISSIONS,
        JOB_PERMISSIONS,
        ContainedUser,
        azure_sql_engine,
        mssql_statements,
        run_statements,
    )

    with console.status("building the model wheel and the environment build contexts"):
        version = environment_version(root)
        contexts = write_build_contexts(root, build_dir(env, root) / "environment")
    with quiet_azure_ai_ml():
        assets = build_assets(stack_output, version, contexts)
    if client is None:
        credential = credential or azure_credential()
        client = ml_client(stack_output, credential)
    report = AmlDeployer(client, console, keep=keep_deployments).deploy(assets)
    if report.no_changes:
        console.print(f"[green]no changes[/]: all {len(report.unchanged)} AML assets are up to date")
    else:
        console.print(
            f"created or updated {len(report.created)} AML assets, {len(report.unchanged)} unchanged"
        )

    if not skip_sql:
        sids = stack_output.sql.aad_principal_sids

        def user(
            purpose: str, name: str, permissions: tuple[str, ...] = (), view_select: bool = False
        ) -> ContainedUser:
            sid = sids.get(purpose)
            return ContainedUser(
                name,
                permissions,
                sid_source=sid.id if sid else None,
                principal_type=sid.type if sid else "E",
                view_select=view_select,
            )

        aml = stack_output.aml
        users = [
            # The identity the publish step runs as: the CPU cluster's, not the workspace's.
            user("job", f"{aml.workspace_name}/computes/{aml.cpu_cluster_name}", JOB_PERMISSIONS),
            user("adf", stack_output.sql.aad_principals.adf, ADF_PERMISSIONS),
            # Power BI's Entra group reads the views and nothing else.
            user("powerbi", stack_output.powerbi.entra_group, view_select=True),
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


def deploy_cloud(env: str, root: Path, console: Console, *, stack: EnvironmentTerraform | None = None) -> int:
    stack_output = read_stack(env, root, console, stack)
    deploy_assets(stack_output, env, root, console)
    return 0


def deploy_local(root: Path, console: Console) -> int:
    from stackctl.local.layout import LocalLayout
    from stackctl.local.stack import provision_local

    layout = LocalLayout(root)
    created = provision_local(layout)
    console.print(
        "no changes: the local stack is provisioned" if not created else f"provisioned {layout.base}"
    )
    return 0


def run(args: argparse.Namespace) -> int:
    console = Console()
    root = repo_root()
    if args.env == "local":
        return deploy_local(root, console)
    stack_output = read_stack(args.env, root, console)
    if args.rollback:
        from stackctl.aml.azure import azure_credential, ml_client
        from stackctl.aml.deployer import AmlDeployer

        client = ml_client(stack_output, azure_credential())
        endpoints = [stack_output.endpoints.training.name, stack_output.endpoints.scoring.name]
        AmlDeployer(client, console, keep=args.keep_deployments).rollback(endpoints)
        return 0
    deploy_assets(
        stack_output,
        args.env,
        root,
        console,
        skip_sql=args.skip_sql,
        keep_deployments=args.keep_deployments,
    )
    return 0
