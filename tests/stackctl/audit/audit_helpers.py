"""Shared pieces of the audit tests: fixture locations, a fixed provenance, checkov results."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from stackctl.audit.analysis import Provenance, ProviderVersion
from stackctl.checkov import CheckovReport, parse_checkov_json

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
