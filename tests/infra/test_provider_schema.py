"""Check 3: resource and data blocks against the azurerm schema, and the schema extraction itself."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from infra_helpers import Edit, messages

from stackctl.checks.hclmodel import read_dir
from stackctl.checks.schema import check_provider_schema, default_schema_path, load_schema


def _findings(tree: Path) -> list[str]:
    return [f.message for f in check_provider_schema(tree).findings]


def test_every_block_matches_the_provider_schema(root: Path) -> None:
    report = check_provider_schema(root)
    assert report.ok, messages(report)
    assert report.figures["blocks_checked"] >= 60


def test_schema_covers_every_type_we_use_and_records_its_version(root: Path) -> None:
    schema = load_schema(default_schema_path(root))
    assert schema.provider_version == "5.10.0"
    used = {
        (block.kind, block.type)
        for directory in [*(root / "modules").iterdir(), root / "infra"]
        if directory.is_dir()
        for block in read_dir(directory).blocks
    }
    # azapi blocks are generic (a type string and a body); the azurerm schema covers azurerm only.
    missing = [
        t
        for kind, t in used
        if t.startswith("azurerm_")
        and t not in (schema.resources if kind == "resource" else schema.data_sources)
    ]
    assert not missing, f"regenerate: .venv/bin/python scripts/extract_provider_schema.py (missing {missing})"


def test_misspelled_argument_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "modules/key_vault/main.tf",
        "purge_protection_enabled      = true",
        "purge_protection_enable       = true",
    )
    assert (
        "azurerm_key_vault.this: purge_protection_enable is not an argument or block of this type"
        in _findings(tree)
    )


def test_missing_required_argument_is_caught(tree: Path, edit: Edit) -> None:
    edit("modules/key_vault/main.tf", "  tenant_id                     = var.tenant_id\n", "")
    assert "azurerm_key_vault.this: missing required argument tenant_id" in _findings(tree)


def test_missing_required_block_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "modules/aml_compute/main.tf",
        "  scale_settings {\n"
        "    min_node_count                       = 0\n"
        "    max_node_count                       = each.value.max_node_count\n"
        "    scale_down_nodes_after_idle_duration = each.value.idle_before_scale_down\n"
        "  }\n",
        "",
    )
    assert (
        "azurerm_machine_learning_compute_cluster.this: missing required block scale_settings"
        in _findings(tree)
    )


def test_misspelled_nested_argument_is_caught(tree: Path, edit: Edit) -> None:
    edit("modules/aml_compute/main.tf", "min_node_count                       = 0", "min_nodes = 0")
    found = _findings(tree)
    assert (
        "azurerm_machine_learning_compute_cluster.this: "
        "scale_settings[0].min_nodes is not an argument or block of this type" in found
    )
    assert (
        "azurerm_machine_learning_compute_cluster.this: "
        "scale_settings[0].missing required argument min_node_count" in found
    )


def test_computed_only_attribute_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "modules/key_vault/main.tf",
        "  sku_name                      = var.sku_name\n",
        '  sku_name                      = var.sku_name\n  vault_uri = "https://x.vault.azure.net/"\n',
    )
    assert (
        "azurerm_key_vault.this: vault_uri is computed by the provider (read-only) and cannot be set"
        in _findings(tree)
    )


def test_unknown_resource_type_is_caught(tree: Path) -> None:
    (tree / "modules" / "sql" / "extra.tf").write_text(
        'resource "azurerm_mssql_datbase" "x" {\n  name = "x"\n}\n', encoding="utf-8"
    )
    assert any(
        "azurerm_mssql_datbase is not in the extracted azurerm 5.10.0 schema" in m for m in _findings(tree)
    )


def test_argument_written_as_block_is_caught(tree: Path, edit: Edit) -> None:
    edit("modules/key_vault/main.tf", "  tags                          = var.tags\n", "  tags {\n  }\n")
    assert any("tags is an argument" in m for m in _findings(tree))


def _extractor_module(root: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "extract_provider_schema", root / "scripts" / "extract_provider_schema.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_extractor_reads_required_optional_nested_and_computed_from_jsii(root: Path) -> None:
    """A miniature assembly in the shape the cdktn wheel uses (see scripts/extract_provider_schema.py)."""
    ns = "@cdktn/provider-azurerm.widget."
    registry = "https://registry.terraform.io/providers/hashicorp/azurerm/5.10.0/docs/resources"
    link = "{@link " + registry + "/widget#%s W#%s}"

    def prop(
        name: str, tf: str, *, optional: bool = False, type_: dict | None = None, immutable: bool = False
    ) -> dict:
        return {
            "name": name,
            "optional": optional,
            "immutable": immutable,
            "type": type_ or {"primitive": "string"},
            "docs": {"summary": "Docs at Terraform Registry: " + link % (tf, tf) + "."},
        }

    assembly = {
        "types": {
            f"{ns}Widget": {
                "kind": "class",
                "base": "cdktn.TerraformResource",
                "docs": {"summary": "Represents a " + link.replace("#%s W#%s", " azurerm_widget") + "."},
                "properties": [
                    prop("tfResourceType", "tf_resource_type", immutable=True) | {"static": True},
                    prop("name", "name"),
                    prop("endpointUrl", "endpoint_url", immutable=True),
                    prop("nameInput", "name", immutable=True),
                ],
            },
            f"{ns}WidgetConfig": {
                "kind": "interface",
                "properties": [
                    prop("name", "name"),
                    prop("ipv4Ranges", "ipv4_ranges", optional=True),
                    prop("scale", "scale", type_={"fqn": f"{ns}WidgetScale"}),
                    prop(
                        "rule",
                        "rule",
                        optional=True,
                        type_={
                            "union": {
                                "types": [
                                    {"fqn": "cdktn.IResolvable"},
                                    {
                                        "collection": {
                                            "kind": "array",
                                            "elementtype": {"fqn": f"{ns}WidgetRule"},
                                        }
                                    },
                                ]
                            }
                        },
                    ),
                ],
            },
            f"{ns}WidgetScale": {"kind": "interface", "properties": [prop("minCount", "min_count")]},
            f"{ns}WidgetScaleOutputReference": {
                "kind": "class",
                "properties": [
                    prop("minCount", "min_count"),
                    prop("currentCount", "current_count", immutable=True),
                ],
            },
            f"{ns}WidgetRule": {"kind": "interface", "properties": [prop("action", "action", optional=True)]},
        }
    }
    extractor = _extractor_module(root).Extractor(assembly)
    assert extractor.provider_version == "5.10.0"
    schema = extractor.extract("resource", "azurerm_widget")
    assert schema["attributes"] == {"ipv4_ranges": {"required": False}, "name": {"required": True}}
    assert schema["computed"] == ["endpoint_url"]
    assert schema["blocks"]["scale"]["required"] is True
    assert schema["blocks"]["scale"]["list"] is False
    assert schema["blocks"]["scale"]["block"]["computed"] == ["current_count"]
    assert schema["blocks"]["rule"] == {
        "required": False,
        "list": True,
        "block": {"attributes": {"action": {"required": False}}, "computed": []},
    }
    with pytest.raises(SystemExit, match=r"not in azurerm 5\.10\.0"):
        extractor.extract("resource", "azurerm_gadget")


def test_committed_schema_file_is_compact_json(root: Path) -> None:
    raw = json.loads(default_schema_path(root).read_text())
    assert raw["extracted_from"] == "cdktn-provider-azurerm==18.9.0"
    assert default_schema_path(root).stat().st_size < 500_000
