"""CKV_FS_9: firewalls deny by default: no 0.0.0.0 SQL rule, no storage or vault default Allow.

- A SQL firewall rule from 0.0.0.0 to 0.0.0.0 is "Allow Azure services and resources to access
  this server": it admits every Azure customer's services, not only this stack's.
  https://learn.microsoft.com/azure/azure-sql/database/firewall-configure#connections-from-inside-azure
- A storage account (or Key Vault) whose network default action is Allow accepts every network, so
  its ip_rules restrict nothing.
  https://learn.microsoft.com/azure/storage/common/storage-network-security#change-the-default-network-access-rule
Let Azure services in through private endpoints, resource-instance rules or trusted-service
bypass, and people through named IP ranges.
"""

from __future__ import annotations

from typing import Any

from _common import first
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

FIX = (
    "a 0.0.0.0 SQL rule admits every tenant's Azure services and a default Allow makes IP rules "
    "meaningless; deny by default and admit resource instances, trusted services, named IP ranges"
)
ANY_AZURE = "0.0.0.0"  # noqa: S104 - the firewall value we look for, not a bind address


class DenyByDefaultFirewalls(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=f"Firewalls deny by default: {FIX}",
            id="CKV_FS_9",
            categories=[CheckCategories.NETWORKING],
            supported_resources=[
                "azurerm_mssql_firewall_rule",
                "azurerm_storage_account",
                "azurerm_storage_account_network_rules",
                "azurerm_key_vault",
            ],
            guideline=FIX,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        resource_type = self.entity_type
        if resource_type == "azurerm_mssql_firewall_rule":
            bounds = {first(conf, "start_ip_address"), first(conf, "end_ip_address")}
            return CheckResult.FAILED if ANY_AZURE in bounds else CheckResult.PASSED
        if resource_type == "azurerm_storage_account_network_rules":
            action = first(conf, "default_action")
        else:
            rules = first(conf, "network_acls" if resource_type == "azurerm_key_vault" else "network_rules")
            action = first(rules, "default_action") if isinstance(rules, dict) else None
        return CheckResult.PASSED if action == "Deny" else CheckResult.FAILED


check = DenyByDefaultFirewalls()
