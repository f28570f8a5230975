"""Check 3: every resource and data block against its provider's schema.

The azurerm schema is tests/infra/azurerm_schema.json, extracted from the cdktn-provider-azurerm
jsii assembly by scripts/extract_provider_schema.py; the schema of Terraform's built-in provider
(`terraform_data`, `terraform_remote_state`) comes from Terraform itself (`terraform providers
schema -json`, offline). Errors: an unknown resource type, an argument or block the schema does
not have, a required argument or block that is missing, and a computed-only attribute that is set.

What this check cannot judge it says so in its notes instead of passing silently: `ephemeral`
blocks (the extracted schema has no ephemeral resources), a block written with attribute syntax
(`security_rule = []`: valid only where the provider processes the block in attributes-as-blocks
mode, https://developer.hashicorp.com/terraform/language/attr-as-blocks, which the extracted
schema does not record), and files python-hcl2 cannot read although Terraform does.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from stackctl.checks.findings import CheckReport, Finding, relative
from stackctl.checks.hclmodel import JSON_BODY, RESOURCE_META, Block, read_dir
from stackctl.checks.layout import terraform_dirs
from stackctl.errors import StackctlError
from stackctl.tools import Terraform

CHECK = "schema"
REGENERATE = ".venv/bin/python scripts/extract_provider_schema.py"


@dataclass(frozen=True)
class ProviderSchema:
    provider_version: str
    resources: dict[str, Any]
    data_sources: dict[str, Any]


def default_schema_path(root: Path) -> Path:
    return root / "tests" / "infra" / "azurerm_schema.json"


def load_schema(path: Path) -> ProviderSchema:
    if not path.is_file():
        raise StackctlError(
            f"provider schema not found: {path}",
            where=str(path),
            fix=f"regenerate it with `{REGENERATE}` (downloads the cdktn-provider-azurerm wheel once)",
        )
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return ProviderSchema(str(raw["provider_version"]), dict(raw["resources"]), dict(raw["data_sources"]))
    except (json.JSONDecodeError, KeyError) as exc:
        raise StackctlError(
            f"provider schema {path} is unreadable ({exc})",
            where=str(path),
            fix=f"regenerate it: `{REGENERATE}`",
        ) from exc


BUILTIN_PROVIDER = "terraform.io/builtin/terraform"
_BUILTIN_PROBE = 'resource "terraform_data" "probe" {}\n'


@cache
def builtin_schema() -> ProviderSchema:
    """The schema of Terraform's built-in provider, as Terraform reports it (no download needed)."""
    with tempfile.TemporaryDirectory(prefix="stackctl-builtin-schema-") as scratch:
        directory = Path(scratch)
        (directory / "main.tf").write_text(_BUILTIN_PROBE)
        terraform = Terraform()
        init = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], directory)
        shown = terraform.run(["providers", "schema", "-json"], directory) if init.ok else init
    if not shown.ok:
        raise StackctlError(
            "Terraform did not report its built-in provider's schema",
            where="terraform providers schema -json",
            fix=f"check that Terraform >= 1.9 runs here: {(shown.stderr or shown.stdout).strip()[-300:]}",
        )
    provider = json.loads(shown.stdout)["provider_schemas"][BUILTIN_PROVIDER]
    version = "builtin"
    return ProviderSchema(
        version,
        {name: _from_terraform(spec["block"]) for name, spec in provider.get("resource_schemas", {}).items()},
        {
            name: _from_terraform(spec["block"])
            for name, spec in provider.get("data_source_schemas", {}).items()
        },
    )


def _from_terraform(block: dict[str, Any]) -> dict[str, Any]:
    """A block of `terraform providers schema -json` in the shape of azurerm_schema.json."""
    attributes = block.get("attributes", {})
    return {
        "attributes": {
            name: {"required": bool(spec.get("required"))}
            for name, spec in attributes.items()
            if spec.get("optional") or spec.get("required")
        },
        "computed": sorted(
            name for name, spec in attributes.items() if spec.get("computed") and not spec.get("optional")
        ),
        "blocks": {
            name: {
                "required": (spec.get("min_items") or 0) > 0,
                "list": spec.get("nesting_mode") in ("list", "set"),
                "block": _from_terraform(spec.get("block", {})),
            }
            for name, spec in block.get("block_types", {}).items()
        },
    }


def _blocks_of(value: Any, json_syntax: bool = False) -> list[dict[str, Any]]:
    """python-hcl2 gives a nested block as a list of dicts marked __is_block__; in JSON syntax a
    nested block is an object or an array of objects (the schema says it is a block)."""
    if json_syntax:
        items = value if isinstance(value, list) else [value]
        return [{**v, JSON_BODY: True} for v in items if isinstance(v, dict)]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict) and v.get("__is_block__")]
    return []


