"""`stackctl pipelines dump --env E --out DIR`: the YAML of every AML asset deploy would create.

The stack description comes from --stack-json (a saved `terraform output -json`), else from
build/<env>/stack.json (saved by the last deploy), else, before the first deploy (no state), from the
naming convention and the env's tfvars (`stackctl.aml.naming`; the output says so).
Every file loads back with azure-ai-ml's own loaders (`load_component`, `load_job`, ...).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from stackctl.commands import add_env_argument
from stackctl.errors import ExitStatus, StackctlError
from stackctl.paths import build_dir, repo_root


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    dump = sub.add_parser("dump", help="write the YAML of every component, pipeline, deployment and schedule")
    add_env_argument(dump, default="dev")
    dump.add_argument("--out", type=Path, required=True, help="folder to write the YAML files into")
    dump.add_argument("--stack-json", type=Path, help="`terraform output -json` saved to a file")


def run(args: argparse.Namespace) -> int:
    console = Console()
    root = repo_root()
    if args.env == "local":
        raise StackctlError(
            "the local stack runs the pipeline graph directly; there are no AML assets to dump",
            where="--env local",
            fix="use --env dev or --env prod",
        )
    from stackctl.aml.dump import dump_stack
    from stackctl.cloud_stack import CloudStack

    saved = build_dir(args.env, root) / "stack.json"
    stack_output, source = CloudStack(args.env, root).stack_output(console, args.stack_json)
    if stack_output.environment != args.env:
        raise StackctlError(
            f"the stack description is for {stack_output.environment}, not {args.env}",
            where=str(args.stack_json or saved),
            fix="pass the output of the matching environment",
        )
    console.print(f"stack description from {source}")
    files = dump_stack(stack_output, root, args.out, console)
    console.print(f"wrote {len(files)} YAML files under {args.out}")
    return ExitStatus.OK
