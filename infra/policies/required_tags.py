"""CKV_FS_1: every taggable resource carries the organisation's tags."""

from __future__ import annotations

from typing import Any

from _common import REQUIRED_TAGS, first
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

TAGGABLE = [
    "azurerm_resource_group",
    "azurerm_storage_account",
    "azurerm_key_vault",
    "azurerm_container_registry",
    "azurerm_machine_learning_workspace",
    "azurerm_machine_learning_compute_cluster",
    "azurerm_data_factory",
    "azurerm_mssql_server",
    "azurerm_mssql_database",
    "azurerm_log_analytics_workspace",
    "azurerm_application_insights",
    "azurerm_monitor_action_group",
    "azurerm_monitor_scheduled_query_rules_alert_v2",
    "azurerm_virtual_network",
    "azurerm_network_security_group",
    "azurerm_private_endpoint",
    "azurerm_private_dns_zone",
]


class RequiredTags(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Resources carry the stack tags (owner, cost_centre, data_classification)",
            id="CKV_FS_1",
            categories=[CheckCategories.CONVENTION],
            supported_resources=TAGGABLE,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        tags = first(conf, "tags")
        if tags is None:
            return CheckResult.FAILED
        if isinstance(tags, dict):
            return CheckResult.PASSED if all(k in tags for k in REQUIRED_TAGS) else CheckResult.FAILED
        text = str(tags)
        # The module's tags input (validated in infra/variables.tf), or a rendered merge() of it.
        if "var.tags" in text or "local.tags" in text:
            return CheckResult.PASSED
        return CheckResult.PASSED if all(f"'{k}'" in text for k in REQUIRED_TAGS) else CheckResult.FAILED


check = RequiredTags()
