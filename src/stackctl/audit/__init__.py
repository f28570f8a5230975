"""The auditor's review of a Terraform plan: `stackctl audit --env E`.

plan.py        the plan JSON (format 1.x) as a validated model
values.py      masking of sensitive values, attribute-level diffs
allow_list.py  approved destructive changes (infra/audit-allow-list.yaml)
analysis.py    findings: destructive changes, policy results, drift, cost, parity (pure)
provenance.py  commit, branch, versions, plan hash
render.py      Markdown and self-contained HTML; sarif.py: SARIF 2.1.0
runner.py      the edges: read inputs, run checkov, write build/<env>/audit.{md,html,sarif}
"""

from stackctl.audit.analysis import AuditFinding, AuditReport, build_report
from stackctl.audit.plan import Plan, load_plan, parse_plan
from stackctl.audit.runner import AuditOutputs, audit_plan

__all__ = [
    "AuditFinding",
    "AuditOutputs",
    "AuditReport",
    "Plan",
    "audit_plan",
    "build_report",
    "load_plan",
    "parse_plan",
]
