"""One module per stackctl subcommand: configure(parser) and run(args) -> int (see stackctl.cli).

A command parses its arguments, picks the environment's `stackctl.stacks.Stack` and prints; the
work lives below (`stackctl.stacks`, `stackctl.local`, `stackctl.cloud_stack`, `stackctl.audit`,
`stackctl.checks`). A command never imports another command.
"""

from __future__ import annotations

import argparse

from stackctl.paths import ENVIRONMENTS


def add_env_argument(parser: argparse.ArgumentParser, *, default: str = "local") -> None:
    """The `--env` option every environment-scoped subcommand shares."""
    parser.add_argument(
        "--env",
        default=default,
        type=_env_type,
        help=f"environment: one of {', '.join(ENVIRONMENTS)} (default: {default})",
    )


def _env_type(value: str) -> str:
    if value not in ENVIRONMENTS:
        raise argparse.ArgumentTypeError(f"unknown environment {value!r}; valid: {', '.join(ENVIRONMENTS)}")
    return value
