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

import os
from pathlib import Path
from typing import Any

from _common import first
from _rules import DIAGNOSTICS_TABLE, queries_of, tables_read
from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.resource.base_resource_check import BaseResourceCheck

FIX = (
    "Azure rejects the rule (SEM0100, table not resolved) while no diagnostic record has arrived; "
    "set skip_query_validation = true on rules reading diagnostics tables, and write each query's "
    "table literally (a literal query, or a for_each map of literal queries) so this rule can read it"
)


# The directory checkov scans (set by stackctl's run_checkov): a resource's file is relative to it.
SCAN_TARGET = "FORECAST_STACK_SCAN_TARGET"
LOCAL_REFERENCE = "local."


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
        # A query read through for_each (`each.value.query`) is judged on every entry of the
        # rendered map; one whose table is interpolated cannot be judged and fails, so that no rule
        # passes unseen (UNKNOWN is not reported by checkov).
        for_each = first(conf, "for_each")
        if isinstance(for_each, str) and for_each.startswith(LOCAL_REFERENCE):
            # Scanning a root, checkov leaves a module's local unrendered when it depends on the
            # caller's values; the local's own text (its literal queries) is read from the module.
            for_each = self._local_text(for_each[len(LOCAL_REFERENCE) :]) or for_each
        queries = queries_of(query, for_each)
        if queries is None:
            return CheckResult.FAILED
        if not any(DIAGNOSTICS_TABLE.match(table) for q in queries for table in tables_read(q)):
            return CheckResult.PASSED
        skip = first(conf, "skip_query_validation")
        return CheckResult.PASSED if skip in (True, "true") else CheckResult.FAILED

    def _local_text(self, name: str) -> str | None:
        """The text of local `name` in the resource's module, parsed by checkov's own HCL parser."""
        import hcl2  # checkov's bc-python-hcl2, in checkov's environment

        relative = str(getattr(self, "entity_path", "")).split(":", 1)[0].lstrip("/")
        bases = [Path(os.environ[SCAN_TARGET])] if os.environ.get(SCAN_TARGET) else []
        for base in [*bases, Path.cwd()]:
            source = (base / relative).resolve()
            if not relative or not source.is_file():
                continue
            for file in sorted(source.parent.glob("*.tf")):
                with file.open(encoding="utf-8") as handle:
                    text = handle.read()
                if name not in text:
                    continue
                try:
                    document = hcl2.loads(text)
                except Exception:
                    # checkov's parser rejects some files Terraform reads: undecided, so FAILED
                    return None
                for block in document.get("locals", []):
                    if name in block:
                        value = block[name]
                        return str(value[0] if isinstance(value, list) and len(value) == 1 else value)
        return None


check = LogAlertDiagnosticsTable()
