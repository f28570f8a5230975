"""CKV_FS_6: a log alert that reads a table only a diagnostic setting creates skips query validation.

Azure validates a scheduled-query (log) alert's query when the rule is created. Resource-specific
tables such as ADFPipelineRun, AmlComputeJobEvent or StorageBlobLogs appear in a Log Analytics
workspace only when a diagnostic setting delivers its first record, so a rule created in the same
apply as a new workspace fails with SEM0100 ("failed to resolve table"). Such rules must set
`skip_query_validation = true` (the API's skipQueryValidation, made for rules deployed before
their table exists).

Sources:
https://learn.microsoft.com/azure/azure-monitor/alerts/alerts-troubleshoot-log#query-validation-failed
https://learn.microsoft.com/azure/azure-monitor/essentials/resource-logs#resource-specific
https://learn.microsoft.com/rest/api/monitor/scheduled-query-rules/create-or-update
"""

from __future__ import annotations

from typing import Any

from _common import first
from _rules import DIAGNOSTICS_TABLE, tables_read
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

FIX = (
    "Azure rejects the rule (SEM0100, table not resolved) while no diagnostic record has arrived; "
    "set skip_query_validation = true on rules reading diagnostics tables"
)


class LogAlertDiagnosticsTable(BaseResourceCheck):
    def __init__(self) -> None:
        super().__init__(
            name=f"Log alert reads a table only diagnostics create: {FIX}",
            id="CKV_FS_6",
            categories=[CheckCategories.LOGGING],
            supported_resources=["azurerm_monitor_scheduled_query_rules_alert_v2"],
            guideline=FIX,
        )

    def scan_resource_conf(self, conf: dict[str, Any]) -> CheckResult:
        criteria = first(conf, "criteria")
        query = first(criteria, "query") if isinstance(criteria, dict) else None
        if not isinstance(query, str) or "${" in query or "each." in query:
            return CheckResult.UNKNOWN
        if not any(DIAGNOSTICS_TABLE.match(table) for table in tables_read(query)):
            return CheckResult.PASSED
        skip = first(conf, "skip_query_validation")
        return CheckResult.PASSED if skip in (True, "true") else CheckResult.FAILED


check = LogAlertDiagnosticsTable()
