"""`stackctl destroy --env E`: dev after a confirmation (`--yes` skips it); prod only with --allow-prod and
typing `prod` (`--yes` does not skip that). local: removes .local/ (the local stack's state).

dev/prod: plans the destruction first (build/<env>/destroy.tfplan; this is also the login check, so
a missing login fails before any question), lists every resource it will destroy and the
subscription they are in, asks, then applies exactly that reviewed destroy plan."""

from __future__ import annotations

import argparse
import json
import shutil

from rich.console import Console

from stackctl.cli import add_env_argument
from stackctl.paths import local_stack_dir, repo_root
from stackctl.terraform.guards import confirm_destroy, refuse_prod_destroy_without_flag
from stackctl.terraform.runner import add_verbose_argument, echo_to, subscriptions_in_plan


def configure(parser: argparse.ArgumentParser) -> None:
    add_env_argument(parser)
    parser.add_argument("--yes", action="store_true", help="dev/local: do not ask for confirmation")
    parser.add_argument(
        "--allow-prod", action="store_true", help="required to destroy prod (then type `prod`)"
    )
    add_verbose_argument(parser)


def run(args: argparse.Namespace) -> int:
    console = Console()
    root = repo_root()
    if args.env == "local":
        confirm_destroy(args.env, yes=args.yes, allow_prod=args.allow_prod)
        target = local_stack_dir(root)
        shutil.rmtree(target, ignore_errors=True)
        console.print(f"removed the local stack ({target})")
        return 0
    from stackctl.commands.plan import print_summary
    from stackctl.terraform.runner import EnvironmentTerraform

    refuse_prod_destroy_without_flag(args.env, allow_prod=args.allow_prod)
    stack = EnvironmentTerraform(args.env, root=root, stream=args.verbose or None, echo=echo_to(console))
    with console.status(f"terraform init ({stack.terraform.source})"):
        stack.init()
    with console.status(f"terraform plan -destroy {args.env}"):
        summary = stack.plan(destroy=True)
    if summary.no_changes:
        console.print(f"{args.env}: nothing to destroy")
        stack.destroy_plan_file.unlink(missing_ok=True)
        return 0
    subscriptions = subscriptions_in_plan(json.loads(stack.destroy_plan_json.read_text(encoding="utf-8")))
    console.print(
        f"[bold red]destroy {args.env}[/] in subscription {', '.join(subscriptions) or '(unknown)'}:",
        soft_wrap=True,
    )
    print_summary(console, args.env, summary, limit=None)
    console.print(
        f"destroy plan: {stack.destroy_plan_file} (JSON: {stack.destroy_plan_json})", soft_wrap=True
    )
    # input is looked up when asked (not bound at import), so a test or wrapper can answer
    confirm_destroy(args.env, yes=args.yes, allow_prod=args.allow_prod, prompt=lambda q: input(q))
    with console.status(f"terraform apply {stack.destroy_plan_file}"):
        stack.apply_destroy_plan()
    console.print(f"[red]destroyed[/] {args.env}")
    return 0
