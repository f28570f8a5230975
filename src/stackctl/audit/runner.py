"""The audit at the edges: read the plan, the allow-list and the tfvars, run checkov, write files."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stackctl.audit.allow_list import load_allow_list
from stackctl.audit.analysis import AuditReport, build_report
from stackctl.audit.plan import load_plan
from stackctl.audit.pricing import PriceBook, priced_costs
from stackctl.audit.provenance import collect_provenance, refuse_other_environment
from stackctl.audit.render import render_html, render_markdown
from stackctl.audit.sarif import to_sarif
from stackctl.checks.checkov import CheckovReport, CheckResult, default_policies_dir, run_checkov
from stackctl.checks.parity import Difference, root_differences, tfvars_differences
from stackctl.errors import StackctlError
from stackctl.paths import env_dir
from stackctl.terraform.env_root import PLAN_FILE

# (plan JSON, the Terraform root that made it) -> checkov's results
PolicyRunner = Callable[[Path, Path], CheckovReport]


def checkov_on_plan(plan_path: Path, code_dir: Path) -> CheckovReport:
    """checkov's terraform_plan framework on the plan JSON, with infra/policies when it exists.

    `--repo-root-for-plan-enrichment` points checkov at the Terraform root that made the plan
    (envs/<env>, which calls infra/ and the modules): checkov then matches each planned resource to
    its block in the code and honours the `#checkov:skip=ID:reason` comments there, exactly the
    skips `stackctl validate` honours. Without it, every justified skip came back as a blocking
    failure on the plan. https://www.checkov.io/7.Scan%20Examples/Terraform%20Plan%20Scanning.html
    """
    report = run_checkov(
        plan_path,
        framework="terraform_plan",
        extra_args=["--repo-root-for-plan-enrichment", str(code_dir)],
    )
    return dataclasses.replace(report, results=tuple(_exact_skip(r, code_dir) for r in report.results))


_MODULE_IN_ADDRESS = re.compile(r"module\.([A-Za-z0-9_-]+)(?:\[[^\]]*\])?\.")


def _exact_skip(result: CheckResult, code_dir: Path) -> CheckResult:
    """checkov matches a planned resource to the code by `type.name` alone, ignoring the module
    (checkov.common.output.report.Report.get_plan_resource_raw_id), so with AVM-style `this` names
    a skip written in one module could silence the same check on another module's resource. A
    skip counts only when the block it came from lies in the module the resource belongs to,
    which is what `stackctl validate` honours; any other is a failure again."""
    if result.outcome != "skipped" or not result.file_path:
        return result
    modules = _MODULE_IN_ADDRESS.findall(result.resource)
    source = (code_dir / result.file_path.lstrip("/")).resolve()
    innermost = modules[-1] if len(modules) > 1 else None
    expected = code_dir.resolve().parents[1] / ("modules/" + innermost if innermost else "infra")
    if modules and source.parent != expected.resolve():
        return dataclasses.replace(result, outcome="failed", suppress_comment=None)
    return result


@dataclass(frozen=True)
class AuditOutputs:
    report: AuditReport
    markdown: Path
    html: Path
    sarif: Path


def _run_checkov(
    policy_runner: PolicyRunner, plan_path: Path, env_root: Path
) -> tuple[CheckovReport | None, str]:
    """checkov's report of the plan, or None and why it did not run (the audit goes on without it)."""
    try:
        return policy_runner(plan_path, env_root), ""
    except StackctlError as exc:
        return None, f"checkov did not run: {exc.what}"


def _parity(tfvars: tuple[Path, Path] | None, root: Path) -> tuple[list[Difference] | None, str | None]:
    """The dev/prod value differences, or None and why they could not be read: by default the
    values Terraform assigns from every tfvars file each root loads (*.auto.tfvars too)."""
    try:
        if tfvars is not None:
            return tfvars_differences(*tfvars), None
        return root_differences(env_dir("dev", root), env_dir("prod", root)), None
    except StackctlError as exc:
        return None, exc.what


def _policies_line(checkov: CheckovReport | None, root: Path) -> str:
    """Which policies the audit applied, for the provenance section."""
    policies_dir = default_policies_dir()
    if checkov is None:
        return "not checked"
    if policies_dir is None:
        return f"checkov {checkov.checkov_version or ''}: built-in checks only (no infra/policies)"
    return f"checkov {checkov.checkov_version or ''} with {_relative(policies_dir, root)}"


def audit_plan(
    plan_path: Path,
    *,
    env: str,
    out_dir: Path,
    root: Path,
    allow_list_path: Path,
    allow_list_required: bool,
    policy_runner: PolicyRunner = checkov_on_plan,
    tfvars: tuple[Path, Path] | None = None,
    now: dt.datetime | None = None,
    price_book: PriceBook | None = None,
) -> AuditOutputs:
    """Audit one plan file and write audit.md, audit.html and audit.sarif into `out_dir`.

    Long because it is the audit's one sequence of I/O steps (plan, environment, allow-list,
    checkov, parity, provenance, report, prices, files), each a call, read top to bottom.

    Bad input (plan, allow-list) raises StackctlError before anything is written.
    """
    plan = load_plan(plan_path)
    refuse_other_environment(plan, env, root, str(plan_path))
    allow_list = load_allow_list(
        allow_list_path, required=allow_list_required, shown_as=_relative(allow_list_path, root)
    )
    moment = now or dt.datetime.now(dt.UTC)

    checkov, not_run_reason = _run_checkov(policy_runner, plan_path, env_dir(env, root))
    parity, parity_unavailable = _parity(tfvars, root)
    policies = _policies_line(checkov, root)
    provenance = collect_provenance(
        plan,
        env=env,
        plan_path=plan_path,
        root=root,
        allow_list=allow_list.source,
        policies=policies,
        lock_file=env_dir(env, root) / ".terraform.lock.hcl",
        saved_plan=plan_path.parent / PLAN_FILE,
        now=moment,
    )
    book = price_book or PriceBook(root / "build" / "prices" / "retail-prices.json", today=moment.date())
    report = build_report(
        plan,
        provenance=provenance,
        allow_list=allow_list,
        checkov=checkov,
        parity=parity,
        parity_unavailable=parity_unavailable,
        today=moment.date(),
        checkov_not_run_reason=not_run_reason or "checkov was not run on this plan",
        # Priced inside build_report, so the prices' text passes the report's one boundary too.
        price=lambda costs: priced_costs(costs, plan, book),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = AuditOutputs(
        report=report,
        markdown=out_dir / "audit.md",
        html=out_dir / "audit.html",
        sarif=out_dir / "audit.sarif",
    )
    _write(outputs.markdown, render_markdown(report))
    _write(outputs.html, render_html(report))
    _write(outputs.sarif, json.dumps(to_sarif(report), indent=2) + "\n")
    return outputs


def _write(path: Path, text: str) -> None:
    """Replace the file in one step, so a reader never sees half a report."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
