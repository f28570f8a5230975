"""`stackctl destroy --env E`: dev after a confirmation (`--yes` skips it); prod only with --allow-prod and
typing `prod` (`--yes` does not skip that). local: removes .local/ (the local stack's state)."""

from __future__ import annotations

import argparse
import shutil

from rich.console import Console

from stackctl.cli import add_env_argument
from stackctl.paths import local_stack_dir, repo_root
from stackctl.terraform.guards import confirm_destroy


def configure(parser: argparse.ArgumentParser) -> None:
    add_env_argument(parser)
    parser.add_argument("--yes", action="store_true", help="dev/local: do not ask for confirmation")
    parser.add_argument(
        "--allow-prod", action="store_true", help="required to destroy prod (then type `prod`)"
    )


def run(args: argparse.Namespace) -> int:
    console = Console()
    root = repo_root()
    confirm_destroy(args.env, yes=args.yes, allow_prod=args.allow_prod)
    if args.env == "local":
        target = local_stack_dir(root)
        shutil.rmtree(target, ignore_errors=True)
        console.print(f"removed the local stack ({target})")
        return 0
    from stackctl.terraform.runner import EnvironmentTerraform

    stack = EnvironmentTerraform(args.env, root=root)
    with console.status(f"terraform init ({stack.terraform.source})"):
        stack.init()
    with console.status(f"terraform destroy {args.env}"):
        stack.destroy()
    console.print(f"[red]destroyed[/] {args.env}")
    return 0
