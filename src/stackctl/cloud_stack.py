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
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from stackctl.aml.stack_output import StackOutput, parse_stack_output
from stackctl.audit.plan import load_plan
from stackctl.audit.summary import PlanSummary, subscriptions_in_plan, summarise_plan
from stackctl.errors import ExitStatus, StackctlError
from stackctl.paths import build_dir
from stackctl.terraform.env_root import EnvironmentTerraform, echo_to

if TYPE_CHECKING:  # typing only: each is imported where it is used, to keep `stackctl` fast to start
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential

    from stackctl.aml.deployer import DeployReport
    from stackctl.sql.users import ContainedUser

SqlExecutor = Callable[[list[str]], None]
# Upgrades Azure SQL's reporting schemas with Alembic; the revisions applied per schema.
SchemaMigrator = Callable[[], dict[str, list[str]]]
ImageImporter = Callable[[Mapping[str, str]], dict[str, str]]
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
    # Terraform marks the App Insights connection string sensitive: it stays out of the saved file.
    saved = parsed.model_dump(by_alias=True, exclude={"application_insights_connection_string"})
    target.write_text(json.dumps({"stack": {"value": saved}}, indent=2), encoding="utf-8")
    return parsed


def deploy_assets(
    stack_output: StackOutput,
    env: str,
    root: Path,
    console: Console,
    *,
    client: MLClient | None = None,
    credential: TokenCredential | None = None,
    sql_executor: SqlExecutor | None = None,
    schema_migrator: SchemaMigrator | None = None,
    skip_sql: bool = False,
    keep_deployments: int = 3,
    image_importer: ImageImporter | None = None,
) -> DeployReport:
    """Deploy the model's AML assets, then the SQL reporting schema and its users; the AML report.

    Refuses (StackctlError, before anything is built or sent) a stack output without the job
    identity or the App Insights connection string: every job needs both (`specs.job_environment`).
    The environment images are built by AML on the first job that uses them, not here."""
    from stackctl.aml.specs import require_job_settings

    require_job_settings(stack_output, where=f"terraform output -json (envs/{env})")
    if credential is None and (
        client is None
        or image_importer is None
        or ((sql_executor is None or schema_migrator is None) and not skip_sql)
    ):
        credential = _azure_credential()
    if client is None:
        assert credential is not None  # set just above whenever no client was given
        client = _ml_client(stack_output, credential)
    importer = image_importer
    if importer is None:
        assert credential is not None  # set above whenever no importer was given
        importer = _registry_importer(stack_output, client, credential)
    report = _deploy_aml(stack_output, env, root, console, client, keep_deployments, importer)
    if not skip_sql:
        if sql_executor is None or schema_migrator is None:
            assert credential is not None  # set above whenever no executor was given
            sql_executor = sql_executor or _azure_sql_executor(stack_output, credential)
            schema_migrator = schema_migrator or _azure_schema_migrator(stack_output, credential)
        _deploy_sql(stack_output, console, sql_executor, schema_migrator)
    return report


def _azure_credential() -> TokenCredential:
    from stackctl.aml.azure import azure_credential

    return azure_credential()


def _ml_client(stack_output: StackOutput, credential: TokenCredential) -> MLClient:
    from stackctl.aml.azure import ml_client

    return ml_client(stack_output, credential)


def _registry_importer(
    stack_output: StackOutput, client: MLClient, credential: TokenCredential
) -> ImageImporter:
    from stackctl.aml.base_image import workspace_registry_importer

    return workspace_registry_importer(
        client, stack_output.aml.workspace_name, credential, stack_output.subscription_id
    )


def _deploy_aml(
    stack_output: StackOutput,
    env: str,
    root: Path,
    console: Console,
    client: MLClient,
    keep_deployments: int,
    importer: ImageImporter,
) -> DeployReport:
    """Import the base images into the workspace's registry, build the environment contexts and
    every AML entity, create what is new; the deploy report."""
    from stackctl.aml.azure import retry_while_roles_propagate
    from stackctl.aml.deployer import AmlDeployer
    from stackctl.aml.environment import environment_version, load_runtime, write_build_contexts
    from stackctl.aml.quiet import quiet_azure_ai_ml
    from stackctl.aml.specs import build_assets

    wanted: dict[str, str] = {kind: image.base_image for kind, image in load_runtime().images.items()}
    with console.status("importing the base images into the workspace's container registry"):
        base_images = retry_while_roles_propagate(
            lambda: importer(wanted), what="base image import", log=console.print
        )
    with console.status("building the model wheel and the environment build contexts"):
        version = environment_version(root)
        contexts = write_build_contexts(root, build_dir(env, root) / "environment", base_images)
    with quiet_azure_ai_ml():
        assets = build_assets(stack_output, version, contexts)
    report = AmlDeployer(client, console, keep=keep_deployments).deploy(assets)
    if report.no_changes:
        console.print(f"[green]no changes[/]: all {len(report.unchanged)} AML assets are up to date")
    else:
        console.print(
            f"created or updated {len(report.created)} AML assets, {len(report.unchanged)} unchanged"
        )
    return report


def sql_users(stack_output: StackOutput) -> list[ContainedUser]:
    """The contained users of the reporting database: the job identity (what publish runs as), Data
    Factory's identity, and Power BI's Entra group (read-only on the views)."""
    from stackctl.sql.users import ADF_PERMISSIONS, JOB_PERMISSIONS, ContainedUser

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
    job_identity = stack_output.job_identity
    if job_identity is None:
        raise StackctlError(
            "the stack output has no `stack.job_identity`: the jobs' SQL user is named after it",
            where="terraform output `stack` (infra/outputs.tf)",
            fix="apply the current infra/, then deploy again: `make apply ENV=<env>`",
        )
    # The jobs publish into `validation` too when the release validates (issue 22 item 8).
    job = replace(user("job", job_identity.name, JOB_PERMISSIONS), validation_permissions=JOB_PERMISSIONS)
    return [
        # The jobs run as the job identity (user-assigned, on both clusters): the SID is its client id
        # (`sql.aad_principal_sids.job`, checked by `require_job_settings`), the name the identity's
        # own (as modules/sql names it). Databases deployed before carry the user under the cluster's
        # name `<workspace>/computes/<cpu cluster>`: dropped, so no stale user keeps the grants.
        replace(job, previous_names=(f"{aml.workspace_name}/computes/{aml.cpu_cluster_name}",)),
        user("adf", stack_output.sql.aad_principals.adf, ADF_PERMISSIONS),
        user("powerbi", stack_output.powerbi.entra_group, view_select=True),
    ]


def _azure_sql_executor(stack_output: StackOutput, credential: TokenCredential) -> SqlExecutor:
    from demand_forecast.reporting.database import azure_sql_engine

    from stackctl.sql.users import run_statements

    engine = azure_sql_engine(stack_output.sql.server_fqdn, stack_output.sql.database_name, credential)

    def execute(batch: list[str]) -> None:
        run_statements(engine, batch)

    return execute


def _azure_schema_migrator(stack_output: StackOutput, credential: TokenCredential) -> SchemaMigrator:
    from demand_forecast.reporting.database import azure_sql_engine

    from stackctl.sql.users import migrate_reporting_schemas

    engine = azure_sql_engine(stack_output.sql.server_fqdn, stack_output.sql.database_name, credential)
    return lambda: migrate_reporting_schemas(engine)


def _deploy_sql(
    stack_output: StackOutput, console: Console, sql_executor: SqlExecutor, schema_migrator: SchemaMigrator
) -> None:
    """The reporting schemas migrated to the head revision (Alembic), then the contained users' idempotent
    T-SQL, sent every time."""
    from demand_forecast.errors import UsageError

    from stackctl.sql.users import users_statements

    statements = users_statements(sql_users(stack_output))
    with console.status("SQL reporting schema"):
        try:
            applied = schema_migrator()
        except UsageError as exc:
            raise StackctlError(str(exc), fix="deploy the current model package") from exc
        sql_executor(statements)
    migrated = "; ".join(
        f"{schema}: {', '.join(revisions) or 'current'}" for schema, revisions in applied.items()
    )
    console.print(
        f"[green]✓[/] reporting schemas migrated ({migrated}), contained users ensured "
        f"({len(statements)} statements)"
    )


def print_plan_summary(
    console: Console, env: str, summary: PlanSummary, *, limit: int | None = MAX_LISTED
) -> None:
    """The counts, as Terraform's own plan line gives them, then the changed resources (the first
    `limit` of them; None: all), each with the kind the audit gives it."""
    if summary.no_changes:
        console.print(f"[green]{env}: no changes[/] - the infrastructure matches the configuration")
        return
    console.print(
        f"[bold]{env}[/]: [green]{summary.adds} to add[/], [yellow]{summary.updates} to change[/], "
        f"[red]{summary.destroys} to destroy[/]"
        + (
            f", [cyan]{summary.forgets} to forget[/] (left in Azure, no longer managed)"
            if summary.forgets
            else ""
        )
        + (f" ({summary.replaces} replaced)" if summary.replaces else "")
    )
    table = Table(show_header=False, box=None)
    colours = {"create": "green", "update": "yellow", "delete": "red", "replace": "magenta"}
    listed = summary.changes if limit is None else summary.changes[:limit]
    for kind, address in listed:
        table.add_row(f"[{colours.get(kind, 'cyan')}]{kind}[/]", address)
    console.print(table)
    if len(summary.changes) > len(listed):
        console.print(f"... and {len(summary.changes) - len(listed)} more (see plan.json or `make audit`)")


