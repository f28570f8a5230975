"""From a validated plan to the auditor's findings. Pure: no files, no processes, no clock.

Values from paths the plan marks sensitive are masked where they are read (see `values`). Every
other secret (an unmarked copy in a computed attribute, a check message, an output) is scrubbed
once, at the one boundary: `build_report` passes the whole report model through
`values.scrub_everywhere`, and every renderer (md, html, SARIF, job summary) reads that model.
Values from the plan travel to the boundary as PlanValues, so text derived from them (shortened,
escaped, diffed) is made from the scrubbed value; findings that quote values are derived from the
model after the boundary.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from stackctl.audit.allow_list import AllowEntry, AllowList
from stackctl.audit.plan import ChangeKind, Plan, ResourceChange
from stackctl.audit.values import (
    SENSITIVE,
    AttributeDiff,
    Shown,
    attribute_diffs,
    collect_secrets,
    dotted,
    is_marked,
    leaf_paths,
    masked,
    scrub_everywhere,
    shown,
    value_at,
    with_unknowns,
)
from stackctl.checks.checkov import CheckovReport, CheckResult
from stackctl.checks.parity import Difference

Severity = Literal["blocking", "warning", "info"]
FindingKind = Literal[
    "destructive-change",
    "policy-failure",
    "policy-not-checked",
    "policy-skipped",
    "drift",
    "cost-change",
    "parity-difference",
    "allow-list-unused",
    "forgotten-object",
    "check-failed",
    "check-unknown",
    "incomplete-plan",
    "provenance",
]

# Resources whose deletion or replacement loses data (or the keys to it): blocking unless allowed.
DATA_BEARING: Mapping[str, str] = {
    "azurerm_storage_account": "storage account",
    "azurerm_storage_container": "storage container",
    "azurerm_storage_data_lake_gen2_filesystem": "data lake file system",
    "azurerm_storage_share": "storage file share",
    "azurerm_storage_table": "storage table",
    "azurerm_storage_queue": "storage queue",
    "azurerm_mssql_server": "SQL server (and every database on it)",
    "azurerm_mssql_database": "SQL database",
    "azurerm_sql_server": "SQL server (and every database on it)",
    "azurerm_sql_database": "SQL database",
    "azurerm_key_vault": "Key Vault",
    "azurerm_key_vault_key": "Key Vault key",
    "azurerm_key_vault_secret": "Key Vault secret",
    "azurerm_key_vault_certificate": "Key Vault certificate",
    "azurerm_machine_learning_workspace": "AML workspace",
    "azurerm_container_registry": "container registry",
    "azurerm_log_analytics_workspace": "Log Analytics workspace",
}

# The same data held through azapi (the ARM resource type of an `azapi_resource`, without its API
# version): its delete loses the data as the azurerm resource's does. Case-insensitive, as ARM is.
# https://learn.microsoft.com/azure/azure-resource-manager/management/azure-services-resource-providers
DATA_BEARING_ARM: Mapping[str, str] = {
    "microsoft.storage/storageaccounts": "storage account",
    "microsoft.storage/storageaccounts/blobservices/containers": "storage container",
    "microsoft.storage/storageaccounts/fileservices/shares": "storage file share",
    "microsoft.storage/storageaccounts/tableservices/tables": "storage table",
    "microsoft.storage/storageaccounts/queueservices/queues": "storage queue",
    "microsoft.sql/servers": "SQL server (and every database on it)",
    "microsoft.sql/servers/databases": "SQL database",
    "microsoft.keyvault/vaults": "Key Vault",
    "microsoft.keyvault/vaults/secrets": "Key Vault secret",
    "microsoft.keyvault/vaults/keys": "Key Vault key",
    "microsoft.machinelearningservices/workspaces": "AML workspace",
    "microsoft.machinelearningservices/workspaces/datastores": "AML datastore registration",
    "microsoft.containerregistry/registries": "container registry",
    "microsoft.operationalinsights/workspaces": "Log Analytics workspace",
    "microsoft.datafactory/factories": "Data Factory (its pipelines and linked services)",
}
AZAPI_TYPES = frozenset({"azapi_resource"})


def data_bearing(rc: ResourceChange) -> str | None:
    """What data a resource holds, or None: by its azurerm type, or for an `azapi_resource` by the
    ARM type in its `type` argument (`Microsoft.Storage/storageAccounts@2023-05-01`)."""
    if rc.type in AZAPI_TYPES:
        for value in (rc.change.before, rc.change.after):
            arm = value.get("type") if isinstance(value, dict) else None
            if isinstance(arm, str):
                held = DATA_BEARING_ARM.get(arm.split("@", 1)[0].lower())
                return f"{held}, through azapi" if held else None
        return None
    return DATA_BEARING.get(rc.type)


# Attribute names (the last part of a path) that decide what a resource costs.
COST_ATTRIBUTES = frozenset(
    {
        "sku",
        "sku_name",
        "sku_tier",
        "tier",
        "vm_size",
        "size",
        "vm_priority",
        "min_node_count",
        "max_node_count",
        "node_count",
        "instance_count",
        "capacity",
        "min_capacity",
        "max_size_gb",
        "storage_mb",
        "account_tier",
        "account_replication_type",
        "access_tier",
        "zone_redundant",
        "retention_in_days",
        "daily_quota_gb",
    }
)

# A tfvars value whose name says it is a secret is masked in the parity section even though
# tfvars must never hold one: a mistake there must not travel further into a report.
_SECRET_NAME = re.compile(r"password|secret|token|connection_string|access_key|client_key", re.IGNORECASE)

CHANGE_ORDER: tuple[ChangeKind, ...] = (
    "delete",
    "replace",
    "replace-forget",
    "update",
    "create",
    "forget",
    "read",
    "no-op",
)
LISTED_KINDS: tuple[ChangeKind, ...] = ("delete", "replace", "replace-forget", "update", "create", "forget")


@dataclass(frozen=True)
class AuditFinding:
    kind: FindingKind
    severity: Severity
    title: str
    detail: str
    address: str | None = None
    location: str | None = None
    allowed_by: AllowEntry | None = None
    # Lines the finding points at (checkov reports them), for SARIF regions: of `source_file`
    # when set, else of the plan JSON.
    line_range: tuple[int, int] | None = None
    # The repository file (`modules/sql/main.tf`) a policy finding's lines are in, when checkov
    # matched the planned resource to its code (--repo-root-for-plan-enrichment).
    source_file: str | None = None

    @property
    def blocking(self) -> bool:
        return self.severity == "blocking"


@dataclass(frozen=True)
class ResourceReport:
    address: str
    module: str
    type: str
    kind: ChangeKind
    action_reason: str | None
    diffs: tuple[AttributeDiff, ...]
    data_bearing: str | None
    previous_address: str | None = None
    deposed: str | None = None
    imported_id: str | None = None


@dataclass(frozen=True)
class CostChange:
    address: str
    kind: ChangeKind
    attribute: str
    before: Shown
    after: Shown
    # What it costs, from stackctl.audit.pricing (Azure Retail Prices), or why it is not priced.
    price: str = "not priced: no price lookup for this attribute"


@dataclass(frozen=True)
class DriftItem:
    address: str
    kind: ChangeKind
    diffs: tuple[AttributeDiff, ...]
    reverted_by_plan: bool
    # What this plan does to the address: "create" after a delete outside Terraform re-creates it.
    plan_kind: ChangeKind | None = None
    data_bearing: str | None = None

    @property
    def consequence(self) -> str:
        """What the plan does about the drift, in the words the report uses."""
        if self.kind == "delete":
            if self.plan_kind in ("create", "replace"):
                lost = f"; the {self.data_bearing}'s data is not restored" if self.data_bearing else ""
                return f"this plan re-creates it, empty{lost}"
            return "this plan does not re-create it: it stays deleted"
        if self.reverted_by_plan:
            return "this plan puts it back"
        return "this plan keeps the change: update the configuration or revert it by hand"


@dataclass(frozen=True)
class OutputReport:
    name: str
    kind: ChangeKind
    before: Shown
    after: Shown


@dataclass(frozen=True)
class ParityItem:
    path: str
    dev: Shown
    prod: Shown


@dataclass(frozen=True)
class ProviderVersion:
    name: str
    source: str
    constraint: str | None
    locked: str | None


@dataclass(frozen=True)
class Provenance:
    env: str
    plan_file: str
    plan_sha256: str
    git_commit: str
    git_branch: str
    git_dirty: bool | None
    terraform_version: str
    plan_timestamp: str | None
    generated_at: str
    providers: tuple[ProviderVersion, ...]
    allow_list: str
    policies: str
    stackctl_version: str
    # Which tool wrote the plan: Terraform, or OpenTofu (which reports its own version in the same field).
    plan_tool: str = "Terraform"
    # The binary plan `make apply` applies, when it sits next to the plan JSON: its hash ties the
    # reviewed report to what is applied.
    saved_plan: str | None = None
    saved_plan_sha256: str | None = None
    # The repository's URL, from git's `origin` remote or the CI's variables; None when unknown.
    repository_uri: str | None = None
    # What the repository pins for each provider (registry source -> version constraint), from
    # the root's versions.tf: a plan made under other constraints is flagged.
    repository_pins: Mapping[str, str] = field(default_factory=dict)
    # Who reviewed and approved the plan, when `make review` recorded it (see stackctl.review).
    review: str | None = None


@dataclass(frozen=True)
class PolicySummary:
    ran: bool
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    checkov_version: str | None = None
    not_run_reason: str | None = None


@dataclass(frozen=True)
class AuditReport:
    provenance: Provenance
    resources: tuple[ResourceReport, ...]
    counts: Mapping[ChangeKind, int]
    findings: tuple[AuditFinding, ...]
    costs: tuple[CostChange, ...]
    drift: tuple[DriftItem, ...]
    outputs: tuple[OutputReport, ...]
    parity: tuple[ParityItem, ...] | None
    parity_unavailable: str | None
    policy: PolicySummary
    by_module: Mapping[str, Mapping[ChangeKind, tuple[ResourceReport, ...]]] = field(default_factory=dict)

    @property
    def blocking(self) -> tuple[AuditFinding, ...]:
        return tuple(f for f in self.findings if f.blocking)

    @property
    def exit_code(self) -> int:
        """0: nothing blocks the release; 1: at least one blocking finding."""
        return 1 if self.blocking else 0

    def findings_of(self, *kinds: FindingKind) -> tuple[AuditFinding, ...]:
        return tuple(f for f in self.findings if f.kind in kinds)


def _destructive_findings(
    resources: Sequence[ResourceReport], allow_list: AllowList, env: str, today: dt.date
) -> tuple[list[AuditFinding], set[AllowEntry]]:
    """A finding per destructive change (blocking unless allowed), and the allow-list entries used."""
    findings: list[AuditFinding] = []
    used_entries: set[AllowEntry] = set()
    for resource in resources:
        finding = _destructive_finding(resource, allow_list, env, today)
        if finding:
            findings.append(finding)
            if finding.allowed_by:
                used_entries.add(finding.allowed_by)
    return findings, used_entries


_REVERTS = frozenset({"update", "replace", "replace-forget"})
_RECREATES = frozenset({"create", "replace"})


def _drift_items(plan: Plan) -> tuple[DriftItem, ...]:
    """Managed resources changed or deleted outside Terraform, and whether this plan reverts each."""
    planned = {rc.address: rc.change.kind for rc in plan.resource_changes if rc.mode == "managed"}
    items = []
    for rc in plan.resource_drift:
        if rc.mode != "managed":
            continue
        plan_kind = planned.get(rc.address)
        # An update puts a changed object back; after a delete outside Terraform only a create does.
        puts_back = (
            {"create", "replace"} if rc.change.kind == "delete" else {"update", "replace", "replace-forget"}
        )
        items.append(
            DriftItem(
                address=rc.address,
                kind=rc.change.kind,
                diffs=tuple(attribute_diffs(rc.change)) if rc.change.kind != "delete" else (),
                reverted_by_plan=plan_kind in puts_back,
                plan_kind=plan_kind,
                data_bearing=data_bearing(rc),
            )
        )
    return tuple(items)


def _drift_finding(item: DriftItem) -> AuditFinding:
    what = "deleted outside Terraform" if item.kind == "delete" else "changed outside Terraform"
    changed = ", ".join(d.path for d in item.diffs) or "no attribute detail"
    return AuditFinding(
        "drift", "warning", f"{item.address} was {what}", f"{changed}; {item.consequence}", item.address
    )


def _cost_finding(cost: CostChange) -> AuditFinding:
    return AuditFinding(
        "cost-change",
        "info",
        f"{cost.address}: {cost.attribute}",
        f"{cost.kind}: {cost.before} -> {cost.after}",
        cost.address,
    )


def _parity_finding(item: ParityItem) -> AuditFinding:
    return AuditFinding("parity-difference", "info", item.path, f"dev: {item.dev}; prod: {item.prod}")


def _unused_allow_entries(
    allow_list: AllowList, env: str, used_entries: set[AllowEntry], today: dt.date
) -> list[AuditFinding]:
    """Unexpired allow-list entries for this environment that matched no change of the plan."""
    findings = []
    for entry in allow_list.allowed_destructive_changes:
        applies_here = entry.environments is None or env in entry.environments
        if applies_here and entry not in used_entries and not entry.expired(today):
            findings.append(
                AuditFinding(
                    "allow-list-unused",
                    "info",
                    f"allow-list entry for {entry.address} matched nothing in this plan",
                    f"approved by {entry.approved_by}: {entry.reason}; remove it once the change is applied",
                    entry.address,
                    location=allow_list.source,
                )
            )
    return findings


def build_report(
    plan: Plan,
    *,
    provenance: Provenance,
    allow_list: AllowList,
    checkov: CheckovReport | None,
    parity: Sequence[Difference] | None,
    parity_unavailable: str | None = None,
    today: dt.date,
    checkov_not_run_reason: str = "checkov was not run on this plan",
    price: Callable[[tuple[CostChange, ...]], tuple[CostChange, ...]] | None = None,
) -> AuditReport:
    """The auditor's report of one plan: resources, change counts, findings (sorted, blocking first),
    costs (priced by `price`, e.g. stackctl.audit.pricing.priced_costs, when given), drift, outputs,
    dev/prod parity and the checkov summary. Every string in it has passed the one boundary."""
    env = provenance.env
    resources = tuple(_resource_report(rc) for rc in plan.resource_changes if rc.mode == "managed")
    counts: Counter[ChangeKind] = Counter(rc.change.kind for rc in plan.counted_changes)
    findings, used_entries = _destructive_findings(resources, allow_list, env, today)
    policy, policy_findings = _policy_findings(checkov, checkov_not_run_reason, env)
    findings.extend(policy_findings)
    findings.extend(f for f in map(_forgotten_finding, resources) if f)
    findings.extend(_check_findings(plan))
    findings.extend(_unused_allow_entries(allow_list, env, used_entries, today))
    findings.extend(_incomplete_plan_findings(plan))
    findings.extend(_provenance_findings(provenance, today))
    costs = tuple(cost for rc in plan.resource_changes if rc.mode == "managed" for cost in _cost_changes(rc))
    gathered = AuditReport(
        provenance=provenance,
        resources=resources,
        counts={kind: counts.get(kind, 0) for kind in CHANGE_ORDER},
        findings=tuple(findings),
        costs=price(costs) if price else costs,
        drift=_drift_items(plan),
        outputs=tuple(_output_reports(plan)),
        parity=None if parity is None else tuple(_parity_item(d, plan.sensitive_variables) for d in parity),
        parity_unavailable=parity_unavailable,
        policy=policy,
        by_module=_group(resources),
    )
    # The one boundary: every text the renderers read passes through the same scrubbing of every
    # known secret, whatever field it sits in; nothing before it scrubs field by field.
    report: AuditReport = scrub_everywhere(gathered, collect_secrets(plan))
    # Findings that quote values (drift paths, cost and parity values) are made from the scrubbed
    # model, so they quote only what has passed the boundary.
    derived = (
        *map(_drift_finding, report.drift),
        *map(_cost_finding, report.costs),
        *map(_parity_finding, report.parity or ()),
    )
    return dataclasses.replace(
        report, findings=tuple(sorted((*report.findings, *derived), key=_finding_order))
    )


# A saved plan records the state it was made against; the older it is, the likelier the state
# moved on (then `terraform apply` refuses it as stale) or the review no longer matches Azure.
MAX_PLAN_AGE_DAYS = 2


def _provenance_findings(provenance: Provenance, today: dt.date) -> list[AuditFinding]:
    """A plan made under other provider constraints than the repository pins, or days old."""
    findings = []
    for provider in provenance.providers:
        pinned = provenance.repository_pins.get(_registry_source(provider.source))
        if pinned and provider.constraint and provider.constraint != pinned:
            findings.append(
                AuditFinding(
                    "provenance",
                    "warning",
                    f"the plan's {provider.name} constraint {provider.constraint!r} is not the repository's "
                    f"{pinned!r}",
                    "it was made from other code or another checkout than the one audited; plan again "
                    "from this commit (`make plan`)",
                )
            )
    made = _date_of(provenance.plan_timestamp)
    if made is not None and (today - made).days > MAX_PLAN_AGE_DAYS:
        findings.append(
            AuditFinding(
                "provenance",
                "warning",
                f"the plan is {(today - made).days} days old (made {provenance.plan_timestamp})",
                f"older than {MAX_PLAN_AGE_DAYS} days: Azure or the state may have moved on; plan again "
                "(`make plan`) and audit the new plan",
            )
        )
    return findings


def _registry_source(source: str) -> str:
    source = source.lower()
    return source if source.count("/") >= 2 else f"registry.terraform.io/{source}"


def _date_of(timestamp: str | None) -> dt.date | None:
    try:
        return dt.datetime.fromisoformat(timestamp.replace("Z", "+00:00")).date() if timestamp else None
    except ValueError:
        return None


def _incomplete_plan_findings(plan: Plan) -> list[AuditFinding]:
    """A plan Terraform marks `complete: false` (made with `-target`, or with deferred changes)
    does not show every change a full plan would: it cannot be signed off as the release.
    https://developer.hashicorp.com/terraform/internals/json-format (plan representation)"""
    if plan.complete is not False:
        return []
    return [
        AuditFinding(
            "incomplete-plan",
            "blocking",
            "the plan is partial (complete: false): made with -target or with deferred changes",
            "it does not show every change a full plan of this configuration would; plan again "
            "without -target (`make plan`) and audit that plan",
        )
    ]


