"""CKV_FS_7: an AML workspace on a key-less storage account uses identity-based system datastores.

Every storage account in this stack has shared keys off (CKV2_AZURE_40). A workspace whose system
datastores (workspaceblobstore, workspacefilestore, workspaceartifactstore) are credential-based
then gets 403 on environment build-context upload, job snapshots, default outputs and MLflow
artifacts. The workspace must set `storage_account_access_type = "Identity"` (azurerm >= 5.x), and
the identities that use the account need its Blob/File data roles (infra/main.rbac.tf). The value is
case-sensitive: azurerm validates it with StringInSlice([AccessKey, Identity], false), so
"identity" is refused at plan (issue 22 item 1; the provider-enums check holds the enum).

Sources: https://learn.microsoft.com/azure/machine-learning/how-to-disable-local-auth-storage
hashicorp/terraform-provider-azurerm internal/services/machinelearning/machine_learning_workspace_resource.go
"""

from __future__ import annotations

from typing import Any

from _common import first
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

FIX = (
    "with shared keys off Azure answers 403 to key-based system datastores (snapshots, outputs, "
    'MLflow artifacts); set storage_account_access_type = "Identity" and grant the data roles'
)


class AmlIdentityDatastores(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=f"AML workspace system datastores are identity-based: {FIX}",
            id="CKV_FS_7",
            categories=[CheckCategories.IAM],
            supported_resources=["azurerm_machine_learning_workspace"],
            guideline=FIX,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        access = first(conf, "storage_account_access_type")
        return CheckResult.PASSED if access == "Identity" else CheckResult.FAILED


check = AmlIdentityDatastores()
