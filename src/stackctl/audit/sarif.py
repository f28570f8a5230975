"""The findings as SARIF 2.1.0, for code-scanning tools and the release pipeline's annotations.

One result per finding; one rule per kind of finding. An allow-listed destructive change stays in
the log as a result with an external suppression that carries the approver and the reason, so the
approval itself is on record.
"""

from __future__ import annotations

import hashlib
from typing import Any

from stackctl import __version__
from stackctl.audit.analysis import AuditFinding, AuditReport, FindingKind

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

RULES: dict[FindingKind, tuple[str, str]] = {
    "destructive-change": (
        "FSA001",
        "A resource is deleted or replaced; for data-bearing resources this blocks unless allow-listed",
    ),
    "policy-failure": ("FSA002", "A security or organisation policy (checkov) fails on the planned values"),
    "policy-not-checked": ("FSA003", "Security and organisation policies could not be checked"),
    "policy-skipped": ("FSA004", "A policy check is skipped by a suppression in the code"),
    "drift": ("FSA005", "A resource was changed or deleted outside Terraform"),
    "cost-change": ("FSA006", "A change to a size, node count or SKU that decides cost"),
    "parity-difference": ("FSA007", "A variable differs between the dev and prod stacks"),
    "allow-list-unused": ("FSA008", "An allow-list entry matches no change in this plan"),
    "forgotten-object": (
        "FSA009",
        "An object leaves Terraform's state but stays in Azure, unmanaged (forget)",
    ),
    "check-failed": ("FSA010", "A Terraform check block (or condition) failed or errored at plan time"),
    "check-unknown": ("FSA011", "A Terraform check or condition can only be evaluated during apply"),
    "incomplete-plan": (
        "FSA012",
        "The plan is partial (complete: false): made with -target or deferred changes",
    ),
    "provenance": (
        "FSA013",
        "The plan's provenance differs from the repository's: provider versions, or its age",
    ),
}

_LEVEL = {"blocking": "error", "warning": "warning", "info": "note"}
_DEFAULT_LEVEL: dict[FindingKind, str] = {
    "destructive-change": "error",
    "policy-failure": "error",
    "policy-not-checked": "error",
    "policy-skipped": "note",
    "drift": "warning",
    "cost-change": "note",
    "parity-difference": "note",
    "allow-list-unused": "note",
    "forgotten-object": "warning",
    "check-failed": "warning",
    "check-unknown": "note",
    "incomplete-plan": "error",
    "provenance": "warning",
}
_KIND_ORDER: list[FindingKind] = list(RULES)


def to_sarif(report: AuditReport) -> dict[str, Any]:
    provenance = report.provenance
    rules = [
        {
            "id": rule_id,
            "name": kind,
            "shortDescription": {"text": text},
            "defaultConfiguration": {"level": _DEFAULT_LEVEL[kind]},
        }
        for kind, (rule_id, text) in RULES.items()
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "stackctl-audit",
                        "version": __version__,
                        **(
                            {"informationUri": provenance.repository_uri} if provenance.repository_uri else {}
                        ),
                        "rules": rules,
                    }
                },
                "automationDetails": {"id": f"stackctl-audit/{provenance.env}/"},
                # Required by SARIF to hold repositoryUri: only written when git or CI names it.
                **(
                    {
                        "versionControlProvenance": [
                            {
                                "repositoryUri": provenance.repository_uri,
                                "revisionId": provenance.git_commit,
                                "branch": provenance.git_branch,
                            }
                        ]
                    }
                    if provenance.repository_uri
                    else {}
                ),
                "invocations": [
                    {
                        "executionSuccessful": True,
                        "exitCode": report.exit_code,
                        "endTimeUtc": provenance.generated_at,
                    }
                ],
                "properties": {
                    "env": provenance.env,
                    "planSha256": provenance.plan_sha256,
                    "savedPlanSha256": provenance.saved_plan_sha256,
                    "terraformVersion": provenance.terraform_version,
                },
                "results": [_result(finding, report) for finding in report.findings],
            }
        ],
    }


def _result(finding: AuditFinding, report: AuditReport) -> dict[str, Any]:
    rule_id, _ = RULES[finding.kind]
    # A policy finding points at the .tf file and lines checkov matched; the rest at the plan.
    uri = finding.source_file or report.provenance.plan_file
    physical: dict[str, Any] = {"artifactLocation": {"uri": uri, "uriBaseId": "%SRCROOT%"}}
    if finding.line_range:
        physical["region"] = {"startLine": finding.line_range[0], "endLine": finding.line_range[1]}
    location: dict[str, Any] = {"physicalLocation": physical}
    if finding.address:
        location["logicalLocations"] = [{"fullyQualifiedName": finding.address, "kind": "resource"}]
    result: dict[str, Any] = {
        "ruleId": rule_id,
        "ruleIndex": _KIND_ORDER.index(finding.kind),
        "level": _LEVEL[finding.severity],
        "message": {"text": f"{finding.title}: {finding.detail}"},
        "locations": [location],
        "partialFingerprints": {"findingHash/v1": _fingerprint(finding, report.provenance.env)},
        "properties": {"kind": finding.kind, "blocking": finding.blocking},
    }
    if finding.location:
        result["properties"]["source"] = finding.location
    entry = finding.allowed_by
    if entry:
        result["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": f"{entry.reason} (approved by {entry.approved_by})",
            }
        ]
    return result


def _fingerprint(finding: AuditFinding, env: str) -> str:
    identity = "\x1f".join((env, finding.kind, finding.address or "", finding.title))
    return hashlib.sha256(identity.encode()).hexdigest()[:32]
