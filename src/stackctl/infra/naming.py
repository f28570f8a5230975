"""The naming convention, checked offline: infra/naming.tf's `naming_rules` (each name with the
Azure rule for its kind) evaluated with each environment's tfvars, every name matched against its
rule. Terraform enforces the same rules at plan time (preconditions on the resource group); this
finds a broken name before anyone plans.
"""

from __future__ import annotations

import re
from pathlib import Path

from stackctl.infra.expressions import UNKNOWN
from stackctl.infra.findings import CheckReport, Finding, relative
from stackctl.infra.hclmodel import read_dir
from stackctl.infra.resources import Scope
from stackctl.parity import load_tfvars
from stackctl.paths import CLOUD_ENVIRONMENTS

CHECK = "naming"


def resolved_names(root: Path, env: str) -> dict[str, dict[str, str]]:
    """naming_rules of infra/ for one environment: key -> {name, pattern, rule}."""
    values = load_tfvars(root / "envs" / env / "terraform.tfvars")
    scope = Scope(read_dir(root / "infra"), values)
    rules = scope.resolve("local", "naming_rules")
    return rules if isinstance(rules, dict) else {}


def check_naming(root: Path) -> CheckReport:
    report = CheckReport(CHECK)
    naming_tf = relative(root / "infra" / "naming.tf", root)
    for env in CLOUD_ENVIRONMENTS:
        rules = resolved_names(root, env)
        if not rules:
            report.findings.append(
                Finding(CHECK, naming_tf, "local.naming_rules cannot be evaluated", "keep it a literal map")
            )
            continue
        for key, rule in sorted(rules.items()):
            name, pattern = rule.get("name"), rule.get("pattern")
            if name is UNKNOWN or pattern is UNKNOWN or not isinstance(name, str):
                unknown = f"{env}: the {key} name is not knowable offline"
                report.findings.append(Finding(CHECK, naming_tf, unknown, "build names from variables only"))
                continue
            if not re.fullmatch(str(pattern).lstrip("^").rstrip("$"), name):
                report.findings.append(
                    Finding(
                        CHECK,
                        f"envs/{env}/terraform.tfvars",
                        f'{env}: {key} name "{name}" breaks the {rule.get("rule")} rule',
                        "shorten workload, location_short or name_suffix",
                    )
                )
        report.figures[env] = len(rules)
    return report
