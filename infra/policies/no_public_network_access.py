"""CKV_FS_2: data-plane services state their public network access, and prod turns it off."""

from __future__ import annotations

from typing import Any

from _common import environment_of, first
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

ATTRIBUTE = {
    "azurerm_storage_account": "public_network_access_enabled",
    "azurerm_key_vault": "public_network_access_enabled",
    "azurerm_container_registry": "public_network_access_enabled",
    "azurerm_machine_learning_workspace": "public_network_access_enabled",
    "azurerm_mssql_server": "public_network_access_enabled",
    "azurerm_data_factory": "public_network_enabled",
}


class NoPublicNetworkAccess(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Public network access is set explicitly and off in prod",
            id="CKV_FS_2",
            categories=[CheckCategories.NETWORKING],
            supported_resources=list(ATTRIBUTE),
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        attribute = ATTRIBUTE[self.entity_type]
        if attribute not in conf:
            # Azure's default is public: leaving it out is how public access slips into prod.
            return CheckResult.FAILED
        value = first(conf, attribute)
        if value is True or value == "true":
            return CheckResult.FAILED if environment_of(conf) in ("prod", None) else CheckResult.PASSED
        return CheckResult.PASSED


check = NoPublicNetworkAccess()
