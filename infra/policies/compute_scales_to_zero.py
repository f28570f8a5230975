"""CKV_FS_3: AML compute clusters scale to 0 nodes when idle (GPU time is the largest cost)."""

from __future__ import annotations

from typing import Any

from _common import first
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck


class ComputeScalesToZero(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name="AML compute clusters scale to 0 nodes (min_node_count is a literal 0)",
            id="CKV_FS_3",
            categories=[CheckCategories.GENERAL_SECURITY],
            supported_resources=["azurerm_machine_learning_compute_cluster"],
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        scale = first(conf, "scale_settings")
        if not isinstance(scale, dict):
            return CheckResult.FAILED
        minimum = first(scale, "min_node_count")
        return CheckResult.PASSED if minimum in (0, "0") else CheckResult.FAILED


check = ComputeScalesToZero()
