"""`stackctl plan --env E`: terraform init + plan into build/E/tfplan and build/E/plan.json, with a summary.

For prod, a person (or the release pipeline after its reviewers approved the plan) then marks the
saved plan as reviewed with `--mark-reviewed`, which records the plan's sha256 in build/prod/plan.reviewed;
`apply --env prod` refuses a plan without a matching marker. `--env local` shows what apply would do.
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from stackctl.cli import add_env_argument
from stackctl.paths import repo_root
from stackctl.terraform.guards import mark_reviewed
from stackctl.terraform.runner import EnvironmentTerraform, PlanSummary, add_verbose_argument, echo_to

MAX_LISTED = 25


def configure(parser: argparse.ArgumentParser) -> None:
    add_env_argument(parser)
    parser.add_argument(
        "--mark-reviewed",
        action="store_true",
        help="do not plan: record that the saved plan build/<env>/tfplan was reviewed (its sha256 goes into "
        "build/<env>/plan.reviewed); prod apply requires it",
    )
    parser.add_argument("--destroy", action="store_true", help="plan the destruction of the environment")
    add_verbose_argument(parser)


def print_summary(
    console: Console, env: str, summary: PlanSummary, *, limit: int | None = MAX_LISTED
) -> None:
    """The counts, then the changed resources (the first `limit` of them; None: all)."""
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
    listed = summary.resources if limit is None else summary.resources[:limit]
    for action, address in listed:
        table.add_row(f"[{colours[action]}]{action}[/]", address)
    console.print(table)
    if len(summary.resources) > len(listed):
        console.print(f"... and {len(summary.resources) - len(listed)} more (see plan.json or `make audit`)")


def run(args: argparse.Namespace) -> int:
    console = Console()
    root = repo_root()
    if args.env == "local":
        from stackctl.local.stack import plan_local

        return plan_local(root, console)
    stack = EnvironmentTerraform(args.env, root=root, stream=args.verbose or None, echo=echo_to(console))
    if args.mark_reviewed:
        marker = mark_reviewed(stack.plan_file)
        console.print(f"marked {stack.plan_file} as reviewed ({marker})")
        return 0
    with console.status(f"terraform init ({stack.terraform.source})"):
        stack.init()
    with console.status(f"terraform plan {args.env}"):
        summary = stack.plan(destroy=args.destroy)
    print_summary(console, args.env, summary)
    console.print(f"saved plan: {stack.plan_file}\nplan JSON:  {stack.plan_json}")
    if args.env == "prod":
        console.print("next: `make audit ENV=prod`, review, then `make plan ENV=prod ARGS=--mark-reviewed`")
    return 0
