"""CKV_FS_4: SQL servers authenticate with Entra ID only; no SQL login or password exists."""

from __future__ import annotations

from typing import Any

from _common import first
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class SqlEntraOnly(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="SQL server uses Entra-only authentication and sets no SQL login or password",
            id="CKV_FS_4",
            categories=[CheckCategories.IAM],
            supported_resources=["azurerm_mssql_server"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        if "administrator_login" in conf or "administrator_login_password" in conf:
            return CheckResult.FAILED
        admin = first(conf, "azuread_administrator")
        if not isinstance(admin, dict):
            return CheckResult.FAILED
        entra_only = first(admin, "azuread_authentication_only")
        return CheckResult.PASSED if entra_only in (True, "true") else CheckResult.FAILED


check = SqlEntraOnly()
