"""Write a large Terraform plan JSON (format 1.2) for benchmarking `stackctl audit`.

The plan has the shape `terraform show -json` writes for our stack: the resource blocks our modules
declare, at the addresses Terraform gives them (`module.stack.module.sql.azurerm_mssql_database.this`),
with planned_values (what checkov scans), resource_changes in every action, sensitive attributes,
unknown values, drift and output changes. To reach a benchmark's size each block gets instance
keys (`...this["r0007"]`), as a for_each over a larger stack would. Same seed, same file.

    python scripts/generate_audit_fixture.py --resources 500 --out build/bench/plan-500.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

AZURERM = "registry.terraform.io/hashicorp/azurerm"
RESOURCE_GROUP_ID = "/subscriptions/0000/resourceGroups/rg-fcst-dev/providers"
TAGS = {"environment": "dev", "workload": "demand-forecast", "owner": "data-platform"}
# Share of each action among the changes; the rest of the plan is unchanged (no-op).
ACTION_WEIGHTS = {("create",): 45, ("update",): 25, ("no-op",): 24, ("delete", "create"): 3, ("delete",): 3}


def storage_account(index: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    values = {
        "name": f"stfcstdev{index:04d}",
        "resource_group_name": "rg-fcst-dev",
        "location": "westeurope",
        "account_tier": "Standard",
        "account_replication_type": rng.choice(["LRS", "ZRS", "GRS"]),
        "account_kind": "StorageV2",
        "is_hns_enabled": True,
        "min_tls_version": "TLS1_2",
        "public_network_access_enabled": False,
        "allow_nested_items_to_be_public": False,
        "shared_access_key_enabled": False,
        "infrastructure_encryption_enabled": True,
        "blob_properties": [{"delete_retention_policy": [{"days": 7}], "versioning_enabled": True}],
        "network_rules": [{"default_action": "Deny", "bypass": ["AzureServices"], "ip_rules": []}],
        "primary_access_key": f"key-{index:04d}-{rng.getrandbits(64):016x}",
        "tags": TAGS,
    }
    return values, {"primary_access_key": True, "blob_properties": [{}], "network_rules": [{}], "tags": {}}


def application_insights(index: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    values = {
        "name": f"appi-fcst-dev-{index:04d}",
        "resource_group_name": "rg-fcst-dev",
        "location": "westeurope",
        "application_type": "web",
        "local_authentication_disabled": True,
        "connection_string": f"InstrumentationKey={rng.getrandbits(64):016x};IngestionEndpoint=https://x",
        "tags": TAGS,
    }
    return values, {"connection_string": True, "tags": {}}


def mssql_database(index: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    values = {
        "name": f"reporting{index:04d}",
        "server_id": f"{RESOURCE_GROUP_ID}/Microsoft.Sql/servers/sql-fcst-dev",
        "sku_name": rng.choice(["S0", "S1", "S2"]),
        "max_size_gb": rng.choice([10, 20, 50]),
        "zone_redundant": False,
        "ledger_enabled": False,
        "short_term_retention_policy": [{"retention_days": 7}],
        "tags": TAGS,
    }
    return values, {"short_term_retention_policy": [{}], "tags": {}}


def compute_cluster(index: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    values = {
        "name": f"cluster-{index:04d}",
        "vm_size": rng.choice(["Standard_DS3_v2", "Standard_DS4_v2", "Standard_NC4as_T4_v3"]),
        "vm_priority": rng.choice(["LowPriority", "Dedicated"]),
        "local_auth_enabled": False,
        "node_public_ip_enabled": False,
        "scale_settings": [
            {
                "min_node_count": 0,
                "max_node_count": rng.choice([2, 4, 8]),
                "scale_down_nodes_after_idle_duration": "PT120S",
            }
        ],
        "identity": [{"type": "SystemAssigned"}],
        "tags": TAGS,
    }
    return values, {"scale_settings": [{}], "identity": [{}], "tags": {}}


def firewall_rule(index: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    address = f"203.0.113.{rng.randint(1, 254)}"  # documentation range (RFC 5737)
    values = {
        "name": f"powerbi-gateway-{index:04d}",
        "server_id": f"{RESOURCE_GROUP_ID}/Microsoft.Sql/servers/sql-fcst-dev",
        "start_ip_address": address,
        "end_ip_address": address,
    }
    return values, {}


def query_alert(index: int, rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    values = {
        "name": f"alert-{index:04d}",
        "resource_group_name": "rg-fcst-dev",
        "severity": rng.choice([1, 2, 3]),
        "frequency": "PT5M",
        "window_size": "PT15M",
        "criteria": [
            {
                "metric_namespace": "Microsoft.Storage/storageAccounts",
                "metric_name": "Availability",
                "aggregation": "Average",
                "operator": "LessThan",
                "threshold": 99.0,
            }
        ],
        "action": [{"action_group_id": "/subscriptions/0000/actionGroups/ag-fcst-dev"}],
        "tags": TAGS,
    }
    return values, {"criteria": [{}], "action": [{}], "tags": {}}


# (module, resource type, block name, values): blocks our modules declare (checked by
# tests/stackctl/audit/test_audit_generator.py against modules/).
KINDS = (
    ("data_lake", "azurerm_storage_account", "this", storage_account),
    ("monitoring", "azurerm_application_insights", "this", application_insights),
    ("sql", "azurerm_mssql_database", "this", mssql_database),
    ("aml_compute", "azurerm_machine_learning_compute_cluster", "this", compute_cluster),
    ("powerbi_sources", "azurerm_mssql_firewall_rule", "this", firewall_rule),
    ("monitoring", "azurerm_monitor_scheduled_query_rules_alert_v2", "this", query_alert),
)
MODULES = tuple(dict.fromkeys(f"module.stack.module.{module}" for module, _, _, _ in KINDS))


def mutate(values: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A plausible in-place update: new tags, and for some resources a new size or secret."""
    after = json.loads(json.dumps(values))
    if "tags" in after:
        after["tags"] = {**after["tags"], "revision": str(rng.randint(2, 9))}
    for key, choices in (
        ("sku_name", ["S1", "S2", "S3"]),
        ("vm_size", ["Standard_DS4_v2", "Standard_DS5_v2"]),
    ):
        if key in after:
            after[key] = rng.choice(choices)
    if "value" in after:
        after["value"] = f"rotated-{rng.getrandbits(64):016x}"
    if "primary_access_key" in after:
        after["primary_access_key"] = f"rotated-{rng.getrandbits(64):016x}"
    return after


