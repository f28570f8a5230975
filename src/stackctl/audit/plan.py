"""Reading a Terraform plan as `terraform show -json` writes it (JSON output format 1.x).

What this reads: plan JSON format 1.x (1.0 to 1.2 today) from Terraform 1.9 to 1.x, the versions
this repository pins (`required_version = ">= 1.9, < 2.0"` in every versions.tf); tested on real
plans of Terraform 1.11. A plan from OpenTofu (its providers come from registry.opentofu.org) is
read when it uses only shapes Terraform writes, and named as OpenTofu in the report; one with
OpenTofu's own shapes (`mode: ephemeral`, the `open` action), or from a newer Terraform with a
shape this reader does not know, is refused with an error that names the tool, its version and
what this audit reads. Format of the JSON: https://developer.hashicorp.com/terraform/internals/json-format

The model keeps only what the audit reads and ignores the rest, so a newer Terraform that adds
fields still loads; a file that lacks what the audit needs, or is not a plan at all, is refused
with an error naming the missing or wrong field. The file may be UTF-8 (with or without a byte
order mark) or UTF-16 with a byte order mark (PowerShell's `>` writes that); anything else is
refused with the encoding named.
"""

from __future__ import annotations

import codecs
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stackctl.errors import StackctlError

Action = Literal["no-op", "create", "read", "update", "delete", "forget"]
# What an auditor reads instead of Terraform's action lists.
ChangeKind = Literal["create", "update", "delete", "replace", "replace-forget", "read", "no-op", "forget"]

_ACTION_KINDS: dict[tuple[str, ...], ChangeKind] = {
    ("no-op",): "no-op",
    ("create",): "create",
    ("read",): "read",
    ("update",): "update",
    ("delete",): "delete",
    ("delete", "create"): "replace",
    ("create", "delete"): "replace",
    ("forget",): "forget",
    # A replacement whose old object is forgotten rather than destroyed (Terraform >= 1.7 `removed`
    # with `lifecycle { destroy = false }`, in either order): the old object stays in Azure,
    # unmanaged, with its data; nothing is deleted.
    ("create", "forget"): "replace-forget",
    ("forget", "create"): "replace-forget",
}

SUPPORTED_FORMAT_MAJOR = "1"
# The Terraform versions this audit reads: the repository's pin (every versions.tf) ...
MIN_TERRAFORM = (1, 9)
# ... and the newest version its plans were tested with.
TESTED_TERRAFORM = "1.11"
READS = (
    f"this audit reads plan JSON format 1.x from Terraform {MIN_TERRAFORM[0]}.{MIN_TERRAFORM[1]} "
    f"or newer 1.x (tested up to {TESTED_TERRAFORM}; the repository pins >= 1.9)"
)
OPENTOFU_REGISTRY = "registry.opentofu.org/"


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


class CheckProblem(_Model):
    message: str = ""


class CheckInstance(_Model):
    address: dict[str, Any] = Field(default_factory=dict)
    status: str = "unknown"
    problems: tuple[CheckProblem, ...] = ()


class CheckStatus(_Model):
    """One element of `checks` (Terraform >= 1.5): a `check` block, or the conditions of a resource,
    output or variable, with its status at plan time (pass, fail, error, unknown)."""

    address: dict[str, Any] = Field(default_factory=dict)
    status: Literal["pass", "fail", "error", "unknown"]
    instances: tuple[CheckInstance, ...] = ()

    @property
    def display(self) -> str:
        return str(self.address.get("to_display") or self.address.get("name") or "(unnamed check)")

    @property
    def kind(self) -> str:
        return str(self.address.get("kind") or "check")

    @property
    def problems(self) -> tuple[str, ...]:
        return tuple(p.message for i in self.instances for p in i.problems if p.message)


