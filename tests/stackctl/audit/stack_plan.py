"""A plan JSON of our own modules, as `terraform show -json` would write it for a create, built from
the modules' real resource blocks: the addresses Terraform gives them under `module.stack` (with
the instance keys of `for_each`), and every argument whose value is a literal in the code.
Arguments computed from variables or other resources are unknown before apply, so Terraform
writes them in `after_unknown` and leaves them out of `planned_values`; so does this."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from stackctl.checks.hclmodel import RESOURCE_META, Block, read_dir

AZURERM = "registry.terraform.io/hashicorp/azurerm"
_ADDRESS = re.compile(
    r'^module\.stack\.module\.(?P<module>\w+)\.(?P<type>\w+)\.(?P<name>\w+)(?:\["(?P<key>[^"]+)"\])?$'
)


def _literal(value: Any) -> Any:
    """The value as planned JSON holds it, or None when it is an expression (unknown)."""
    if isinstance(value, str):
        return None if "${" in value else value
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, list):
        blocks = [v for v in value if isinstance(v, dict)]
        if blocks and len(blocks) == len(value):
            return [_values(v) for v in blocks]
        items = [_literal(v) for v in value]
        return None if any(i is None for i in items) else items
    if isinstance(value, dict):
        return _values(value)
    return None


def _values(body: dict[str, Any]) -> dict[str, Any]:
    values = {}
    for key, value in body.items():
        if key in RESOURCE_META or key.startswith("__") or key == "dynamic":
            continue
        literal = _literal(value)
        if literal is not None:
            values[key] = literal
    return values


def _block(root: Path, module: str, type_name: str, name: str) -> Block:
    for block in read_dir(root / "modules" / module).blocks:
        if block.kind == "resource" and (block.type, block.name) == (type_name, name):
            return block
    raise LookupError(f"modules/{module} declares no {type_name}.{name}")


def stack_plan(root: Path, addresses: list[str], terraform_version: str = "1.11.4") -> dict[str, Any]:
    """A create-everything plan of the given addresses (each module.stack.module.M.TYPE.NAME[KEY])."""
    by_module: dict[str, list[dict[str, Any]]] = {}
    changes = []
    for address in sorted(set(addresses)):
        match = _ADDRESS.match(address)
        if match is None:
            raise ValueError(f"{address} is not an address inside module.stack.module.*")
        block = _block(root, match["module"], match["type"], match["name"])
        module_address = f"module.stack.module.{match['module']}"
        values = _values(block.body)
        entry: dict[str, Any] = {
            "address": address,
            "mode": "managed",
            "type": block.type,
            "name": block.name,
            "provider_name": AZURERM,
        }
        if match["key"] is not None:
            entry["index"] = match["key"]
        by_module.setdefault(module_address, []).append(
            {**entry, "schema_version": 0, "values": values, "sensitive_values": {}}
        )
        changes.append(
            {
                **entry,
                "module_address": module_address,
                "change": {
                    "actions": ["create"],
                    "before": None,
                    "after": values,
                    "after_unknown": {"id": True},
                    "before_sensitive": False,
                    "after_sensitive": {},
                },
            }
        )
    return {
        "format_version": "1.2",
        "terraform_version": terraform_version,
        "planned_values": {
            "root_module": {
                "child_modules": [
                    {
                        "address": "module.stack",
                        "child_modules": [
                            {"address": module, "resources": resources}
                            for module, resources in sorted(by_module.items())
                        ],
                    }
                ]
            }
        },
        "resource_changes": changes,
        "configuration": {
            "provider_config": {
                "azurerm": {
                    "name": "azurerm",
                    "full_name": AZURERM,
                    "version_constraint": ">= 5.10.0, < 6.0.0",
                }
            },
            "root_module": {},
        },
        "timestamp": "2026-11-29T09:00:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }
