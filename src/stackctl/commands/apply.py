"""`stackctl apply --env E`.

local (default): provisions the local stack, lands the sample data, runs the training and scoring
pipelines, fills the reporting database, renders the dashboard and prints a summary. Content hashes
decide what reruns: a second apply with nothing changed retrains nothing.

dev / prod: applies the saved plan build/<env>/tfplan only (never a fresh plan), refusing a missing or
stale plan; prod also needs a release/* branch (or CI=true with FORECAST_STACK_RELEASE=1) and a plan
marked reviewed (`stackctl plan --env prod --mark-reviewed`). Then runs `deploy`.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from stackctl.cli import add_env_argument
from stackctl.paths import repo_root

EPILOG = """\
dev/prod guards: the saved plan build/<env>/tfplan must exist and be newer than every file under
infra/, modules/ and envs/<env>/. prod also needs a release/* branch (or CI=true and
FORECAST_STACK_RELEASE=1) and a reviewed plan: after reading the plan summary and the audit report,
run `stackctl plan --env prod --mark-reviewed` (make plan ENV=prod ARGS=--mark-reviewed), which
writes the plan's sha256 to build/prod/plan.reviewed; a plan changed after review is refused."""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    add_env_argument(parser)
    parser.add_argument(
        "--skip-deploy", action="store_true", help="dev/prod: apply the plan but do not deploy"
    )
    from stackctl.terraform.runner import add_verbose_argument

    add_verbose_argument(parser)


def run(args: argparse.Namespace) -> int:
    console = Console()
    root = repo_root()
    if args.env == "local":
        from stackctl.local.layout import LocalLayout
        from stackctl.local.stack import apply_local, print_summary

        result = apply_local(root, console)
        print_summary(result, LocalLayout(root), console)
        return 0

    from stackctl.commands.deploy import deploy_cloud
    from stackctl.terraform.guards import check_apply_allowed
    from stackctl.terraform.runner import EnvironmentTerraform, echo_to

    stack = EnvironmentTerraform(args.env, root=root, stream=args.verbose or None, echo=echo_to(console))
    check_apply_allowed(root, args.env, stack.plan_file)
    with console.status(f"terraform init ({stack.terraform.source})"):
        stack.init(restore_planned_lock=True)
    with console.status(f"terraform apply {stack.plan_file}"):
        stack.apply_saved_plan()
    console.print(f"[green]✓[/] applied {stack.plan_file}")
    # A saved plan can be applied once; remove it so nobody applies it (or its marker) twice.
    stack.plan_file.unlink(missing_ok=True)
    (stack.plan_file.parent / "plan.reviewed").unlink(missing_ok=True)
    if args.skip_deploy:
        return 0
    return deploy_cloud(args.env, root, console, stack=stack)