_SEVERITY_ORDER = {"blocking": 0, "warning": 1, "info": 2}


def _finding_order(finding: AuditFinding) -> tuple[int, str, str, str]:
    return (_SEVERITY_ORDER[finding.severity], finding.kind, finding.address or "", finding.title)


def _resource_report(rc: ResourceChange) -> ResourceReport:
    kind = rc.change.kind
    diffs = tuple(attribute_diffs(rc.change)) if kind in ("update", "replace", "replace-forget") else ()
    return ResourceReport(
        address=rc.address,
        module=rc.module,
        type=rc.type,
        kind=kind,
        action_reason=rc.action_reason,
        diffs=diffs,
        data_bearing=data_bearing(rc),
        previous_address=rc.previous_address,
        deposed=rc.deposed,
        imported_id=(rc.change.importing.id or "(id not recorded)") if rc.change.importing else None,
    )


def _forgotten_finding(resource: ResourceReport) -> AuditFinding | None:
    """`forget` removes an object from the state and leaves it in Azure: nothing is lost, but from
    now on nobody manages it (it keeps its cost, its access and, for data-bearing resources, its
    data)."""
    if resource.kind not in ("forget", "replace-forget"):
        return None
    holds = f" ({resource.data_bearing}: its data stays with it)" if resource.data_bearing else ""
    if resource.kind == "forget":
        title = f"{resource.address} will be forgotten: it stays in Azure, no longer managed by Terraform"
    else:
        title = (
            f"{resource.address} will be re-created, and the old object forgotten: "
            "it stays in Azure, no longer managed by Terraform"
        )
    return AuditFinding(
        "forgotten-object",
        "warning",
        title,
        f"Terraform does not delete it{holds}; delete it by hand, or import it again, "
        "once nothing needs it (a `removed` block with `lifecycle { destroy = false }` asks for this)",
        resource.address,
    )


