"""`stackctl deploy --env E`: the model, its AML pipelines and schedules, and the SQL reporting schema.

dev / prod: reads `terraform output -json` (the `stack` output), builds the model wheel and the AML
environment, then creates what is new among components, pipeline components, batch endpoints with
pipeline-component deployments and schedules (content hashes decide: a second deploy with nothing
changed says "no changes"), and applies the idempotent T-SQL of the reporting schema and the contained
users of the AML and ADF identities. local: provisions the local stand-ins.
"""

from __future__ import annotations

import argparse

from rich.console import Console

from stackctl.commands import add_env_argument
from stackctl.paths import repo_root
from stackctl.stacks import stack_for


def configure(parser: argparse.ArgumentParser) -> None:
    add_env_argument(parser)
    parser.add_argument("--skip-sql", action="store_true", help="do not touch the SQL reporting schema")
    parser.add_argument(
        "--rollback",
        action="store_true",
        help="point each batch endpoint's default back at its previous deployment, and do nothing else",
    )
    parser.add_argument(
        "--keep-deployments",
        type=int,
        default=3,
        metavar="N",
        help="batch deployments kept per endpoint, newest first (default 3; at least 2)",
    )


def run(args: argparse.Namespace) -> int:
    return stack_for(args.env, repo_root()).deploy(
        Console(), skip_sql=args.skip_sql, rollback=args.rollback, keep_deployments=args.keep_deployments
    )
