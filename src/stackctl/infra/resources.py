"""Resources per environment: the resource blocks each root instantiates, with `count` and
`for_each` evaluated from terraform.tfvars, variable defaults and locals as far as that is possible
before a plan (expressions.py). What cannot be known offline (a for_each over another resource's
attributes) counts as one instance and is reported as approximate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackctl.infra.expressions import UNKNOWN, evaluate
from stackctl.infra.findings import CheckReport, relative
from stackctl.infra.hclmodel import MODULE_META, TerraformDir, read_dir
from stackctl.parity import load_tfvars

CHECK = "resources"


@dataclass
class ResourceCount:
    total: int = 0
    approximate: list[str] = field(default_factory=list)
    by_type: dict[str, int] = field(default_factory=dict)


class Scope:
    """One module instance: its variable values and lazily evaluated locals."""

    def __init__(self, model: TerraformDir, values: dict[str, Any]):
        self.model = model
        self.values = values
        self._locals: dict[str, Any] = {}
        self._evaluating: set[str] = set()

    def resolve(self, kind: str, name: str) -> Any:
        if kind == "var":
            if name in self.values:
                return self.values[name]
            variable = self.model.variables.get(name)
            return evaluate(variable.default, self.resolve) if variable and variable.has_default else UNKNOWN
        if name in self._locals:
            return self._locals[name]
        if name not in self.model.locals or name in self._evaluating:
            return UNKNOWN
        self._evaluating.add(name)
        value = evaluate(self.model.locals[name], self.resolve)
        self._evaluating.discard(name)
        self._locals[name] = value
        return value


def _instances(body: dict[str, Any], scope: Scope) -> int | None:
    if "count" in body:
        value = evaluate(body["count"], scope.resolve)
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
    if "for_each" in body:
        value = evaluate(body["for_each"], scope.resolve)
        return len(value) if isinstance(value, (dict, list)) else None
    return 1


def count_resources(directory: Path, values: dict[str, Any], root: Path, address: str = "") -> ResourceCount:
    model = read_dir(directory)
    scope = Scope(model, values)
    result = ResourceCount()
    for block in model.blocks:
        if block.kind != "resource":
            continue
        n = _instances(block.body, scope)
        if n is None:
            n = 1
            result.approximate.append(f"{address}{block.address}")
        result.total += n
        result.by_type[block.type] = result.by_type.get(block.type, 0) + n
    for call in model.module_calls.values():
        instances = _instances(call.arguments, scope)
        if instances == 0:
            continue
        child_values = {
            name: evaluate(value, scope.resolve)
            for name, value in call.arguments.items()
            if name not in MODULE_META
        }
        child = count_resources(
            (directory / call.source).resolve(), child_values, root, f"{address}module.{call.name}."
        )
        if instances is None:
            instances = 1
            result.approximate.append(f"{address}module.{call.name}")
        result.total += instances * child.total
        result.approximate.extend(child.approximate)
        for type_name, n in child.by_type.items():
            result.by_type[type_name] = result.by_type.get(type_name, 0) + instances * n
    return result


def count_env(root: Path, env: str) -> ResourceCount:
    env_root = root / "envs" / env
    return count_resources(env_root, load_tfvars(env_root / "terraform.tfvars"), root)


def check_resource_counts(root: Path) -> CheckReport:
    """Figures only (resources per environment); never a finding."""
    report = CheckReport(CHECK)
    for env in ("dev", "prod"):
        counted = count_env(root, env)
        report.figures[env] = counted.total
        if counted.approximate:
            report.notes.append(
                f"{env}: {len(counted.approximate)} count/for_each not knowable offline, counted as 1: "
                + ", ".join(counted.approximate)
            )
    report.notes.insert(0, f"counted from {relative(root / 'envs', root)}/<env>/terraform.tfvars")
    return report
