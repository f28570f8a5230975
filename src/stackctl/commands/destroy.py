"""`stackctl destroy --env E`: dev after a confirmation (`--yes` skips it); prod only with --allow-prod and
typing `prod` (`--yes` does not skip that). local: removes .local/ (the local stack's state)."""

from __future__ import annotations

import argparse

from rich.console import Console

from stackctl.commands import add_env_argument
from stackctl.paths import repo_root
from stackctl.stacks import stack_for
from stackctl.terraform.guards import confirm_destroy


def configure(parser: argparse.ArgumentParser) -> None:
    add_env_argument(parser)
    parser.add_argument("--yes", action="store_true", help="dev/local: do not ask for confirmation")
    parser.add_argument(
        "--allow-prod", action="store_true", help="required to destroy prod (then type `prod`)"
    )


def run(args: argparse.Namespace) -> int:
    confirm_destroy(args.env, yes=args.yes, allow_prod=args.allow_prod)
    return stack_for(args.env, repo_root()).destroy(Console())