# Terraform's `check` blocks never stop a plan or apply: a failed assertion is a warning by design
# ("check blocks ... do not affect Terraform's execution of an operation. A failed assertion
# reports a warning without halting the ongoing operation."
# https://developer.hashicorp.com/terraform/language/checks). The audit keeps that choice: a
# failed or errored check is a warning, one Terraform cannot judge before apply is listed as
# info. A rule that must block belongs in a precondition, which fails the plan itself.
def _check_findings(plan: Plan) -> list[AuditFinding]:
    findings = []
    for check in plan.checks:
        if check.status in ("fail", "error"):
            problems = "; ".join(check.problems) or "no message given"
            findings.append(
                AuditFinding(
                    "check-failed",
                    "warning",
                    f"{check.display} {'failed' if check.status == 'fail' else 'could not be evaluated'}",
                    f"{problems} (Terraform reports a failed check without stopping; "
                    "fix what it says, or make it a precondition if it must block)",
                    check.display,
                )
            )
        elif check.status == "unknown":
            findings.append(
                AuditFinding(
                    "check-unknown",
                    "info",
                    f"{check.display} is known only after apply",
                    f"the {check.kind} condition depends on values Terraform learns during apply; "
                    "it is evaluated then",
                    check.display,
                )
            )
    return findings