class Plan(_Model):
    """The parts of a Terraform JSON plan the audit uses."""

    format_version: str
    terraform_version: str
    variables: dict[str, VariableValue] = Field(default_factory=dict)
    resource_changes: tuple[ResourceChange, ...] = ()
    resource_drift: tuple[ResourceChange, ...] = ()
    output_changes: dict[str, Change] = Field(default_factory=dict)
    configuration: Configuration = Field(default_factory=Configuration)
    checks: tuple[CheckStatus, ...] = ()
    # Kept whole for masking: every value these mark sensitive is masked wherever it appears.
    planned_values: Any = None
    prior_state: Any = None
    timestamp: str | None = None
    errored: bool | None = None
    # False for a plan that does not hold every change a full plan would: made with `-target`, or
    # with deferred changes (Terraform >= 1.8 writes it; absent in older plans).
    complete: bool | None = None

    @property
    def written_by(self) -> str:
        """ "OpenTofu" when the plan's providers come from OpenTofu's registry, else "Terraform"."""
        sources = [c.full_name or "" for c in self.configuration.provider_config.values()]
        sources += [rc.provider_name or "" for rc in self.resource_changes]
        return "OpenTofu" if any(s.startswith(OPENTOFU_REGISTRY) for s in sources) else "Terraform"

    @property
    def counted_changes(self) -> tuple[ResourceChange, ...]:
        """The resource changes that count, for the audit as for `make plan`'s summary: every managed
        resource, and data sources only when they are read during apply (their config depends on
        unknowns)."""
        return tuple(rc for rc in self.resource_changes if rc.mode == "managed" or rc.change.kind == "read")

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
            raise ValueError(f"plan JSON format {version!r} is not supported; {READS}")
        return version


def load_plan(path: Path) -> Plan:
    """Read and validate a plan JSON file; every failure is a StackctlError naming the file."""
    if not path.is_file():
        raise StackctlError(
            f"plan file not found: {path}",
            where=str(path),
            fix="run `make plan ENV=<env>` first, or pass --plan FILE with `terraform show -json` output",
        )
    text = decode_plan_text(path.read_bytes(), source=str(path))
    wrapper = _wrapper_lines(text)
    if wrapper:
        raise StackctlError(
            "the plan JSON was captured through hashicorp/setup-terraform's wrapper, which adds its own "
            f"lines around Terraform's output (here: {wrapper})",
            where=str(path),
            fix="set `terraform_wrapper: false` on the hashicorp/setup-terraform step, then "
            "`terraform show -json tfplan > plan.json` writes Terraform's JSON only",
        )
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StackctlError(
            f"plan file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
            where=str(path),
            fix="write it with `terraform show -json tfplan > plan.json` (the binary tfplan is not JSON)",
        ) from exc
    return parse_plan(raw, source=str(path))


_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8 with a byte order mark"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16 (little endian)"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16 (big endian)"),
)


