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

import re
from typing import Any

from _common import first
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

FIX = (
    "Web activities without connectVia run on the public runtime and cannot reach a private batch "
    "endpoint, a retried invoke POST starts a second job, and reading a loop's inner activity from "
    "outside it is unreliable; set connectVia, retry = 0 on POSTs, keep the status in a Set Variable"
)
NAME = re.compile(r"'name':\s*'([^']+)'")
ACTIVITY_REF = re.compile(r"activity\('([^']+)'\)")
RETRY = re.compile(r"'retry':\s*(\d+)")
STEP_PLACEHOLDER = re.compile(r"\$\{?[a-z_]+\}?")


def _normalise(text: str) -> str:
    """The rendered HCL with checkov's escaping undone: maps as {'key': value}."""
    return text.replace("\\", "").replace('"', "'")


def _matching_bracket(text: str, start: int) -> int:
    """Index of the `]` closing the `[` at start, skipping quoted text."""
    depth, quoted = 0, False
    for index in range(start, len(text)):
        char = text[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "[":
            depth += 1
        elif not quoted and char == "]":
            depth -= 1
            if depth == 0:
                return index
    return len(text)


def _key(name: str) -> str:
    return STEP_PLACEHOLDER.sub("*", name)


def web_activities_without_runtime(text: str) -> int:
    return max(0, text.count("'WebActivity'") - text.count("'connectVia'"))


def retried_posts(text: str) -> list[str]:
    """Names of activities that POST with a retry other than 0."""
    found = []
    for post in re.finditer(r"'method':\s*'POST'", text):
        names = list(NAME.finditer(text, 0, post.start()))
        if not names:
            continue
        segment = text[names[-1].start() : post.start()]
        retry = RETRY.search(segment)
        if retry and retry.group(1) != "0":
            found.append(names[-1].group(1))
    return found


def loop_activities_read_outside(text: str) -> list[str]:
    """Activities inside an Until loop that something outside the loop's activities reads."""
    inner: set[str] = set()
    regions: list[tuple[int, int]] = []
    for until in re.finditer(r"'type':\s*'Until'", text):
        opening = text.find("'activities':", until.end())
        bracket = text.find("[", opening)
        if opening < 0 or bracket < 0:
            continue
        closing = _matching_bracket(text, bracket)
        regions.append((bracket, closing))
        inner.update(_key(m.group(1)) for m in NAME.finditer(text, bracket, closing))
    outside = [
        m.group(1)
        for m in ACTIVITY_REF.finditer(text)
        if not any(start <= m.start() <= end for start, end in regions) and _key(m.group(1)) in inner
    ]
    return sorted(set(outside))


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
        if not isinstance(activities, str) or "'type'" not in _normalise(activities):
            return CheckResult.UNKNOWN
        text = _normalise(activities)
        if web_activities_without_runtime(text) or retried_posts(text) or loop_activities_read_outside(text):
            return CheckResult.FAILED
        return CheckResult.PASSED


check = AdfPipelineActivities()