def _destructive_finding(
    resource: ResourceReport, allow_list: AllowList, env: str, today: dt.date
) -> AuditFinding | None:
    if resource.kind not in ("delete", "replace"):
        return None
    verb = "deleted" if resource.kind == "delete" else "replaced (destroyed and re-created)"
    reason = f" ({resource.action_reason.replace('_', ' ')})" if resource.action_reason else ""
    forced = [d.path for d in resource.diffs if d.forces_replacement]
    forced_text = f"; forced by {', '.join(forced)}" if forced else ""
    if resource.data_bearing is None:
        return AuditFinding(
            "destructive-change",
            "warning",
            f"{resource.address} will be {verb}",
            f"{resource.type} holds no data of its own{reason}{forced_text}",
            resource.address,
        )
    entry, expired = allow_list.match(resource.address, resource.kind, env, today)
    what = f"{resource.data_bearing}: its data is lost{reason}{forced_text}"
    if entry:
        return AuditFinding(
            "destructive-change",
            "info",
            f"{resource.address} will be {verb} (allowed)",
            f"{what}. Allowed by {entry.approved_by}: {entry.reason}",
            resource.address,
            location=allow_list.source,
            allowed_by=entry,
        )
    fix = (
        f"Its entry in {allow_list.source} has expired: renew `expires` if the change is still intended"
        if expired
        else f"If intended, name it in the allow-list {allow_list.source} with reason and approved_by"
    )
    return AuditFinding(
        "destructive-change",
        "blocking",
        f"{resource.address} will be {verb}",
        f"{what}. {fix}",
        resource.address,
    )