class CloudStack:
    """dev or prod: the `Stack` operations on Terraform, Azure ML and Azure SQL.

    `stream`: echo Terraform's output live (None: only in CI, see `EnvironmentTerraform`)."""

    def __init__(self, env: str, root: Path, *, stream: bool | None = None):
        self.env = env
        self.root = root
        self.stream = stream

    def terraform(self, console: Console) -> EnvironmentTerraform:
        return EnvironmentTerraform(self.env, root=self.root, stream=self.stream, echo=echo_to(console))

    def plan(self, console: Console, *, destroy: bool = False, mark_reviewed: bool = False) -> int:
        from stackctl.terraform.guards import mark_reviewed as record_review
        from stackctl.terraform.review import read_review

        stack = self.terraform(console)
        if mark_reviewed:
            marker = record_review(stack.plan_file)
            console.print(f"marked {stack.plan_file} as reviewed ({marker})")
            console.print(read_review(marker).describe(), markup=False, highlight=False)
            return ExitStatus.OK
        with console.status(f"terraform init ({stack.terraform.source})"):
            stack.init()
        with console.status(f"terraform plan {self.env}"):
            summary = summarise_plan(load_plan(stack.plan(destroy=destroy)))
        print_plan_summary(console, self.env, summary)
        console.print(f"saved plan: {stack.plan_file}\nplan JSON:  {stack.plan_json}")
        if self.env == "prod":
            console.print(
                "next: `make audit ENV=prod`, review, then `make plan ENV=prod ARGS=--mark-reviewed`"
            )
        return ExitStatus.OK

    def apply(self, console: Console, *, skip_deploy: bool = False) -> int:
        from stackctl.terraform.guards import check_apply_allowed

        stack = self.terraform(console)
        review = check_apply_allowed(self.root, self.env, stack.plan_file)
        if review is not None:
            console.print(f"applying {stack.plan_file}: {review.describe()}", markup=False, highlight=False)
        with console.status(f"terraform init ({stack.terraform.source})"):
            stack.init(restore_planned_lock=True)
        with console.status(f"terraform apply {stack.plan_file}"):
            stack.apply_saved_plan()
        console.print(f"[green]✓[/] applied {stack.plan_file}")
        # A saved plan can be applied once; remove it so nobody applies it (or its marker) twice.
        stack.plan_file.unlink(missing_ok=True)
        (stack.plan_file.parent / "plan.reviewed").unlink(missing_ok=True)
        if skip_deploy:
            return ExitStatus.OK
        stack_output = read_stack(self.env, self.root, console, stack)
        deploy_assets(stack_output, self.env, self.root, console)
        return ExitStatus.OK

    def deploy(
        self, console: Console, *, skip_sql: bool = False, rollback: bool = False, keep_deployments: int = 3
    ) -> int:
        stack_output = read_stack(self.env, self.root, console)
        if rollback:
            from stackctl.aml.azure import azure_credential, ml_client
            from stackctl.aml.deployer import AmlDeployer

            client = ml_client(stack_output, azure_credential())
            endpoints = [stack_output.endpoints.training.name, stack_output.endpoints.scoring.name]
            AmlDeployer(client, console, keep=keep_deployments).rollback(endpoints)
            return ExitStatus.OK
        deploy_assets(
            stack_output, self.env, self.root, console, skip_sql=skip_sql, keep_deployments=keep_deployments
        )
        return ExitStatus.OK

    def destroy(self, console: Console, *, yes: bool = False, allow_prod: bool = False) -> int:
        """Plan the destruction (also the login check), list every resource and the subscription, ask
        (`confirm_destroy`), then apply exactly that destroy plan."""
        from stackctl.terraform.guards import confirm_destroy, refuse_prod_destroy_without_flag

        refuse_prod_destroy_without_flag(self.env, allow_prod=allow_prod)
        stack = self.terraform(console)
        with console.status(f"terraform init ({stack.terraform.source})"):
            stack.init()
        with console.status(f"terraform plan -destroy {self.env}"):
            plan = load_plan(stack.plan(destroy=True))
        summary = summarise_plan(plan)
        if summary.no_changes:
            console.print(f"{self.env}: nothing to destroy")
            stack.destroy_plan_file.unlink(missing_ok=True)
            return ExitStatus.OK
        subscriptions = subscriptions_in_plan(plan)
        console.print(
            f"[bold red]destroy {self.env}[/] in subscription {', '.join(subscriptions) or '(unknown)'}:",
            soft_wrap=True,
        )
        print_plan_summary(console, self.env, summary, limit=None)
        console.print(
            f"destroy plan: {stack.destroy_plan_file} (JSON: {stack.destroy_plan_json})", soft_wrap=True
        )
        # input is looked up when asked (not bound at import), so a test or wrapper can answer
        confirm_destroy(self.env, yes=yes, allow_prod=allow_prod, prompt=lambda q: input(q))
        with console.status(f"terraform apply {stack.destroy_plan_file}"):
            stack.apply_destroy_plan()
        console.print(f"[red]destroyed[/] {self.env}")
        return ExitStatus.OK

    def stack_output(self, console: Console, saved: Path | None = None) -> tuple[StackOutput, str]:
        """The `stack` output and where it came from: `saved` (a `terraform output -json` file), else
        build/<env>/stack.json (saved by the last deploy), else, before the first deploy (no state),
        the naming convention and the env's tfvars (`stackctl.aml.naming`)."""
        from stackctl.aml.stack_output import load_stack_file

        path = build_dir(self.env, self.root) / "stack.json"
        if saved is not None:
            return load_stack_file(saved), str(saved)
        if path.exists():
            return load_stack_file(path), f"{path} (saved by the last deploy)"
        from stackctl.aml.naming import derived_stack

        return derived_stack(self.root, self.env), (
            f"the naming convention and envs/{self.env}/terraform.tfvars (no Terraform state yet: "
            "ids are placeholders; pass --stack-json to use a real `terraform output -json`)"
        )
