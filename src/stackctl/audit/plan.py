"""Reading a Terraform plan as `terraform show -json` writes it (JSON output format 1.x).

The model keeps only what the audit reads and ignores the rest, so a newer Terraform that adds
fields still loads; a file that lacks what the audit needs, or is not a plan at all, is refused
with an error naming the missing or wrong field.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stackctl.errors import StackctlError

Action = Literal["no-op", "create", "read", "update", "delete", "forget"]
# What an auditor reads instead of Terraform's action lists.
ChangeKind = Literal["create", "update", "delete", "replace", "read", "no-op", "forget"]

_ACTION_KINDS: dict[tuple[str, ...], ChangeKind] = {
    ("no-op",): "no-op",
    ("create",): "create",
    ("read",): "read",
    ("update",): "update",
    ("delete",): "delete",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("forget",): "forget",
    # Terraform >= 1.10 may replace an object while forgetting the old one (lifecycle destroy = false).
    ("create", "forget"): "replace",
}

SUPPORTED_FORMAT_MAJOR = "1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Importing(_Model):
    """Set when an `import` block brings an existing object under Terraform (Terraform >= 1.5)."""

    id: str | None = None


class Change(_Model):
    """One `change` object: the values before and after, with Terraform's sensitivity and
    unknown-value maps, which mirror the value's shape with `true` at the marked parts."""

    actions: tuple[Action, ...]
    before: Any = None
    after: Any = None
    after_unknown: Any = False
    before_sensitive: Any = False
    after_sensitive: Any = False
    replace_paths: tuple[tuple[str | int, ...], ...] | None = None
    importing: Importing | None = None

    @field_validator("actions")
    @classmethod
    def _known_combination(cls, actions: tuple[str, ...]) -> tuple[str, ...]:
        if actions not in _ACTION_KINDS:
            raise ValueError(
                f"unknown action combination {list(actions)}; "
                f"expected one of {[list(a) for a in _ACTION_KINDS]}"
            )
        return actions

    @property
    def kind(self) -> ChangeKind:
        return _ACTION_KINDS[self.actions]


class ResourceChange(_Model):
    """An element of `resource_changes` or `resource_drift`."""

    address: str
    module_address: str | None = None
    previous_address: str | None = None
    mode: Literal["managed", "data"]
    type: str
    name: str
    index: str | int | None = None
    provider_name: str | None = None
    deposed: str | None = None
    change: Change
    action_reason: str | None = None

    @property
    def module(self) -> str:
        return self.module_address or "(root module)"


class ProviderConfig(_Model):
    name: str
    full_name: str | None = None
    version_constraint: str | None = None
    module_address: str | None = None


class VariableConfig(_Model):
    sensitive: bool = False


class ModuleConfig(_Model):
    variables: dict[str, VariableConfig] = Field(default_factory=dict)


class Configuration(_Model):
    provider_config: dict[str, ProviderConfig] = Field(default_factory=dict)
    root_module: ModuleConfig = Field(default_factory=ModuleConfig)


class VariableValue(_Model):
    value: Any = None


class Plan(_Model):
    """The parts of a Terraform JSON plan the audit uses."""

    format_version: str
    terraform_version: str
    variables: dict[str, VariableValue] = Field(default_factory=dict)
    resource_changes: tuple[ResourceChange, ...] = ()
    resource_drift: tuple[ResourceChange, ...] = ()
    output_changes: dict[str, Change] = Field(default_factory=dict)
    configuration: Configuration = Field(default_factory=Configuration)
    timestamp: str | None = None
    errored: bool | None = None

    @property
    def sensitive_variables(self) -> frozenset[str]:
        """Root-module variables declared `sensitive = true`."""
        return frozenset(
            name for name, var in self.configuration.root_module.variables.items() if var.sensitive
        )

    @field_validator("format_version")
    @classmethod
    def _supported_format(cls, version: str) -> str:
        if version.split(".", 1)[0] != SUPPORTED_FORMAT_MAJOR:
            raise ValueError(
                f"plan JSON format {version!r} is not supported; this audit reads format 1.x "
                "(Terraform >= 1.0)"
            )
        return version


def load_plan(path: Path) -> Plan:
    """Read and validate a plan JSON file; every failure is a StackctlError naming the file."""
    if not path.is_file():
        raise StackctlError(
            f"plan file not found: {path}",
            where=str(path),
            fix="run `make plan ENV=<env>` first, or pass --plan FILE with `terraform show -json` output",
        )
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StackctlError(
            f"plan file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            where=str(path),
            fix="write it with `terraform show -json tfplan > plan.json` (the binary tfplan is not JSON)",
        ) from exc
    return parse_plan(raw, source=str(path))


def parse_plan(raw: Any, *, source: str = "<plan>") -> Plan:
    """Validate already-decoded plan JSON; `source` names it in errors."""
    foreign = _foreign_kind(raw)
    if foreign:
        raise StackctlError(
            f"not a Terraform plan: {foreign}",
            where=source,
            fix="pass the output of `terraform show -json tfplan` for a saved plan (`make plan` writes it)",
        )
    try:
        plan = Plan.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_location(err['loc'])}: {err['msg']}" for err in exc.errors()[:8]]
        more = len(exc.errors()) - len(problems)
        if more > 0:
            problems.append(f"... and {more} more")
        raise StackctlError(
            "the plan JSON does not follow Terraform's plan format: " + "; ".join(problems),
            where=source,
            fix="regenerate it with `terraform show -json tfplan` (Terraform >= 1.0); do not edit it by hand",
        ) from exc
    if plan.errored:
        raise StackctlError(
            "the plan is from a `terraform plan` that failed (errored: true); it is incomplete",
            where=source,
            fix="fix the errors `terraform plan` reported and plan again",
        )
    return plan


def _foreign_kind(raw: Any) -> str | None:
    """A short description of what the JSON is instead of a plan, or None when it may be one."""
    if not isinstance(raw, dict):
        return f"the top level is a JSON {type(raw).__name__}, a plan is an object"
    if "lineage" in raw and "serial" in raw:
        return "this is a Terraform state file (it has lineage and serial)"
    if "values" in raw and "planned_values" not in raw and "resource_changes" not in raw:
        return "this is `terraform show -json` of a state, not of a saved plan"
    if "format_version" not in raw or "terraform_version" not in raw:
        present = ", ".join(sorted(map(str, raw))[:6]) or "no keys"
        return f"format_version and terraform_version are missing (found: {present})"
    return None


def _location(loc: tuple[int | str, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"