def decode_plan_text(data: bytes, *, source: str = "<plan>") -> str:
    """The text of a plan file: UTF-8, UTF-8 with a BOM, or UTF-16 with a BOM (PowerShell 5's `>`).

    A ZIP (the binary tfplan) or other bytes that are none of these raise StackctlError naming
    what the file is.
    """
    for bom, codec, name in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise StackctlError(
                    f"the plan file starts with the byte order mark of {name} but is not valid {name} "
                    f"(byte {exc.start})",
                    where=source,
                    fix="write it again with `terraform show -json tfplan > plan.json`",
                ) from exc
    wrong = what_else(data, Path(source).name)
    if wrong is not None:
        what, fix = wrong
        raise StackctlError(f"not a plan JSON file: it is {what}", where=source, fix=fix)
    fix = (
        "write it again with `terraform show -json tfplan > plan.json`; in Windows PowerShell 5 "
        "use `terraform show -json tfplan | Out-File -Encoding utf8 plan.json`"
    )
    head = data[:400]
    # JSON text never holds a NUL byte; UTF-16 of ASCII text holds one in every other byte.
    if len(head) > 1 and head.count(0) * 4 > len(head):
        raise StackctlError(
            "the plan file is UTF-16 without a byte order mark (every other byte is 0); Terraform "
            "writes UTF-8",
            where=source,
            fix=fix,
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StackctlError(
            f"the plan file is not UTF-8 (byte {exc.start} is 0x{data[exc.start]:02x}); "
            "Terraform writes UTF-8",
            where=source,
            fix=fix,
        ) from exc


SHOW_JSON = "terraform show -json tfplan > plan.json"
# Leading bytes of compressed files (RFC 1952 gzip, bzip2, xz, zstd) and what undoes each.
_COMPRESSED: tuple[tuple[bytes, str, str], ...] = (
    (b"\x1f\x8b", "gzip-compressed (.gz)", "gzip -dc {name} > plan.json"),
    (b"BZh", "bzip2-compressed (.bz2)", "bzip2 -dc {name} > plan.json"),
    (b"\xfd7zXZ\x00", "xz-compressed (.xz)", "xz -dc {name} > plan.json"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed (.zst)", "zstd -dc {name} > plan.json"),
)
# The first words of Terraform's human-readable plan output (`terraform plan` without -json).
_PLAN_TEXT = re.compile(
    r"^(Terraform used the selected providers|Terraform will perform the following actions|"
    r"No changes\. Your infrastructure matches|Refreshing state\.\.\.|\S+: Refreshing state|"
    r"Plan: \d+ to add)",
    re.MULTILINE,
)
# HCL: a comment or a top-level block or `name = value` at the start of the file.
_HCL_START = re.compile(
    r"^\s*(#|//|/\*|(terraform|provider|resource|data|module|variable|output|locals|check|import|moved|"
    r"removed)\b[^\n]*\{|[A-Za-z_][\w-]*\s*=)",
)


def what_else(data: bytes, name: str = "FILE") -> tuple[str, str] | None:
    """What a file given as plan JSON is instead, and the command that gives the plan JSON; None
    when it may be a plan. Knows compressed files, ZIP archives (the binary tfplan, or a CI
    artifact download), Terraform's text output, HCL (configuration or tfvars), SARIF, and empty
    or binary files."""
    for magic, what, command in _COMPRESSED:
        if data.startswith(magic):
            return f"{what} data", f"decompress it first: `{command.format(name=name)}`"
    if data.startswith(b"PK\x03\x04"):
        return _zip_kind(data)
    if not data.strip():
        return "empty", f"write the plan JSON into it: `{SHOW_JSON}` (after `make plan`)"
    head = data[:4096].decode("utf-8", errors="replace").lstrip("\ufeff")
    if _PLAN_TEXT.search(re.sub(r"\x1b\[[0-9;]*m", "", head)):
        return (
            "Terraform's human-readable plan output, not its JSON",
            f"save the plan and show it as JSON: `terraform plan -out=tfplan` then `{SHOW_JSON}`",
        )
    if not head.lstrip().startswith(("{", "[")) and _HCL_START.match(head):
        return (
            "Terraform configuration or a tfvars file (HCL text)",
            f"audit the plan made from it: `make plan ENV=<env>` writes build/<env>/plan.json ({SHOW_JSON})",
        )
    if '"$schema"' in head and "sarif" in head.lower():
        return (
            "a SARIF report (what the audit writes)",
            f"pass the plan JSON the report was made from ({SHOW_JSON})",
        )
    sample = data[:4096]
    # A few NUL bytes: binary. Every other byte NUL is UTF-16 without a BOM, named by the caller.
    if sample.count(0) > 0 and sample.count(0) * 4 <= len(sample):
        return "a binary file", f"pass the JSON of a saved plan: `{SHOW_JSON}`"
    return None


def _zip_kind(data: bytes) -> tuple[str, str]:
    """A ZIP archive: the binary plan (`tfplan` holds a `tfplan` entry) or another archive."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile:
        names = []
    if "tfplan" in names or (not names and b"tfplan" in data[:512]):
        return (
            "the binary plan `terraform plan -out` writes (a ZIP archive)",
            f"write its JSON with `{SHOW_JSON}` (the binary tfplan is not JSON)",
        )
    inside = ", ".join(names[:5]) or "nothing readable"
    return (
        f"a ZIP archive holding {inside} (a CI artifact download?)",
        "unzip it and pass the plan JSON inside: `unzip FILE plan.json`",
    )


_WRAPPER_LINE = re.compile(r"^(\[command\].*|::(debug|set-output|error|warning)[^\n]*)$", re.MULTILINE)


def _wrapper_lines(text: str) -> str | None:
    """The first line setup-terraform's wrapper adds (`[command]...`, `::debug::...`), if any.

    No line of a JSON document starts like these (a string cannot span lines), so they mark the
    wrapper's output whether the JSON is on one line or pretty-printed.
    """
    match = _WRAPPER_LINE.search(text)
    return repr(match.group(0)[:80]) if match else None


def producer(raw: Any) -> str:
    """Which tool wrote the plan, as a reader names it: "Terraform 1.11.4" or "OpenTofu 1.8.0"."""
    version = str(raw.get("terraform_version", "?")) if isinstance(raw, dict) else "?"
    return f"{'OpenTofu' if is_opentofu(raw) else 'Terraform'} {version}"


def is_opentofu(raw: Any) -> bool:
    """OpenTofu writes the same `terraform_version` field; its providers come from its registry."""
    return OPENTOFU_REGISTRY in json.dumps(
        raw.get("configuration", {}) if isinstance(raw, dict) else {}
    ) or any(
        str(rc.get("provider_name", "")).startswith(OPENTOFU_REGISTRY)
        for rc in (raw.get("resource_changes") or [] if isinstance(raw, dict) else [])
        if isinstance(rc, dict)
    )


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", version)[:3])


def parse_plan(raw: Any, *, source: str = "<plan>") -> Plan:
    """Validate already-decoded plan JSON; `source` names it in errors."""
    foreign = _foreign_kind(raw)
    if foreign:
        raise StackctlError(
            f"not a Terraform plan: {foreign}",
            where=source,
            fix="pass the output of `terraform show -json tfplan` for a saved plan (`make plan` writes it)",
        )
    made_by = producer(raw)
    version = _version_tuple(str(raw.get("terraform_version", "")))
    format_major = str(raw.get("format_version", "")).split(".", 1)[0]
    if not is_opentofu(raw) and format_major == SUPPORTED_FORMAT_MAJOR and version < MIN_TERRAFORM:
        raise StackctlError(
            f"the plan was written by {made_by}; {READS}",
            where=source,
            fix="plan again with the Terraform version the repository pins (>= 1.9, < 2.0)",
        )
    try:
        plan = Plan.model_validate(raw)
    except ValidationError as exc:
        problems = [f"{_location(err['loc'])}: {err['msg']}" for err in exc.errors()[:8]]
        more = len(exc.errors()) - len(problems)
        if more > 0:
            problems.append(f"... and {more} more")
        tested = _version_tuple(TESTED_TERRAFORM)
        if is_opentofu(raw):
            what = f"the plan was written by {made_by}, whose plan JSON has shapes Terraform never writes"
            fix = f"{READS}; plan with Terraform to audit this stack"
        elif version[:2] > tested:
            what = f"the plan was written by {made_by}, newer than the versions this audit was tested with"
            fix = f"{READS}; plan with Terraform {TESTED_TERRAFORM}, or update stackctl's plan reader"
        elif format_major != SUPPORTED_FORMAT_MAJOR:
            what = f"the plan was written by {made_by} in JSON format {raw.get('format_version')!r}"
            fix = f"{READS}; plan again with the Terraform version the repository pins (>= 1.9, < 2.0)"
        else:
            what = f"the plan JSON does not follow Terraform's plan format ({made_by})"
            fix = (
                "regenerate it with `terraform show -json tfplan` (Terraform >= 1.9); do not edit it by hand"
            )
        raise StackctlError(what + ": " + "; ".join(problems), where=source, fix=fix) from exc
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
