"""The audit at the edges: read the plan, the allow-list and the tfvars, run checkov, write files."""

from __future__ import annotations

import datetime as dt
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from stackctl.audit.allow_list import load_allow_list
from stackctl.audit.analysis import AuditReport, build_report
from stackctl.audit.plan import load_plan
from stackctl.audit.provenance import collect_provenance
from stackctl.audit.render import render_html, render_markdown
from stackctl.audit.sarif import to_sarif
from stackctl.checkov import CheckovReport, default_policies_dir, run_checkov
from stackctl.errors import StackctlError
from stackctl.parity import Difference, tfvars_differences
from stackctl.paths import env_dir
from stackctl.terraform.env_root import PLAN_FILE

PolicyRunner = Callable[[Path], CheckovReport]


def checkov_on_plan(plan_path: Path) -> CheckovReport:
    """checkov's terraform_plan framework on the plan JSON, with infra/policies when it exists."""
    return run_checkov(plan_path, framework="terraform_plan")


@dataclass(frozen=True)
class AuditOutputs:
    report: AuditReport
    markdown: Path
    html: Path
    sarif: Path


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
) -> AuditOutputs:
    """Audit one plan file and write audit.md, audit.html and audit.sarif into `out_dir`.

    Bad input (plan, allow-list) raises StackctlError before anything is written.
    """
    plan = load_plan(plan_path)
    allow_list = load_allow_list(
        allow_list_path, required=allow_list_required, shown_as=_relative(allow_list_path, root)
    )
    moment = now or dt.datetime.now(dt.UTC)

    checkov: CheckovReport | None
    not_run_reason = ""
    try:
        checkov = policy_runner(plan_path)
    except StackctlError as exc:
        checkov, not_run_reason = None, f"checkov did not run: {exc.what}"

    parity: list[Difference] | None
    parity_unavailable = None
    dev_tfvars, prod_tfvars = tfvars or (
        env_dir("dev", root) / "terraform.tfvars",
        env_dir("prod", root) / "terraform.tfvars",
    )
    try:
        parity = tfvars_differences(dev_tfvars, prod_tfvars)
    except StackctlError as exc:
        parity, parity_unavailable = None, exc.what

    policies_dir = default_policies_dir()
    if checkov is None:
        policies = "not checked"
    elif policies_dir is None:
        policies = f"checkov {checkov.checkov_version or ''}: built-in checks only (no infra/policies)"
    else:
        policies = f"checkov {checkov.checkov_version or ''} with {_relative(policies_dir, root)}"
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
    report = build_report(
        plan,
        provenance=provenance,
        allow_list=allow_list,
        checkov=checkov,
        parity=parity,
        parity_unavailable=parity_unavailable,
        today=moment.date(),
        checkov_not_run_reason=not_run_reason or "checkov was not run on this plan",
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
