"""`stackctl validate`: verify the Terraform offline (what `make validate` runs).

Checks, in order: fmt, config, schema, checkov, prod-policy, wiring, parity, docs (see
`stackctl.checks.CHECKS`). Prints a per-check summary, the dev/prod value differences and the
figures (resource blocks declared, checkov passed/skipped per target), and exits 1 on any finding.
How many resources each stack gets depends on count/for_each values only Terraform knows: a real
plan says it (`make plan`, `make audit`); offline, validate counts only the blocks written.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from stackctl.checks import CHECKS, CheckReport, run_checks
from stackctl.checks.config import check_directory
from stackctl.errors import ExitStatus, StackctlError
from stackctl.paths import repo_root

EPILOG = (
    """\
checks: """
    + ", ".join(CHECKS)
    + """

exit status:
  0  every check passed
  1  at least one finding (each is printed with where it is and what to do)
  3  a check could not run (missing tool or schema; the message says what to do)
  (the table of every status: demand_forecast.errors, shared with the model CLI)

SARIF and JUnit XML from checkov are written under build/checkov/<modules|dev|prod>/.
"""
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    parser.add_argument(
        "--check",
        action="append",
        choices=list(CHECKS),
        metavar="NAME",
        help="run only this check (repeatable); default: all of them",
    )
    parser.add_argument("--quiet", action="store_true", help="print findings and the summary only")
    parser.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write every check's result, seconds, findings and figures to FILE (JSON list)",
    )
    parser.add_argument(
        "--dir",
        type=Path,
        metavar="DIR",
        help="judge one Terraform directory instead of the stack: Terraform's loader, `terraform "
        "validate` where it runs offline, references and the provider schema (what they cannot "
        "judge is printed as `not checked`)",
    )


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=False, highlight=False)
    if args.dir is not None:
        return _run_directory(console, args.dir)
    root = repo_root()
    names: list[str] = args.check or list(CHECKS)
    started = time.perf_counter()
    with console.status("validating ...") as status:
        reports = run_checks(
            root,
            names,
            on_start=lambda name: status.update(f"[bold]{name}[/]: {CHECKS[name][0]} ..."),
            on_done=lambda report: console.print(
                f"{'[green]ok[/]' if report.ok else '[red]FAIL[/]'}  {report.name:<12} {report.seconds:5.1f}s"
            ),
        )
    elapsed = time.perf_counter() - started
    if args.json is not None:
        _write_json(args.json, reports)
    _print_findings(console, reports)
    if not args.quiet:
        _print_details(console, reports)
    _print_offline(console, reports)
    _print_summary(console, reports, elapsed)
    return ExitStatus.OK if all(report.ok for report in reports) else ExitStatus.BLOCKING_FINDINGS


def _write_json(path: Path, reports: list[CheckReport]) -> None:
    """The machine-readable result (benchmarks/bench_validate.py reads each check's seconds from it)."""
    document = [
        {
            "name": report.name,
            "ok": report.ok,
            "seconds": round(report.seconds, 3),
            "findings": [finding.render() for finding in report.findings],
            "figures": report.figures,
        }
        for report in reports
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1, default=str) + "\n", encoding="utf-8")


def _run_directory(console: Console, directory: Path) -> int:
    if not directory.is_dir() or not any(directory.glob("*.tf")):
        raise StackctlError(
            f"no Terraform files in {directory}", where="--dir", fix="pass a directory that holds .tf files"
        )
    target = directory.resolve()
    with console.status(f"validating {directory} ..."):
        report = check_directory(target, target.parent)
    _print_findings(console, [report])
    for line in report.notes:
        console.print(f"  {line}", markup=False, soft_wrap=True)
    _print_offline(console, [report])
    verdict = "[green]valid[/]" if report.ok else f"[red]{len(report.findings)} finding(s)[/]"
    console.print(f"{directory}: {verdict}")
    return ExitStatus.OK if report.ok else ExitStatus.BLOCKING_FINDINGS


def _print_findings(console: Console, reports: list[CheckReport]) -> None:
    for report in reports:
        for finding in report.findings:
            console.print(finding.render(), markup=False, soft_wrap=True)


def _print_details(console: Console, reports: list[CheckReport]) -> None:
    for report in reports:
        if report.name == "parity" and report.notes:
            console.print("\n[bold]What differs between dev and prod[/] (envs/*/terraform.tfvars):")
            for line in report.notes:
                console.print(f"  {line}", markup=False, soft_wrap=True)
        elif report.name == "checkov":
            console.print("\n[bold]Organisation rules checkov ran[/] (infra/policies):")
            for line in report.notes:
                console.print(f"  {line}", markup=False, soft_wrap=True)
        elif report.notes:
            for line in report.notes:
                console.print(f"  {report.name}: {line}", markup=False, soft_wrap=True)


def _print_offline(console: Console, reports: list[CheckReport]) -> None:
    """Everything that cannot run offline, from every check, in one line (issue 26 item 14)."""
    offline = [f"{report.name}: {line}" for report in reports for line in report.offline]
    if offline:
        console.print("not run offline: " + "; ".join(offline), markup=False, soft_wrap=True)


def _print_summary(console: Console, reports: list[CheckReport], elapsed: float) -> None:
    table = Table(title="stackctl validate", show_lines=False)
    table.add_column("check")
    table.add_column("result")
    table.add_column("findings", justify="right")
    table.add_column("time", justify="right")
    table.add_column("figures")
    for report in reports:
        table.add_row(
            report.name,
            "[green]ok[/]" if report.ok else "[red]FAIL[/]",
            str(len(report.findings)),
            f"{report.seconds:.1f}s",
            _figures(report),
        )
    console.print(table)
    failed = sum(len(r.findings) for r in reports)
    verdict = "[green]all checks passed[/]" if not failed else f"[red]{failed} finding(s)[/]"
    console.print(f"{verdict} in {elapsed:.1f}s")


def _figures(report: CheckReport) -> str:
    if report.name == "checkov":
        return "; ".join(
            f"{target}: {f['passed']} passed, {f['skipped']} skipped, {f['failed']} failed"
            + (f", {f['unchecked_files']} files unreadable to checkov" if f.get("unchecked_files") else "")
            for target, f in report.figures.items()
        )
    if report.name == "parity":
        return f"{len(report.figures.get('differences', []))} value differences"
    if report.name == "schema":
        figures = report.figures
        unchecked = f", {figures['unchecked']} not checked (see notes)" if figures.get("unchecked") else ""
        return (
            f"{figures.get('resource_blocks')} resource and {figures.get('data_blocks')} data blocks "
            f"vs azurerm {figures.get('provider_version')}{unchecked}"
        )
    if report.name == "config":
        return f"{report.figures.get('directories')} directories"
    if report.name == "fmt":
        return str(report.figures.get("terraform", ""))
    if report.name == "prod-policy":
        return f"{report.figures.get('rules')} rules"
    if report.name == "wiring":
        figures = report.figures
        return (
            f"{', '.join(figures.get('rules', []))}: {figures.get('keyless_accounts')} key-less accounts, "
            f"{figures.get('role_assignments')} role assignments, {figures.get('job_targets')} job targets"
        )
    if report.name == "provider-enums":
        figures = report.figures
        return (
            f"{figures.get('arguments_judged')} arguments judged, {figures.get('arguments_not_judged')} "
            f"not judged, {figures.get('arguments_without_rule')} without a rule "
            f"(azurerm {figures.get('provider_source')})"
        )
    return ""
