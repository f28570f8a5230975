"""`stackctl validate`: verify the Terraform offline (what `make validate` runs).

Checks, in order: fmt, config, schema, checkov, prod-policy, parity, docs, resources (see
`stackctl.infra.CHECKS`). Prints a per-check summary, the dev/prod value differences and the
figures (resources per environment, checkov passed/skipped per target), and exits 1 on any finding.
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from stackctl.infra import CHECKS, CheckReport, run_checks
from stackctl.paths import repo_root

EPILOG = (
    """\
checks: """
    + ", ".join(CHECKS)
    + """

exit status:
  0  every check passed
  1  at least one finding (each is printed with where it is and what to do)
  2  a check could not run (missing tool or schema; the message says what to do)

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


def run(args: argparse.Namespace) -> int:
    root = repo_root()
    console = Console(stderr=False, highlight=False)
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
    _print_findings(console, reports)
    if not args.quiet:
        _print_details(console, reports)
    _print_summary(console, reports, elapsed)
    return 0 if all(report.ok for report in reports) else 1


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
        elif report.name == "resources":
            for line in report.notes:
                console.print(f"  {line}", markup=False, soft_wrap=True)


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
            for target, f in report.figures.items()
        )
    if report.name == "resources":
        return ", ".join(f"{env}: {count} resources" for env, count in report.figures.items())
    if report.name == "parity":
        return f"{len(report.figures.get('differences', []))} value differences"
    if report.name == "schema":
        figures = report.figures
        return f"{figures.get('blocks_checked')} blocks vs azurerm {figures.get('provider_version')}"
    if report.name == "config":
        return f"{report.figures.get('directories')} directories"
    if report.name == "fmt":
        return str(report.figures.get("terraform", ""))
    if report.name == "naming":
        return ", ".join(f"{env}: {n} names" for env, n in report.figures.items())
    if report.name == "prod-policy":
        return f"{report.figures.get('rules')} rules"
    return ""
