"""CKV_FS_11: Data Factory pipelines that call private AML batch endpoints safely.

Three rules, each from a documented behaviour:

1. Every Web activity names an integration runtime (`connectVia`). Without it the activity runs
   on the public Azure integration runtime and cannot reach a batch endpoint behind the
   workspace's private endpoint.
   https://learn.microsoft.com/azure/data-factory/control-flow-web-activity#type-properties
   https://learn.microsoft.com/azure/data-factory/managed-virtual-network-private-endpoint
2. A Web activity that POSTs (invoking a batch endpoint starts a job; the call is not idempotent)
   has `retry = 0`, or a transient error after the job was accepted starts a second training.
   https://learn.microsoft.com/azure/data-factory/concepts-pipelines-activities#activity-policy
3. Nothing outside an Until loop reads an activity that runs inside it: the loop's status goes into
   a pipeline variable (Set Variable) that the loop condition and the later activities read, as in
   Microsoft's batch-endpoint template.
   https://learn.microsoft.com/azure/machine-learning/how-to-use-batch-azure-data-factory
   https://learn.microsoft.com/azure/data-factory/control-flow-until-activity

checkov hands `activities_json` over as the rendered text of the `jsonencode(...)` expression (it
does not evaluate it), so the rules read that text: activity objects written as HCL maps.
"""

from __future__ import annotations

from typing import Any

from _common import first
from _rules import (
    loop_activities_read_outside,
    normalise_activities,
    retried_posts,
    web_activities_without_runtime,
)
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

FIX = (
    "Web activities without connectVia run on the public runtime and fail to reach a private batch "
    "endpoint, a retried invoke POST starts a second job, and reading a loop's inner activity from "
    "outside it is unreliable; set connectVia, retry = 0 on POSTs, keep the status in a Set Variable"
)


class AdfPipelineActivities(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=f"Data Factory pipeline reaches private batch endpoints safely: {FIX}",
            id="CKV_FS_11",
            categories=[CheckCategories.NETWORKING],
            supported_resources=["azurerm_data_factory_pipeline"],
            guideline=FIX,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        activities = first(conf, "activities_json")
        if not isinstance(activities, str) or "'type'" not in normalise_activities(activities):
            return CheckResult.UNKNOWN
        text = normalise_activities(activities)
        if web_activities_without_runtime(text) or retried_posts(text) or loop_activities_read_outside(text):
            return CheckResult.FAILED
        return CheckResult.PASSED


check = AdfPipelineActivities()
