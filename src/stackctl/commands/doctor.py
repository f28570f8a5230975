"""`stackctl doctor --env dev|prod`: check every prerequisite of a first deploy, in order, and name
the next step (stackctl.doctor). Read-only. Exit status 0 when nothing failed, 1 when a check failed
or a check named with --only could not run, 2 on bad input."""

from __future__ import annotations

import argparse

from rich.console import Console

from stackctl.doctor.checks import CHECKS
from stackctl.doctor.report import Outcome, print_report
from stackctl.doctor.run import doctor
from stackctl.errors import ExitStatus
from stackctl.paths import repo_root


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", required=True, choices=["dev", "prod"], help="the environment to check")
    parser.add_argument(
        "--only",
        action="append",
        choices=list(CHECKS),
        help="run only this check (repeatable); it must pass, so CI can gate on it",
    )


def run(args: argparse.Namespace) -> int:
    results = doctor(args.env, repo_root(), only=args.only)
    print_report(Console(), args.env, results)
    if any(r.outcome is Outcome.FAIL for r in results):
        return int(ExitStatus.BLOCKING_FINDINGS)
    if args.only and any(r.outcome is Outcome.UNCHECKED for r in results):
        return int(ExitStatus.BLOCKING_FINDINGS)
    return int(ExitStatus.OK)
