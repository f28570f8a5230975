"""`stackctl plan --env E`: terraform init + plan into build/E/tfplan and build/E/plan.json, with a summary.

For prod, a person (or the release pipeline after its reviewers approved the plan) then marks the
saved plan as reviewed with `--mark-reviewed`, which records the plan's sha256 in build/prod/plan.reviewed;
`apply --env prod` refuses a plan without a matching marker. `--env local` shows what apply would do.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from stackctl.commands import add_env_argument
from stackctl.paths import repo_root
from stackctl.stacks import stack_for
from stackctl.terraform.env_root import add_verbose_argument


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


def run(args: argparse.Namespace) -> int:
    stack = stack_for(args.env, repo_root(), stream=args.verbose or None)
    return stack.plan(Console(), destroy=args.destroy, mark_reviewed=args.mark_reviewed)
