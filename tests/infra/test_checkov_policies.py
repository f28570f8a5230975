"""Check 4: checkov with our policies: zero failures, every skip justified, reports written; and
each organisation policy catches the fault it exists for."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from infra_helpers import Edit, messages

from stackctl.checks import CheckReport
from stackctl.checks.checkov import ScanTarget, check_checkov

CUSTOM_POLICIES = {
    "CKV_FS_1",
    "CKV_FS_2",
    "CKV_FS_3",
    "CKV_FS_4",
    "CKV_FS_5",
    "CKV_FS_6",
    "CKV_FS_7",
    "CKV_FS_8",
    "CKV_FS_9",
    "CKV_FS_10",
    "CKV_FS_11",
    "CKV2_FS_1",
    "CKV2_FS_2",
    "CKV2_FS_4",
}


def test_no_failed_checks_and_every_skip_justified(checkov_report: CheckReport) -> None:
    assert checkov_report.ok, messages(checkov_report)
    for target in ("modules", "dev", "prod"):
        figures = checkov_report.figures[target]
        print(f"checkov {target}: {figures['passed']} passed, {figures['skipped']} skipped")
        assert figures["passed"] > 50
        assert figures["failed"] == 0
    # the bootstrap root (state, identities, the prod runner) is scanned with its example values
    assert checkov_report.figures["bootstrap"]["failed"] == 0
    assert checkov_report.figures["bootstrap"]["passed"] > 20


def test_sarif_and_junit_are_written(checkov_report: CheckReport, root: Path) -> None:
    for target in ("modules", "dev", "prod"):
        sarif = json.loads((root / checkov_report.figures[target]["sarif"]).read_text())
        assert sarif["version"].startswith("2.1")
        assert (root / checkov_report.figures[target]["junit"]).read_text().lstrip().startswith("<?xml")


def test_the_policy_list_is_every_policy_in_infra_policies(root: Path) -> None:
    # test_our_policies_ran checks the listed ones: a policy added but not listed would go unchecked.
    declared = {
        match.group(1)
        for path in (root / "infra" / "policies").iterdir()
        if path.suffix in (".py", ".yaml")
        for match in re.finditer(r'\bid\s*[=:]\s*"(CKV2?_FS_\d+)"', path.read_text(encoding="utf-8"))
    }
    assert declared == CUSTOM_POLICIES


def test_our_policies_ran(root: Path, checkov_report: CheckReport) -> None:
    results = json.loads((root / "build" / "checkov" / "dev" / "results_json.json").read_text())
    reports = results if isinstance(results, list) else [results]
    ran = {check["check_id"] for r in reports for check in r["results"]["passed_checks"]}
    assert ran >= CUSTOM_POLICIES, f"custom policies that did not run: {CUSTOM_POLICIES - ran}"


@pytest.fixture
def broken_modules_report(tree: Path, edit: Edit) -> CheckReport:
    """One checkov run over a copy of modules/ with one fault per policy (checkov is slow to start)."""
    edit(  # CKV_FS_2: public access on, judged as prod
        "modules/key_vault/main.tf",
        "public_network_access_enabled = var.public_network_access_enabled",
        "public_network_access_enabled = true",
    )
    edit(  # CKV_FS_3: a cluster that never scales to zero
        "modules/aml_compute/main.tf", "min_node_count                       = 0", "min_node_count = 1"
    )
    edit(  # CKV_FS_4: a SQL login with a password next to Entra
        "modules/sql/main.tf",
        '  version                       = "12.0"',
        '  version = "12.0"\n  administrator_login = "sqladmin"\n  administrator_login_password = var.name',
    )
    edit(  # CKV_FS_1: a taggable resource without tags
        "modules/network/main.tf",
        "  address_space       = var.address_space\n  tags                = var.tags\n",
        "  address_space       = var.address_space\n",
    )
    edit(  # a skip without a reason
        "modules/data_factory/main.tf",
        "#checkov:skip=CKV_AZURE_103:The factory's pipelines are defined in Terraform in this repository; "
        "a second (ADF Git) source of truth would drift from it.",
        "#checkov:skip=CKV_AZURE_103",
    )
    target = ScanTarget("modules", tree / "modules", tree / "infra" / "policies" / "module_scan.tfvars")
    return check_checkov(tree, targets=[target])


@pytest.mark.slow
def test_each_policy_catches_its_fault(broken_modules_report: CheckReport) -> None:
    text = messages(broken_modules_report)
    assert "CKV_FS_2 failed on azurerm_key_vault.this" in text
    assert "CKV_FS_3 failed on azurerm_machine_learning_compute_cluster.this" in text
    assert "CKV_FS_4 failed on azurerm_mssql_server.this" in text
    assert "CKV_FS_1 failed on azurerm_virtual_network.this" in text
    assert "CKV_AZURE_103 is skipped on azurerm_data_factory.this without a justification" in text
