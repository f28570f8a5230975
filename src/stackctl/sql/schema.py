"""The reporting schema, as the model package's `publish` step defines it (one definition, two engines).

The model package must not import stackctl, so the schema lives with the step that writes it
(`demand_forecast.reporting_schema`); stackctl re-exports it for deploy, the local stack and the dashboard.
"""

from __future__ import annotations

from demand_forecast.reporting_schema import (
    AZURE_SCHEMA,
    AZURE_SCHEMAS,
    MIGRATIONS,
    RUN_TABLES,
    SCHEMA_VERSION,
    TABLES,
    VALIDATION_SCHEMA,
    VIEWS,
    ReportingTables,
    reporting_tables,
    segment_label,
    view_selects,
    view_statements,
)

SCHEMA = AZURE_SCHEMA

__all__ = [
    "AZURE_SCHEMAS",
    "MIGRATIONS",
    "RUN_TABLES",
    "SCHEMA",
    "SCHEMA_VERSION",
    "TABLES",
    "VALIDATION_SCHEMA",
    "VIEWS",
    "ReportingTables",
    "reporting_tables",
    "segment_label",
    "view_selects",
    "view_statements",
]
