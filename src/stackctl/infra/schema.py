"""Check 3: every resource and data block against the azurerm provider schema.

The schema is tests/infra/azurerm_schema.json, extracted from the cdktn-provider-azurerm jsii
assembly by scripts/extract_provider_schema.py. Errors: an unknown resource type, an argument or
block the schema does not have, a required argument or block that is missing, and a
computed-only attribute that is set.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackctl.errors import StackctlError
from stackctl.infra.findings import CheckReport, Finding, relative
from stackctl.infra.hclmodel import RESOURCE_META, Block, read_dir
from stackctl.infra.layout import terraform_dirs

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


def _blocks_of(value: Any) -> list[dict[str, Any]]:
    """python-hcl2 gives a nested block as a list of dicts marked __is_block__."""
    if isinstance(value, list):
        return [v for v in value if isinstance(v, dict) and v.get("__is_block__")]
    return []


def _check_body(body: dict[str, Any], schema: dict[str, Any], path: str) -> list[str]:
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
    for key, value in body.items():
        if key in ("__is_block__", "dynamic"):
            continue
        if key in nested:
            blocks = _blocks_of(value)
            if not blocks:
                problems.append(f"{path}{key} is a block; write `{key} {{ ... }}`, not `{key} = ...`")
                continue
            present.setdefault(key, []).extend(blocks)
        elif key in attributes:
            if _blocks_of(value):
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
                problems.extend(_check_body(block, spec["block"], f"{path}{name}[{index}]."))
    return problems


def check_block(block: Block, schema: ProviderSchema) -> list[str]:
    table = schema.resources if block.kind == "resource" else schema.data_sources
    spec = table.get(block.type)
    if spec is None:
        return [
            f"{block.kind} type {block.type} is not in the extracted azurerm {schema.provider_version} schema"
        ]
    body = {k: v for k, v in block.body.items() if k not in RESOURCE_META}
    return _check_body(body, spec, "")


def check_provider_schema(root: Path, schema_path: Path | None = None) -> CheckReport:
    schema = load_schema(schema_path or default_schema_path(root))
    report = CheckReport("schema")
    report.figures["provider_version"] = schema.provider_version
    checked = 0
    other: set[str] = set()
    for directory in terraform_dirs(root):
        model = read_dir(directory)
        report.findings.extend(model.errors)
        for block in model.blocks:
            if not block.type.startswith("azurerm_"):
                # Another provider's block (azapi: a type string and a free-form body); the
                # azurerm schema says nothing about it, and Terraform's loader still reads it.
                other.add(block.type)
                continue
            checked += 1
            for problem in check_block(block, schema):
                report.findings.append(
                    Finding(
                        CHECK,
                        f"{relative(block.file, root)}:{block.line}",
                        f"{block.address}: {problem}",
                        f"check the argument against the azurerm {schema.provider_version} docs; "
                        f"if the type is new, regenerate the schema: `{REGENERATE}`",
                    )
                )
    report.figures["blocks_checked"] = checked
    report.figures["other_provider_types"] = sorted(other)
    return report
