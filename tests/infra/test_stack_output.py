"""The stack: its `stack` output keeps the contract with stackctl deploy and holds no secret.

Resources per environment come from a real plan (`make plan`, then `make audit` counts them);
names from Terraform itself (test_naming_module.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import hcl2

from stackctl.checks.hclmodel import read_dir

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
        "output_datastores": None,
        # issue 20: the job clusters' node shapes and the distributed steps' sizing
        "clusters": None,
        "distributed": None,
    },
    # The user-assigned identity every AML job runs as (infra/main.identity.tf).
    "job_identity": {"client_id": None, "principal_id": None, "id": None, "name": None},
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
# The one output with a secret-looking name that is no secret: an Application Insights connection
# string only says where telemetry goes ("ikey unique identifiers aren't security tokens or security
# keys, and aren't considered secrets"; local authentication is off, ingestion needs an Entra token).
# It must be its own output, marked sensitive (the provider marks the attribute so), never in `stack`.
# https://learn.microsoft.com/azure/azure-monitor/app/connection-strings
NOT_A_SECRET = "application_insights_connection_string"


def _outputs(path: Path) -> dict[str, Any]:
    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
    with path.open() as handle:
        return {
            k: v
            for entry in hcl2.load(handle, serialization_options=options)["output"]
            for k, v in entry.items()
        }


def _stack_output(root: Path) -> dict[str, Any]:
    outputs = _outputs(root / "infra" / "outputs.tf")
    assert set(outputs) == {"stack", NOT_A_SECRET}, (
        "infra/ exposes `stack` and App Insights' connection string"
    )
    assert not outputs["stack"].get("sensitive")
    return dict(outputs["stack"]["value"])


def test_app_insights_connection_string_is_its_own_sensitive_output(root: Path) -> None:
    """The jobs need it (APPLICATIONINSIGHTS_CONNECTION_STRING); Terraform refuses a non-sensitive
    output of a sensitive attribute, and `stack` must stay readable, so both roots pass it through
    as a second, sensitive output."""
    for path in (
        root / "infra" / "outputs.tf",
        *(root / "envs" / env / "main.tf" for env in ("dev", "prod")),
    ):
        output = _outputs(path)[NOT_A_SECRET]
        assert output["sensitive"] is True, f"{path}: {NOT_A_SECRET} must be sensitive = true"
    monitoring = read_dir(root / "modules" / "monitoring").outputs[NOT_A_SECRET]
    assert monitoring.get("sensitive") is True


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
            if name == NOT_A_SECRET and body.get("sensitive") is True:
                continue
            assert not SECRET_ATTRIBUTE.search(f"{name} {body.get('value')}"), (
                f"{directory.name}: output {name}"
            )