def code_file(file_path: str, env: str) -> str | None:
    """The repository path of a file checkov names relative to the root it enriched the plan
    from (envs/<env>): `../../modules/sql/main.tf` -> `modules/sql/main.tf`; None for the plan."""
    if not file_path.endswith((".tf", ".tf.json")):
        return None
    return posixpath.normpath(posixpath.join("envs", env, file_path.lstrip("/")))


def _policy_failure(result: CheckResult, env: str) -> AuditFinding:
    """A failed checkov check, pointing at the .tf lines checkov matched (else at the plan)."""
    source = code_file(result.file_path, env)
    where = (
        f"{source}:{result.line_range[0]}-{result.line_range[1]}" if source and result.line_range else None
    )
    return AuditFinding(
        "policy-failure",
        "blocking",
        f"{result.check_id}: {result.check_name}",
        f"planned values fail the check at {where or result.location or 'the plan'}"
        + (f" (severity {result.severity})" if result.severity else "")
        + (f"; guideline: {result.guideline}" if result.guideline else ""),
        result.resource,
        location=where or result.location,
        line_range=result.line_range,
        source_file=source,
    )


def _policy_findings(
    checkov: CheckovReport | None, not_run_reason: str, env: str = "dev"
) -> tuple[PolicySummary, list[AuditFinding]]:
    if checkov is None:
        return PolicySummary(ran=False, not_run_reason=not_run_reason), [
            AuditFinding(
                "policy-not-checked",
                "blocking",
                "security and organisation policies were not checked",
                f"{not_run_reason}; the release gate cannot pass without them",
            )
        ]
    findings = [_policy_failure(result, env) for result in checkov.failed]
    findings += [
        AuditFinding(
            "policy-skipped",
            "info",
            f"{result.check_id}: {result.check_name} (skipped)",
            f"{result.resource}: {result.suppress_comment or 'skipped without a reason'}",
            result.resource,
            location=result.location,
        )
        for result in checkov.skipped
    ]
    findings += [
        AuditFinding(
            "policy-not-checked",
            "blocking",
            "checkov could not parse part of the plan",
            error,
            location=str(checkov.target),
        )
        for error in checkov.parsing_errors
    ]
    summary = PolicySummary(
        ran=True,
        passed=len(checkov.passed),
        failed=len(checkov.failed),
        skipped=len(checkov.skipped),
        checkov_version=checkov.checkov_version,
    )
    return summary, findings


