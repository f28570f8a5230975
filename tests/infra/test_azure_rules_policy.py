"""The Azure service rules of issue 10 as checkov policies (infra/policies): each one passes on the
tree, and fails with its exact id on a copy of the tree broken in the way Azure refuses.

One checkov run over a broken copy of modules/ serves all rules (checkov is slow to start); each
edit breaks one rule's resource only, so a finding names the rule that caught it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import hcl2
import pytest
from infra_helpers import editor, messages

from stackctl.checks import CheckReport
from stackctl.checks.checkov import ScanTarget, check_checkov

# id -> the fault of issue 10 it encodes
AZURE_RULES = {
    "CKV_FS_6": "log alert on a diagnostics-only table without skip_query_validation (also via for_each)",
    "CKV_FS_7": "AML workspace with key-based system datastores on a key-less storage account",
    "CKV_FS_8": "SKU/feature combination Azure refuses (SQL zone redundancy, registry SKU, VM quota, ZRS)",
    "CKV_FS_9": "firewall that does not deny by default (0.0.0.0 SQL rule, storage/vault default Allow)",
    "CKV_FS_10": "managed network without image-build compute or provisioning on creation",
    "CKV_FS_11": "Web activity off the managed-VNet runtime, retried invoke POST, loop status read outside",
    "CKV2_FS_4": "Data Factory managed private endpoint that nothing approves",
}


_HCL = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)


def _policy(root: Path, name: str) -> ModuleType:
    """Import one policy module the way checkov does (infra/policies on sys.path, for _common)."""
    policies = str(root / "infra" / "policies")
    if policies not in sys.path:
        sys.path.insert(0, policies)
    spec = importlib.util.spec_from_file_location(
        f"policy_{name}", root / "infra" / "policies" / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_azure_rule_ran_and_passed(root: Path, checkov_report: CheckReport) -> None:
    import json

    assert checkov_report.ok, messages(checkov_report)
    for target in ("modules", "dev", "prod"):
        results = json.loads((root / "build" / "checkov" / target / "results_json.json").read_text())
        reports = results if isinstance(results, list) else [results]
        ran = {check["check_id"] for r in reports for check in r["results"]["passed_checks"]}
        assert ran >= set(AZURE_RULES), f"{target}: rules that did not run: {set(AZURE_RULES) - ran}"
        # `make validate` lists the organisation rules each scan ran (stackctl validate prints notes).
        assert set(checkov_report.figures[target]["rules"]) >= set(AZURE_RULES)
        (note,) = [n for n in checkov_report.notes if n.startswith(f"{target}: ")]
        assert all(rule in note for rule in AZURE_RULES), note


@pytest.fixture(scope="module")
def broken_azure_rules_report(module_tree: Path) -> CheckReport:
    """The one checkov run over the broken copy that every test below reads (module-scoped: twelve
    tests, one scan)."""
    tree, edit = module_tree, editor(module_tree)
    # CKV_FS_6: the ADFPipelineRun alert validated at creation (SEM0100 on a new workspace).
    edit("modules/monitoring/main.alerts.tf", "skip_query_validation = true", "skip_query_validation = false")
    # CKV_FS_6 through for_each: a metric alert's query in the local map moved to a diagnostics
    # table (the rules of `this` set no skip_query_validation); once UNKNOWN, now decided.
    edit(
        "modules/monitoring/main.alerts.tf",
        'query       = "customMetrics | where name == \\"model_age_days\\"',
        'query       = "ADFActivityRun | where name == \\"model_age_days\\"',
    )
    # CKV_FS_7: key-based system datastores on the key-less workspace storage.
    edit(
        "modules/aml_workspace/main.tf",
        'storage_account_access_type = "Identity"',
        'storage_account_access_type = "identity"',
    )
    # CKV_FS_8: the fault of prod: a Standard (DTU) database with zone redundancy (default true).
    edit("modules/sql/variables.tf", 'default     = "GP_S_Gen5_1"', 'default     = "S2"')
    # CKV_FS_8: a registry below Premium with data endpoints and retention.
    edit("modules/aml_workspace/variables.tf", 'default     = "Premium"', 'default     = "Standard"')
    # CKV_FS_8: a cluster size whose quota family nobody requested.
    edit(
        "modules/aml_compute/main.tf",
        "vm_size                       = each.value.vm_size",
        'vm_size                       = "Standard_ND96asr_v4"',
    )
    # CKV_FS_9: the lake open to every network; a 0.0.0.0 SQL rule.
    edit("modules/data_lake/main.tf", 'default_action = "Deny"', 'default_action = "Allow"')
    edit(
        "modules/powerbi_sources/main.tf",
        "start_ip_address = each.value.start_ip_address\n  end_ip_address   = each.value.end_ip_address",
        'start_ip_address = "0.0.0.0"\n  end_ip_address   = "0.0.0.0"',
    )
    # CKV_FS_10: the managed network left for the first job to provision.
    edit(
        "modules/aml_workspace/main.tf",
        "provision_on_creation_enabled = true",
        "provision_on_creation_enabled = false",
    )
    # CKV_FS_11: the invoke POST retried (a retry starts a second training).
    edit(
        "modules/data_factory/main.pipeline.tf",
        'policy = { timeout = "0.00:10:00", retry = 0, retryIntervalInSeconds = 30 }',
        'policy = { timeout = "0.00:10:00", retry = 2, retryIntervalInSeconds = 30 }',
    )
    # CKV2_FS_4: the approvals gone (the managed private endpoints stay Pending).
    edit(
        "modules/data_factory/main.tf",
        'resource "azapi_update_resource" "managed_private_endpoint_approval" {',
        'resource "azapi_resource_action" "managed_private_endpoint_approval" {',
    )
    target = ScanTarget("modules", tree / "modules", tree / "infra" / "policies" / "module_scan.tfvars")
    return check_checkov(tree, targets=[target])


@pytest.mark.slow
@pytest.mark.parametrize(
    ("rule", "resource"),
    [
        ("CKV_FS_6", "azurerm_monitor_scheduled_query_rules_alert_v2.pipeline_failed"),
        ("CKV_FS_6", "azurerm_monitor_scheduled_query_rules_alert_v2.this"),
        ("CKV_FS_7", "azurerm_machine_learning_workspace.this"),
        ("CKV_FS_8", "azurerm_mssql_database.this"),
        ("CKV_FS_8", "azurerm_container_registry.this"),
        ("CKV_FS_8", "azurerm_machine_learning_compute_cluster.this"),
        ("CKV_FS_9", "azurerm_storage_account.this"),
        ("CKV_FS_9", "azurerm_mssql_firewall_rule.this"),
        ("CKV_FS_10", "azurerm_machine_learning_workspace.this"),
        ("CKV_FS_11", "azurerm_data_factory_pipeline.weekly"),
        ("CKV2_FS_4", "azurerm_data_factory_managed_private_endpoint.this"),
    ],
)
def test_each_azure_rule_catches_its_fault(
    broken_azure_rules_report: CheckReport, rule: str, resource: str
) -> None:
    text = messages(broken_azure_rules_report)
    assert f"{rule} failed on {resource}" in text, text
    # The message says what Azure does and how to fix it.
    line = next(line for line in text.splitlines() if f"{rule} failed on {resource}" in line)
    assert any(
        word in line for word in ("refuse", "rejects", "403", "fail", "admits", "Pending", "cannot")
    ), line


@pytest.mark.slow
def test_unbroken_resources_stay_clean(broken_azure_rules_report: CheckReport) -> None:
    """The edits break only their own rule: nothing else in the broken copy fails a new rule."""
    text = messages(broken_azure_rules_report)
    assert "CKV_FS_9 failed on azurerm_storage_account.workspace" not in text
    assert "CKV_FS_9 failed on azurerm_key_vault.this" not in text
    assert "CKV_FS_8 failed on azurerm_storage_account" not in text


# --- the pipeline rule's three parts, on the text checkov hands over (rendered HCL maps) ---

GOOD_PIPELINE = (
    "jsonencode([merge({'name': 'invoke_${step}', 'type': 'WebActivity', 'policy': {'retry': 0}, "
    "'typeProperties': {'method': 'POST'}},{'connectVia': {'referenceName': 'ir'}}), "
    "{'name': 'wait_${step}', 'type': 'Until', 'typeProperties': {'expression': {'value': "
    "'@contains(createArray('Completed'), variables('status_${step}'))'}, 'activities': ["
    "merge({'name': 'poll_${step}', 'type': 'WebActivity', 'policy': {'retry': 2}, "
    "'typeProperties': {'method': 'GET', 'url': 'x/@{activity('invoke_${step}').output.name}'}},"
    "{'connectVia': {'referenceName': 'ir'}}), {'name': 'set_status_${step}', 'type': 'SetVariable', "
    "'typeProperties': {'value': '@activity('poll_${step}').output.properties.status'}}]}}, "
    "{'name': 'check_${step}', 'type': 'IfCondition', 'typeProperties': {'expression': {'value': "
    "'@not(equals(variables('status_${step}'), 'Completed'))'}}}])"
)


def test_pipeline_rule_parts(root: Path) -> None:
    policy = _policy(root, "_rules")
    assert policy.web_activities_without_runtime(GOOD_PIPELINE) == 0
    assert policy.retried_posts(GOOD_PIPELINE) == []
    assert policy.loop_activities_read_outside(GOOD_PIPELINE) == []
    # The faults of issue 10: public runtime, retried POST, poll_* read after the loop.
    assert (
        policy.web_activities_without_runtime(
            GOOD_PIPELINE.replace(",{'connectVia': {'referenceName': 'ir'}}", "", 1)
        )
        == 1
    )
    assert policy.retried_posts(GOOD_PIPELINE.replace("'retry': 0", "'retry': 2")) == ["invoke_${step}"]
    outside = GOOD_PIPELINE.replace(
        "'@not(equals(variables('status_${step}'), 'Completed'))'",
        "'@not(equals(activity('poll_${step}').output.properties.status, 'Completed'))'",
    )
    assert policy.loop_activities_read_outside(outside) == ["poll_${step}"]


def test_alert_rule_knows_diagnostics_tables(root: Path) -> None:
    policy = _policy(root, "_rules")
    assert policy.tables_read('ADFPipelineRun | where Status == "Failed"') == {"ADFPipelineRun"}
    assert "AmlComputeJobEvent" in policy.tables_read("union ADFActivityRun, AmlComputeJobEvent")
    assert any(policy.DIAGNOSTICS_TABLE.match(t) for t in policy.tables_read("ADFActivityRun | take 1"))
    assert not any(policy.DIAGNOSTICS_TABLE.match(t) for t in policy.tables_read("customMetrics | take 1"))


def test_alert_rule_decides_interpolated_and_for_each_queries(root: Path) -> None:
    """CKV_FS_6 used to return UNKNOWN (silently dropped by checkov) for `each.value.query` and any
    interpolated query; now it reads the queries of the rendered for_each map and the literal head
    of an interpolated query, and fails only what it cannot read."""
    policy = _policy(root, "_rules")
    rendered = (
        "{for key , rule in {'a': {'description': \"x\", 'query': 'customMetrics | where v > {}'}, "
        "'b': {'query': 'customMetrics | where name == \"step_runs\"'}} : key :> rule if var.on}"
    )
    assert policy.queries_of("each.value.query", rendered) == [
        "customMetrics | where v > {}",
        'customMetrics | where name == "step_runs"',
    ]
    diagnostics = rendered.replace("'b': {'query': 'customMetrics", "'b': {'query': 'ADFActivityRun")
    queries = policy.queries_of("each.value.query", diagnostics)
    assert any(policy.DIAGNOSTICS_TABLE.match(t) for q in queries for t in policy.tables_read(q))
    # interpolated after the first pipe: the table is still literal
    assert policy.queries_of("ADFPipelineRun | where x > ${var.y}", None) == [
        "ADFPipelineRun | where x > ${var.y}"
    ]
    # undecidable: an interpolated table, or a for_each map without literal queries -> None (FAILED)
    assert policy.queries_of("${var.table} | take 1", None) is None
    assert policy.queries_of("each.value.query", "local.rules") is None
    assert policy.queries_of("each.value.query", None) is None


def test_vm_quota_table_matches_the_compute_module(root: Path) -> None:
    """CKV_FS_8's VM family table and modules/aml_compute's local.vm_sizes are the same table."""
    policy = _policy(root, "_rules")
    with (root / "modules" / "aml_compute" / "main.tf").open() as handle:
        module = hcl2.load(handle, serialization_options=_HCL)
    sizes = next(block["vm_sizes"] for block in module["locals"] if "vm_sizes" in block)
    assert {size: spec["family"] for size, spec in sizes.items()} == policy.VM_QUOTA_FAMILIES


def test_policies_readme_lists_every_azure_rule(root: Path) -> None:
    readme = (root / "infra" / "policies" / "README.md").read_text()
    for rule in AZURE_RULES:
        assert f"| {rule} |" in readme, f"{rule} is missing from infra/policies/README.md"
