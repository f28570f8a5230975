"""CKV_FS_8: SKU and feature combinations that Azure refuses.

- SQL Database: zone redundancy exists only in Premium (P*), Business Critical (BC_*), General
  Purpose vCore (GP_*) and Hyperscale (HS_*); Basic and Standard (S*, DTU) refuse it.
  https://learn.microsoft.com/azure/azure-sql/database/high-availability-sla-local-zone-redundancy#zone-redundant-availability
- Container Registry: private endpoints (public access off), zone redundancy, dedicated data
  endpoints and the retention policy are Premium features.
  https://learn.microsoft.com/azure/container-registry/container-registry-skus
- AML compute: Dedicated nodes draw on the VM family's vCPU quota and LowPriority nodes on the
  region's low-priority quota; new subscriptions have 0 GPU quota, so a size outside the quota
  table (modules/aml_compute local.vm_sizes, the quota list in infra/README.md) cannot scale up.
  https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas#azure-machine-learning-compute
- Storage: ZRS/GZRS need an account kind that offers them (StorageV2, BlockBlobStorage,
  FileStorage), never the legacy Storage/BlobStorage kinds.
  https://learn.microsoft.com/azure/storage/common/storage-redundancy#zone-redundant-storage
"""

from __future__ import annotations

import re
from typing import Any

from _common import first
from _rules import VM_QUOTA_FAMILIES
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

ZONE_REDUNDANT_SQL = re.compile(r"^(P\d+|GP_|BC_|HS_)")
ZRS_KINDS = {"StorageV2", "BlockBlobStorage", "FileStorage"}
FIX = (
    "Azure refuses the combination at apply (or the cluster never scales): zone redundancy needs "
    "a GP/BC/HS/Premium SQL SKU, private or zone-redundant registries need Premium, cluster sizes "
    "need a requested quota family, ZRS needs StorageV2"
)


def _true(value: Any) -> bool:
    return value in (True, "true")


def _unknown(value: Any) -> bool:
    return isinstance(value, str) and ("${" in value or value.startswith(("var.", "each.", "local.")))


class SkuFeatureCombinations(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=f"SKU and feature combinations Azure accepts: {FIX}",
            id="CKV_FS_8",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=[
                "azurerm_mssql_database",
                "azurerm_container_registry",
                "azurerm_machine_learning_compute_cluster",
                "azurerm_storage_account",
            ],
            guideline=FIX,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        kind = self.entity_type
        if kind == "azurerm_mssql_database":
            sku = first(conf, "sku_name")
            if not _true(first(conf, "zone_redundant")):
                return CheckResult.PASSED
            if _unknown(sku) or sku is None:
                return CheckResult.UNKNOWN
            return CheckResult.PASSED if ZONE_REDUNDANT_SQL.match(str(sku)) else CheckResult.FAILED
        if kind == "azurerm_container_registry":
            sku = first(conf, "sku")
            if _unknown(sku):
                return CheckResult.UNKNOWN
            if sku == "Premium":
                return CheckResult.PASSED
            premium_only = (
                first(conf, "public_network_access_enabled") in (False, "false")
                or _true(first(conf, "zone_redundancy_enabled"))
                or _true(first(conf, "data_endpoint_enabled"))
                or first(conf, "retention_policy_in_days") not in (None, "null")
            )
            return CheckResult.FAILED if premium_only else CheckResult.PASSED
        if kind == "azurerm_machine_learning_compute_cluster":
            size = first(conf, "vm_size")
            if _unknown(size) or size is None:
                return CheckResult.UNKNOWN
            return CheckResult.PASSED if size in VM_QUOTA_FAMILIES else CheckResult.FAILED
        replication = first(conf, "account_replication_type")
        account_kind = first(conf, "account_kind") or "StorageV2"
        if isinstance(replication, str) and "ZRS" in replication and not _unknown(account_kind):
            return CheckResult.PASSED if account_kind in ZRS_KINDS else CheckResult.FAILED
        return CheckResult.PASSED


check = SkuFeatureCombinations()
