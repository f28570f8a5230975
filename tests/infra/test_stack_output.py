"""The stack: its `stack` output keeps the contract with stackctl deploy and holds no secret.

Resources per environment come from a real plan (`make plan`, then `make audit` counts them);
names from Terraform itself (test_naming_module.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2

from stackctl.infra.hclmodel import read_dir

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
        "aad_principal_sids": None,
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
