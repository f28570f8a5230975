"""The `stackctl` console entry point.

Each subcommand lives in `stackctl.commands.<name>` and exposes two functions::

    def configure(parser: argparse.ArgumentParser) -> None   # add its arguments
    def run(args: argparse.Namespace) -> int                  # do the work, return the exit status

The registry below is the single list of subcommands; `stackctl --help` reads it. Only the
module of the subcommand being run is imported (with every module, `stackctl validate` paid
1.2 CPU-s for doctor's pandas and the audit's imports before it began); heavy libraries
(azure-ai-ml, mlflow, torch) are imported inside `run`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence

from stackctl import __version__
from stackctl.errors import ExitStatus, StackctlError

# name -> (module, one-line help). Order is the order `stackctl --help` shows.
COMMANDS: dict[str, tuple[str, str]] = {
    "plan": (
        "stackctl.commands.plan",
        "terraform init + plan into build/<env>/ (local: show what apply would do)",
    ),
    "apply": (
        "stackctl.commands.apply",
        "apply the reviewed plan, then deploy (local: run the whole local stack)",
    ),
    "deploy": (
        "stackctl.commands.deploy",
        "deploy the model, AML components, pipelines, schedules and SQL views",
    ),
    "destroy": ("stackctl.commands.destroy", "tear an environment down (prod needs an explicit flag)"),
    "audit": ("stackctl.commands.audit", "write the auditor's report of a plan (build/<env>/audit.*)"),
    "validate": (
        "stackctl.commands.validate",
        "verify the Terraform offline: fmt, config, provider schema, checkov, parity",
    ),
    "pipelines": ("stackctl.commands.pipelines", "dump the YAML of every AML asset deploy would create"),
    "doctor": (
        "stackctl.commands.doctor",
        "check every prerequisite of a first deploy of dev or prod, in order, and name the next step",
    ),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser, every subcommand listed; with `argv`, only the subcommand it names is
    configured (its module imported), which is all `parse_args(argv)` can need."""
    parser = argparse.ArgumentParser(
        prog="stackctl",
        description="Plan, apply, deploy and audit the forecast-stack environments (local, dev, prod).",
    )
    parser.add_argument("--version", action="version", version=f"stackctl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = _named_command(argv) if argv is not None else None
    for name, (module_name, help_text) in COMMANDS.items():
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if argv is not None and name != wanted:
            continue
        module = importlib.import_module(module_name)
        module.configure(cmd)
        cmd.set_defaults(_module=module)
    return parser


def _named_command(argv: Sequence[str]) -> str | None:
    """The subcommand of a command line: its first word that is not an option (stackctl's own
    options, --help and --version, take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


# Width of rich consoles when stdout is not a terminal (a CI log, a pipe to a file): rich would
# fall back to 80 columns and wrap paths and resource addresses mid-word.
LOG_COLUMNS = 240


def size_console_for_logs(environ: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Give rich a wide console when output goes to a log; rich reads COLUMNS. A terminal, or a
    COLUMNS the user set, is left alone."""
    if "COLUMNS" not in environ and not sys.stdout.isatty():
        environ["COLUMNS"] = str(LOG_COLUMNS)


def main(argv: Sequence[str] | None = None) -> int:
    size_console_for_logs()
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:  # argparse printed what was wrong: a bad command line is a setup fault
        if exc.code in (0, None):  # --help, --version
            raise
        return ExitStatus.SETUP_FAULT
    module = args._module
    try:
        return int(module.run(args))
    except StackctlError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted; nothing further was changed", file=sys.stderr)
        return ExitStatus.INTERRUPTED
    except Exception:  # a bug: its own status (never 1, which means blocking findings), with its traceback
        traceback.print_exc(file=sys.stderr)
        print("error: stackctl failed unexpectedly (a bug); the traceback is above", file=sys.stderr)
        return ExitStatus.INTERNAL_ERROR