def _cost_changes(rc: ResourceChange) -> list[CostChange]:
    change = rc.change
    kind = change.kind
    if kind in ("update", "replace", "replace-forget"):
        return [
            CostChange(rc.address, kind, diff.path, diff.before, diff.after)
            for diff in attribute_diffs(change)
            if _is_cost_path(diff.path)
        ]
    if kind in ("create", "delete"):
        value = change.after if kind == "create" else change.before
        marks = change.after_sensitive if kind == "create" else change.before_sensitive
        costs = []
        for path in leaf_paths(value):
            leaf = value_at(value, path)
            if not path or not _is_cost_path(dotted(path)) or leaf is None:
                continue
            side = SENSITIVE if is_marked(marks, path) else shown(leaf)
            before, after = ("(new)", side) if kind == "create" else (side, "(removed)")
            costs.append(CostChange(rc.address, kind, dotted(path), before, after))
        return costs
    return []


def _is_cost_path(path: str) -> bool:
    names = [part for part in path.split(".") if not part.isdigit()]
    return bool(names) and names[-1] in COST_ATTRIBUTES


def _output_reports(plan: Plan) -> list[OutputReport]:
    reports = []
    for name, change in sorted(plan.output_changes.items()):
        if change.kind == "no-op":
            continue
        before = masked(change.before, change.before_sensitive)
        after = with_unknowns(masked(change.after, change.after_sensitive), change.after_unknown)
        reports.append(
            OutputReport(
                name=name,
                kind=change.kind,
                before=shown(before),
                after=shown(after),
            )
        )
    return reports