def _check_body(
    body: dict[str, Any], schema: dict[str, Any], path: str, notes: list[str] | None = None
) -> list[str]:
    """Problems of one block body against its schema; what cannot be judged goes into `notes`."""
    notes = [] if notes is None else notes
    problems: list[str] = []
    attributes: dict[str, Any] = schema.get("attributes", {})
    nested: dict[str, Any] = schema.get("blocks", {})
    computed = set(schema.get("computed", []))
    present: dict[str, list[dict[str, Any]]] = {}
    for dynamic in body.get("dynamic", []) if isinstance(body.get("dynamic"), list) else []:
        for name, spec in dynamic.items():
            if name == "__is_block__":
                continue
            contents = _blocks_of(spec.get("content")) if isinstance(spec, dict) else []
            present.setdefault(name, []).extend(contents or [{}])
    json_syntax = bool(body.get(JSON_BODY))
    for key, value in body.items():
        if key in ("__is_block__", "dynamic", JSON_BODY, "//"):
            continue
        if key in nested:
            blocks = _blocks_of(value, json_syntax)
            if not blocks and isinstance(value, list) and nested[key].get("list"):
                # `security_rule = []`: attribute syntax for a block, which Terraform accepts where the
                # provider processes the block in attributes-as-blocks mode; not knowable here.
                notes.append(
                    f"{path}{key} = [...] uses attribute syntax for a block: valid only where the provider "
                    "processes it in attributes-as-blocks mode, which the extracted schema does not record "
                    "(https://developer.hashicorp.com/terraform/language/attr-as-blocks); not checked offline"
                )
                present.setdefault(key, [])
                continue
            if not blocks:
                problems.append(f"{path}{key} is a block; write `{key} {{ ... }}`, not `{key} = ...`")
                continue
            present.setdefault(key, []).extend(blocks)
        elif key in attributes:
            if not json_syntax and _blocks_of(value):
                problems.append(f"{path}{key} is an argument; write `{key} = ...`, not a block")
        elif key in computed:
            problems.append(f"{path}{key} is computed by the provider (read-only) and cannot be set")
        else:
            problems.append(f"{path}{key} is not an argument or block of this type")
    for name in present:
        if name not in nested:
            problems.append(f"{path}{name} (dynamic) is not a block of this type")
    for name, spec in attributes.items():
        if spec.get("required") and name not in body:
            problems.append(f"{path}missing required argument {name}")
    for name, spec in nested.items():
        if spec.get("required") and name not in present:
            problems.append(f"{path}missing required block {name}")
        for index, block in enumerate(present.get(name, [])):
            if block:
                problems.extend(_check_body(block, spec["block"], f"{path}{name}[{index}].", notes))
    return problems


def check_block(block: Block, schema: ProviderSchema, notes: list[str] | None = None) -> list[str]:
    """Problems of a resource or data block; the schema is azurerm's, or Terraform's built-in
    provider's for the types it holds. `notes` receives what cannot be judged offline."""
    builtin = builtin_schema() if block.type.startswith("terraform_") else None
    source = builtin or schema
    table = source.resources if block.kind == "resource" else source.data_sources
    spec = table.get(block.type)
    if spec is None:
        return [
            f"{block.kind} type {block.type} is not in the extracted azurerm {schema.provider_version} schema"
        ]
    body = {k: v for k, v in block.body.items() if k not in RESOURCE_META}
    return _check_body(body, spec, "", notes)


def check_directory_schema(directory: Path, root: Path, schema_path: Path | None = None) -> CheckReport:
    """The schema check on one directory (for `stackctl validate --dir`)."""
    return check_provider_schema(root, schema_path, directories=[directory])


def check_provider_schema(
    root: Path, schema_path: Path | None = None, *, directories: list[Path] | None = None
) -> CheckReport:
    schema = load_schema(schema_path or default_schema_path(root))
    report = CheckReport("schema")
    report.figures["provider_version"] = schema.provider_version
    checked = 0
    kinds: dict[str, int] = {"resource": 0, "data": 0, "ephemeral": 0}
    other: set[str] = set()
    for directory in directories if directories is not None else terraform_dirs(root):
        model = read_dir(directory)
        report.findings.extend(model.errors)
        report.notes.extend(item.describe(relative(item.file, root)) for item in model.unchecked)
        for block in model.blocks:
            kinds[block.kind] = kinds.get(block.kind, 0) + 1
            where = f"{relative(block.file, root)}:{block.line}"
            if block.kind == "ephemeral":
                report.notes.append(
                    f"{where}: {block.address}: not checked: the extracted azurerm schema has no ephemeral "
                    "resources (Terraform >= 1.10); `terraform validate` with the provider checks it"
                )
                continue
            if not block.type.startswith("azurerm_"):
                # Another provider's block (azapi: a type string and a free-form body); the
                # azurerm schema says nothing about it, and Terraform's loader still reads it.
                other.add(block.type)
                continue
            checked += 1
            notes: list[str] = []
            for problem in check_block(block, schema, notes):
                report.findings.append(
                    Finding(
                        CHECK,
                        where,
                        f"{block.address}: {problem}",
                        f"check the argument against the azurerm {schema.provider_version} docs; "
                        f"if the type is new, regenerate the schema: `{REGENERATE}`",
                    )
                )
            report.notes.extend(f"{where}: {block.address}: {note}" for note in notes)
    report.figures["blocks_checked"] = checked
    report.figures["resource_blocks"] = kinds["resource"]
    report.figures["data_blocks"] = kinds["data"]
    report.figures["unchecked"] = len(report.notes)
    report.figures["other_provider_types"] = sorted(other)
    return report
