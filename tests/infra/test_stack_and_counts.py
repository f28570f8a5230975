"""The stack: its `stack` output keeps the contract with stackctl deploy and holds no secret;
resources per environment; the expression evaluator the counts rest on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2
import pytest

from stackctl.infra.expressions import UNKNOWN, evaluate
from stackctl.infra.hclmodel import read_dir
from stackctl.infra.resources import count_env

# The contract in the issue ("Contract between the Terraform stack and stackctl deploy").
CONTRACT: dict[str, Any] = {
    "environment": None,
    "location": None,
    "subscription_id": None,
    "tenant_id": None,
    "resource_group_name": None,
    "aml": {
        "workspace_name": None,
        "workspace_id": None,
        "principal_id": None,
        "gpu_cluster_name": None,
        "cpu_cluster_name": None,
        # the publish step's identity: deploy makes it a contained user of the reporting database
        "cpu_cluster_principal_id": None,
        "datastores": None,
    },
    "data_lake": {"account_name": None, "dfs_endpoint": None, "file_systems": None},
    "endpoints": None,
    "data_factory": {"name": None, "principal_id": None, "pipeline_name": None},
    "sql": {
        "server_name": None,
        "server_fqdn": None,
        "database_name": None,
        "reporting_schema": None,
        "aad_principals": None,
    },
    "powerbi": {
        "server": None,
        "database": None,
        "schema": None,
        "views": None,
        "entra_group": None,
        "entra_group_object_id": None,
    },
    "monitoring": {"log_analytics_workspace_id": None, "application_insights_name": None},
    "schedules": {
        "time_zone": None,
        "training_cron": None,
        "scoring_cron": None,
        "aml_schedules_enabled": None,
    },
}
SECRET_ATTRIBUTE = re.compile(r"(access_key|connection_string|password|secret|sas|instrumentation_key|token)")


def _stack_output(root: Path) -> dict[str, Any]:
    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
    with (root / "infra" / "outputs.tf").open() as handle:
        outputs = {
            k: v
            for entry in hcl2.load(handle, serialization_options=options)["output"]
            for k, v in entry.items()
        }
    assert set(outputs) == {"stack"}, "infra/ exposes exactly one output, `stack`"
    assert not outputs["stack"].get("sensitive")
    return dict(outputs["stack"]["value"])


def _shape(expected: dict[str, Any], actual: dict[str, Any], path: str = "stack") -> None:
    assert set(actual) == set(expected), f"{path}: keys differ from the contract"
    for key, sub in expected.items():
        if sub is not None:
            _shape(sub, actual[key], f"{path}.{key}")


def test_stack_output_keeps_the_deploy_contract(root: Path) -> None:
    _shape(CONTRACT, _stack_output(root))


def test_stack_output_and_root_outputs_carry_no_secret(root: Path) -> None:
    assert not SECRET_ATTRIBUTE.search(str(_stack_output(root)))
    for directory in [*sorted((root / "modules").iterdir()), root / "envs" / "dev", root / "envs" / "prod"]:
        for name, body in read_dir(directory).outputs.items():
            assert not SECRET_ATTRIBUTE.search(f"{name} {body.get('value')}"), (
                f"{directory.name}: output {name}"
            )


def test_endpoint_uris_follow_the_naming_convention(root: Path) -> None:
    from stackctl.infra.resources import Scope
    from stackctl.parity import load_tfvars

    scope = Scope(read_dir(root / "infra"), load_tfvars(root / "envs" / "dev" / "terraform.tfvars"))
    endpoints = scope.resolve("local", "endpoints")
    assert endpoints["training"] == {
        "name": "fcst-dev-train-d01",
        "invoke_uri": "https://fcst-dev-train-d01.westeurope.inference.ml.azure.com/jobs",
    }
    assert endpoints["scoring"]["invoke_uri"].startswith("https://fcst-dev-score-d01.westeurope.")


def test_resources_per_environment(root: Path) -> None:
    dev, prod = count_env(root, "dev"), count_env(root, "prod")
    print(f"\nresources: dev {dev.total}, prod {prod.total}")
    assert dev.approximate == [], "a count/for_each is no longer knowable offline"
    assert prod.approximate == [], "a count/for_each is no longer knowable offline"
    # prod differs only through values: private endpoints, the VNet, locks, Defender.
    assert dev.by_type.get("azurerm_private_endpoint") == 0
    assert prod.by_type["azurerm_private_endpoint"] == 9
    assert (dev.by_type.get("azurerm_virtual_network", 0), prod.by_type["azurerm_virtual_network"]) == (0, 1)
    assert (dev.by_type["azurerm_management_lock"], prod.by_type["azurerm_management_lock"]) == (0, 6)
    assert prod.by_type["azurerm_mssql_server_security_alert_policy"] == 1
    for counted in (dev, prod):
        assert counted.by_type["azurerm_machine_learning_compute_cluster"] == 2
        assert counted.by_type["azurerm_storage_container"] == 3
        assert counted.by_type["azurerm_machine_learning_datastore_datalake_gen2"] == 3
        assert counted.by_type["azurerm_monitor_scheduled_query_rules_alert_v2"] == 4
    assert prod.total > dev.total


def _resolver(values: dict[str, Any]) -> Any:
    return lambda kind, name: values.get(f"{kind}.{name}", UNKNOWN)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("${var.network.enabled ? 1 : 0}", 1),
        ("${var.lock != null ? 1 : 0}", 0),
        ('${toset(["raw", "conditioned", "raw"])}', ["raw", "conditioned"]),
        ("${length(var.items) > 0 ? [1] : []}", [1]),
        ("${{ for k, v in var.map : k => v }}", {"a": 1, "b": 2}),
        ("${[for x in var.items : x if x > 1]}", [2]),
        (
            '${{ for fs in ["raw", "scored"] : fs => "lake_${fs}" if var.network.enabled }}',
            {"raw": "lake_raw", "scored": "lake_scored"},
        ),
        ("${{ for k, v in var.map : k => v if var.unknown }}", UNKNOWN),
        ("${{ for k, v in var.map : v => k... }}", UNKNOWN),
        ("${module.network[0].subnet_ids}", UNKNOWN),
        ("rg-${var.name}-${var.network.enabled}", "rg-fcst-true"),
        ('${var.network.enabled ? { a = 1, "b-c" = { d = var.name } } : {}}', {"a": 1, "b-c": {"d": "fcst"}}),
        ("${merge(var.map, { c = 3 })}", {"a": 1, "b": 2, "c": 3}),
        ("${!var.network.enabled || var.unknown}", UNKNOWN),
        ("${var.unknown && false}", False),
    ],
)
def test_expression_evaluator(expression: str, expected: Any) -> None:
    values = {
        "var.network": {"enabled": True},
        "var.lock": None,
        "var.items": [1, 2],
        "var.map": {"a": 1, "b": 2},
        "var.name": "fcst",
    }
    assert evaluate(expression, _resolver(values)) == expected
