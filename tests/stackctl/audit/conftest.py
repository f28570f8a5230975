"""The `audit_report` fixture: a report of one fixture plan, built with a fixed provenance."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from audit_helpers import FIXTURES, TODAY, checkov_clean, fixed_provenance

from stackctl.audit.allow_list import AllowList, load_allow_list
from stackctl.audit.analysis import AuditReport, build_report
from stackctl.audit.plan import load_plan
from stackctl.checkov import CheckovReport
from stackctl.parity import tfvars_differences

ReportFactory = Callable[..., AuditReport]


@pytest.fixture
def audit_report() -> ReportFactory:
    def build(
        name: str,
        *,
        env: str = "dev",
        allow_list: str | None = None,
        checkov: CheckovReport | None = None,
        policies_checked: bool = True,
        parity: bool = True,
        today: dt.date = TODAY,
    ) -> AuditReport:
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
            sensitive_variables=plan.sensitive_variables,
            today=today,
        )

    return build
