"""CKV_FS_10: a workspace with AllowOnlyApprovedOutbound builds images inside its network and
provisions the managed network on creation.

In AllowOnlyApprovedOutbound the workspace's registry is private, so ACR Tasks (the default image
builder) cannot reach it: `image_build_compute_name` must name a compute cluster in the managed
network. The managed network is otherwise provisioned by the first job, which then waits for it
(and fails if the caller lacks the network rights); `provision_on_creation_enabled = true`
provisions it with the workspace. The outbound rules themselves (a private endpoint to every
private resource jobs read or write) are listed in infra/main.tf; checkov cannot follow them
(for_each values across modules), so tests/infra checks them.

Sources:
https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#configure-image-builds
https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#manually-provision-a-managed-vnet
"""

from __future__ import annotations

from typing import Any

from _common import first
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

FIX = (
    "with AllowOnlyApprovedOutbound image builds fail on the private registry and the first job "
    "waits for network provisioning; set image_build_compute_name and provision_on_creation_enabled"
)


class AmlManagedNetwork(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=f"AML managed network builds images inside and is provisioned on creation: {FIX}",
            id="CKV_FS_10",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["azurerm_machine_learning_workspace"],
            guideline=FIX,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        network = first(conf, "managed_network")
        mode = first(network, "isolation_mode") if isinstance(network, dict) else None
        if mode in (None, "Disabled"):
            return CheckResult.PASSED
        if first(network, "provision_on_creation_enabled") not in (True, "true"):
            return CheckResult.FAILED
        if mode == "AllowOnlyApprovedOutbound":
            build = first(conf, "image_build_compute_name")
            if not isinstance(build, str) or build in ("", "null", "None"):
                return CheckResult.FAILED
        return CheckResult.PASSED


check = AmlManagedNetwork()