def _parity_item(difference: Difference, sensitive_variables: frozenset[str]) -> ParityItem:
    top = difference.path.split(".", 1)[0]
    secret = top in sensitive_variables or bool(_SECRET_NAME.search(difference.path))

    def side(value: object, present: bool) -> Shown:
        if not present:
            return "(not set)"
        return SENSITIVE if secret else shown(value)

    return ParityItem(
        path=difference.path,
        dev=side(difference.dev, difference.only_in != "prod"),
        prod=side(difference.prod, difference.only_in != "dev"),
    )


def _group(resources: Sequence[ResourceReport]) -> dict[str, dict[ChangeKind, tuple[ResourceReport, ...]]]:
    grouped: dict[str, dict[ChangeKind, list[ResourceReport]]] = {}
    for resource in resources:
        moved_or_imported = resource.previous_address is not None or resource.imported_id is not None
        if resource.kind not in LISTED_KINDS and not (resource.kind == "no-op" and moved_or_imported):
            continue
        grouped.setdefault(resource.module, {}).setdefault(resource.kind, []).append(resource)
    return {
        module: {
            kind: tuple(sorted(grouped[module][kind], key=lambda r: r.address))
            for kind in (*LISTED_KINDS, "no-op")
            if kind in grouped[module]
        }
        for module in sorted(grouped, key=lambda m: (m != "(root module)", m))
    }
