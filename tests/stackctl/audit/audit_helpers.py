"""Shared pieces of the audit tests: fixture locations, a fixed provenance, checkov results."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from stackctl.audit.allow_list import AllowList, load_allow_list
from stackctl.audit.analysis import AuditReport, Provenance, ProviderVersion, build_report
from stackctl.audit.plan import load_plan
from stackctl.checks.checkov import CheckovReport, parse_checkov_json
from stackctl.checks.parity import tfvars_differences

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TODAY = dt.date(2026, 11, 20)

# Every clear-text secret the fixtures hold; none may reach a rendered report.
SECRETS = (
    "Old-Pa55word!",
    "N3w-Pa55word!",
    "Hand-Set-0ut-of-band",
    "oncall-secret@example.com",
    "tfvars-Secret-123",
    "tfvars-Prod-Secret-456",
)


def fixed_provenance(env: str = "dev", plan_file: str = "build/dev/plan.json") -> Provenance:
    return Provenance(
        env=env,
        plan_file=plan_file,
        plan_sha256="0" * 64,
        git_commit="1111111111111111111111111111111111111111",
        git_branch="main",
        git_dirty=False,
        terraform_version="1.9.8",
        plan_timestamp="2026-11-20T09:15:00Z",
        generated_at="2026-11-20T10:00:00Z",
        providers=(
            ProviderVersion("azurerm", "registry.terraform.io/hashicorp/azurerm", ">= 4.0, < 5.0", "4.14.0"),
        ),
        allow_list="infra/audit-allow-list.yaml",
        policies="checkov 3.3.30 with its built-in checks only (no infra/policies)",
        stackctl_version="0.1.0",
    )


def checkov_clean(target: Path) -> CheckovReport:
    """What checkov reports for a plan with nothing to flag."""
    return CheckovReport(target=target, framework="terraform_plan", results=(), checkov_version="3.3.30")


def recorded_checkov(name: str) -> CheckovReport:
    """checkov's real JSON for a fixture, recorded with checkov 3.3.30 (built-in checks only)."""
    raw: Any = json.loads((FIXTURES / f"checkov_{name}.json").read_text())
    return parse_checkov_json(raw, target=FIXTURES / f"{name}.json", framework="terraform_plan")


def audit_report(
    name: str,
    *,
    env: str = "dev",
    allow_list: str | None = None,
    checkov: CheckovReport | None = None,
    policies_checked: bool = True,
    parity: bool = True,
    today: dt.date = TODAY,
) -> AuditReport:
    """The report of one fixture plan, with a fixed provenance and the fixture tfvars for parity."""
    plan_path = FIXTURES / f"{name}.json"
    plan = load_plan(plan_path)
    allowed = load_allow_list(FIXTURES / allow_list, required=True) if allow_list else AllowList()
    differences = (
        tfvars_differences(FIXTURES / "tfvars" / "dev.tfvars", FIXTURES / "tfvars" / "prod.tfvars")
        if parity
        else None
    )
    return build_report(
        plan,
        provenance=fixed_provenance(env),
        allow_list=allowed,
        checkov=checkov or (checkov_clean(plan_path) if policies_checked else None),
        parity=differences,
        parity_unavailable=None if parity else "tfvars not found",
        today=today,
    )