def generate(resources: int, seed: int = 7) -> dict[str, Any]:
    rng = random.Random(seed)
    actions = [a for a, weight in ACTION_WEIGHTS.items() for _ in range(weight)]
    changes: list[dict[str, Any]] = []
    drift: list[dict[str, Any]] = []
    planned: dict[str, list[dict[str, Any]]] = {module: [] for module in MODULES}
    for index in range(resources):
        module_name, resource_type, name, make = KINDS[index % len(KINDS)]
        module = f"module.stack.module.{module_name}"
        key = f"r{index:04d}"
        address = f'{module}.{resource_type}.{name}["{key}"]'
        values, sensitive = make(index, rng)
        action = rng.choice(actions)
        before: Any = None if action == ("create",) else values
        after: Any = (
            None if action == ("delete",) else (mutate(values, rng) if action == ("update",) else values)
        )
        change: dict[str, Any] = {
            "actions": list(action),
            "before": before,
            "after": after,
            "after_unknown": {"id": True} if action in (("create",), ("delete", "create")) else {},
            "before_sensitive": sensitive if before is not None else False,
            "after_sensitive": sensitive if after is not None else False,
        }
        entry: dict[str, Any] = {
            "address": address,
            "module_address": module,
            "mode": "managed",
            "type": resource_type,
            "name": name,
            "index": key,
            "provider_name": AZURERM,
            "change": change,
        }
        if action == ("delete", "create"):
            change["replace_paths"] = [["name"]]
            entry["action_reason"] = "replace_because_cannot_update"
        elif action == ("delete",):
            entry["action_reason"] = "delete_because_no_resource_config"
        changes.append(entry)
        if after is not None:
            planned[module].append(
                {
                    "address": address,
                    "mode": "managed",
                    "type": resource_type,
                    "name": name,
                    "index": key,
                    "provider_name": AZURERM,
                    "schema_version": 0,
                    "values": after,
                    "sensitive_values": sensitive,
                }
            )
        if action == ("update",) and rng.random() < 0.2:
            drifted = json.loads(json.dumps(values))
            if "tags" in drifted:
                drifted["tags"] = {**drifted["tags"], "changed-by": "portal"}
            drift.append({**entry, "change": {**change, "before": values, "after": drifted}})
    return {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "variables": {"environment": {"value": "dev"}, "location": {"value": "westeurope"}},
        "planned_values": {
            "root_module": {
                "child_modules": [
                    {
                        "address": "module.stack",
                        "child_modules": [
                            {"address": module, "resources": planned[module]}
                            for module in MODULES
                            if planned[module]
                        ],
                    }
                ]
            }
        },
        "resource_drift": drift,
        "resource_changes": changes,
        "output_changes": {
            "sql_connection_string": {
                "actions": ["update"],
                "before": "Server=tcp:sql-fcst-dev;Authentication=Active Directory Default",
                "after": "Server=tcp:sql-fcst-dev2;Authentication=Active Directory Default",
                "after_unknown": False,
                "before_sensitive": True,
                "after_sensitive": True,
            }
        },
        "configuration": {
            "provider_config": {
                "azurerm": {"name": "azurerm", "full_name": AZURERM, "version_constraint": ">= 4.0, < 5.0"}
            },
            "root_module": {"variables": {"environment": {}, "location": {}}},
        },
        "timestamp": "2026-11-20T09:15:00Z",
        "applyable": True,
        "complete": True,
        "errored": False,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--resources", type=int, default=500, help="number of resources (default: 500)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the plan JSON")
    args = parser.parse_args(argv)
    if args.resources < 1:
        parser.error("--resources must be at least 1")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(generate(args.resources, args.seed), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {args.resources} resources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
