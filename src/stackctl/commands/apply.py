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

from stackctl.commands import add_env_argument
from stackctl.paths import repo_root
from stackctl.stacks import stack_for

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
    from stackctl.terraform.env_root import add_verbose_argument

    add_verbose_argument(parser)


def run(args: argparse.Namespace) -> int:
    return stack_for(args.env, repo_root(), stream=args.verbose or None).apply(
        Console(), skip_deploy=args.skip_deploy
    )
