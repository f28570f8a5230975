"""`stackctl destroy --env E`: dev after a confirmation (`--yes` skips it); prod only with --allow-prod and
typing `prod` (`--yes` does not skip that). local: removes .local/ (the local stack's state).

dev/prod: plans the destruction first (build/<env>/destroy.tfplan; this is also the login check, so
a missing login fails before any question), lists every resource it will destroy and the
subscription they are in, asks, then applies exactly that reviewed destroy plan."""

from __future__ import annotations

import argparse

from rich.console import Console

from stackctl.commands import add_env_argument
from stackctl.paths import repo_root
from stackctl.stacks import stack_for
from stackctl.terraform.env_root import add_verbose_argument


def configure(parser: argparse.ArgumentParser) -> None:
    add_env_argument(parser)
    parser.add_argument("--yes", action="store_true", help="dev/local: do not ask for confirmation")
    parser.add_argument(
        "--allow-prod", action="store_true", help="required to destroy prod (then type `prod`)"
    )
    add_verbose_argument(parser)


def run(args: argparse.Namespace) -> int:
    stack = stack_for(args.env, repo_root(), stream=args.verbose or None)
    return stack.destroy(Console(), yes=args.yes, allow_prod=args.allow_prod)
