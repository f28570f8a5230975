"""`stackctl audit --env E`: the auditor's report of a Terraform plan, and the release gate."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from stackctl.audit.render import render_summary
from stackctl.audit.runner import AuditOutputs, PolicyRunner, audit_plan, checkov_on_plan
from stackctl.checks.checkov import CheckovReport
from stackctl.commands import add_env_argument
from stackctl.errors import StackctlError
from stackctl.hashing import sha256_file
from stackctl.paths import CLOUD_ENVIRONMENTS, build_dir, repo_root

DEFAULT_ALLOW_LIST = Path("infra") / "audit-allow-list.yaml"
SUMMARY_FINDINGS = 10

EPILOG = """\
reads build/<env>/plan.json (`make plan` writes it with `terraform show -json`) and writes
audit.md, audit.html (self-contained) and audit.sarif into build/<env>/ (or --out DIR).

exit status:
  0  no blocking finding: the release gate passes
  1  blocking findings: a data-bearing resource is deleted or replaced without an allow-list
     entry, a security or organisation policy (checkov) fails, or the policies could not be checked
  2  bad input: missing or malformed plan or allow-list (nothing is written)
"""


def configure(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = EPILOG
    add_env_argument(parser, default="dev")
    parser.add_argument(
        "--plan",
        type=Path,
        metavar="FILE",
        help="plan JSON from `terraform show -json` (default: build/<env>/plan.json)",
    )
    parser.add_argument(
        "--allow-list",
        type=Path,
        metavar="FILE",
        help=f"approved destructive changes (default: {DEFAULT_ALLOW_LIST})",
    )
    parser.add_argument(
        "--out", type=Path, metavar="DIR", help="where the reports go (default: build/<env>/)"
    )


def run(args: argparse.Namespace) -> int:
    env: str = args.env
    if env not in CLOUD_ENVIRONMENTS:
        raise StackctlError(
            f"the {env} environment has no Terraform plan to audit",
            where="--env",
            fix="audit a cloud stack: `make audit ENV=dev` or `make audit ENV=prod`",
        )
    root = repo_root()
    plan_path: Path = args.plan or build_dir(env, root) / "plan.json"
    if args.plan is None and not plan_path.is_file():
        raise StackctlError(
            f"no plan to audit for {env}",
            where=str(plan_path),
            fix=f"run `make plan ENV={env}` first (it writes the plan JSON there), or pass --plan FILE",
        )
    console = Console(stderr=True)
    outputs = audit_plan(
        plan_path,
        env=env,
        out_dir=args.out or build_dir(env, root),
        root=root,
        allow_list_path=args.allow_list or root / DEFAULT_ALLOW_LIST,
        allow_list_required=args.allow_list is not None,
        policy_runner=_with_status(console),
    )
    report = outputs.report
    out = Console(highlight=False, soft_wrap=True, markup=False)
    counts = ", ".join(f"{count} {kind}" for kind, count in report.counts.items() if count)
    out.print(f"audit of {report.provenance.plan_file} ({env}): {counts or 'no changes'}")
    policy = report.policy
    out.print(
        f"policies: {policy.passed} passed, {policy.failed} failed, {policy.skipped} skipped"
        if policy.ran
        else f"policies: NOT CHECKED ({policy.not_run_reason})"
    )
    blocking = report.blocking
    for finding in blocking[:SUMMARY_FINDINGS]:
        where = f" [{finding.address}]" if finding.address and finding.address not in finding.title else ""
        out.print(f"  [bold red]BLOCKING[/] {escape(f'{finding.kind}: {finding.title}{where}')}", markup=True)
    if len(blocking) > SUMMARY_FINDINGS:
        out.print(f"  ... and {len(blocking) - SUMMARY_FINDINGS} more blocking findings in the report")
    verdict = "[bold red]BLOCKED[/]" if blocking else "[bold green]PASS[/]"
    out.print(f"verdict: {verdict} ({len(blocking)} blocking)", markup=True)
    out.print(f"report: {outputs.markdown}, {outputs.html}, {outputs.sarif}")
    summary = write_job_summary(outputs)
    if summary is not None:
        out.print(f"job summary: {summary}")
    return report.exit_code


def write_job_summary(outputs: AuditOutputs) -> Path | None:
    """Append the report's verdict, provenance and findings, and the report's sha256, to the CI
    job summary where the approver approves: $GITHUB_STEP_SUMMARY (GitHub Actions,
    https://docs.github.com/actions/reference/workflows-and-actions/workflow-commands#adding-a-job-summary).
    None when the variable is not set."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return None
    digest = sha256_file(outputs.markdown)
    text = render_summary(outputs.report) + f"\nFull report: `{outputs.markdown.name}`, sha256 `{digest}`.\n"
    with Path(target).open("a", encoding="utf-8") as stream:
        stream.write(text)
    return Path(target)


def _with_status(console: Console) -> PolicyRunner:
    def run_policies(plan_path: Path, code_dir: Path) -> CheckovReport:
        with console.status(
            f"checkov: checking {plan_path.name} against the security and organisation policies"
        ):
            return checkov_on_plan(plan_path, code_dir)

    return run_policies
