"""The prod rules, checked on the values: what prod must be, as Terraform assigns prod's values.

checkov cannot carry tfvars values into modules whose inputs refer to other modules' outputs, so
on the roots it judges module defaults rather than prod's values; these rules close that gap
(infra/policies/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackctl.checks.findings import CheckReport, Finding, relative
from stackctl.checks.tfvars import root_values

CHECK = "prod-policy"


@dataclass(frozen=True)
class Rule:
    path: str
    expected: Any
    why: str


PROD_RULES = (
    Rule("public_network_access_enabled", False, "no public network access in prod"),
    Rule("network.enabled", True, "prod reaches every data-plane service through private endpoints"),
    Rule("zone_redundant", True, "zone redundancy where the service offers it"),
    Rule("resource_locks_enabled", True, "CanNotDelete locks on stateful resources"),
    Rule("diagnostic_settings_enabled", True, "diagnostic settings on every resource"),
    Rule(
        "aml.vm_priority", "Dedicated", "dedicated nodes: low-priority nodes can be pre-empted mid-training"
    ),
    Rule("aml.node_public_ip_enabled", False, "no public IP on compute nodes"),
    Rule("aml.managed_network_isolation_mode", "AllowOnlyApprovedOutbound", "only approved outbound traffic"),
    Rule("sql.defender_enabled", True, "Defender for SQL"),
    Rule("schedules.adf_trigger_active", True, "the weekly trigger runs in prod"),
)


def _hcl(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else f'"{value}"'


def _lookup(values: dict[str, Any], dotted: str) -> Any:
    current: Any = values
    for part in dotted.split("."):
        if not isinstance(current, dict) or part not in current:
            return None
        current = current[part]
    return current


def check_prod_policy(root: Path) -> CheckReport:
    """The prod rules on prod's values as Terraform assigns them from every tfvars file it loads
    (terraform.tfvars, terraform.tfvars.json, *.auto.tfvars[.json]; stackctl.checks.tfvars). A
    finding names the file whose value won."""
    report = CheckReport(CHECK)
    prod = root_values(root / "envs" / "prod")
    for rule in PROD_RULES:
        actual = _lookup(prod.values, rule.path)
        if actual != rule.expected:
            source = prod.sources.get(rule.path.split(".")[0], root / "envs" / "prod" / "terraform.tfvars")
            report.findings.append(
                Finding(
                    CHECK,
                    relative(source, root),
                    f"{rule.path} = {actual!r}, but prod requires {rule.expected!r} ({rule.why})",
                    f"set {rule.path} = {_hcl(rule.expected)} in {relative(source, root)}",
                )
            )
    report.figures["rules"] = len(PROD_RULES)
    report.figures["tfvars files"] = [relative(f, root) for f in prod.files]
    return report
