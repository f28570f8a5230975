"""The reporting schema, defined once: the tables the `publish` step writes, the views Power BI reads.

One SQLAlchemy definition, built for two engines:

* Azure SQL: tables and views in the `reporting` schema (`reporting_tables("reporting")`), compiled
  to T-SQL by SQLAlchemy's mssql dialect (`stackctl deploy` runs the Alembic revisions in
  `migrations/versions` on it, `reporting.migration`);
* SQLite (the local stack): the same tables and views in the main database of
  `.local/reporting/reporting.db` (`reporting_tables(None)`), so any SQLite client resolves them:
  `sqlite3 .local/reporting/reporting.db "select count(*) from v_forecasts"` works. (An ATTACHed
  `reporting` schema would make views that a plain client cannot open: SQLite refuses views that
  reference another database.)

The schema's version lives in the database (`schema_version`); `publish` refuses a database older
than `SCHEMA_VERSION` and names the migration to run (`MIGRATIONS`). Each version is the Alembic
revision "000N" in `migrations/versions`, written when the schema changes (the tables here are the head
of those revisions; a test compares a migrated database with them).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import ExecutableDDLElement

AZURE_SCHEMA = "reporting"
# Release validation publishes here, never into the tables Power BI reads (issue 22 item 8): the same
# tables and views in a schema of their own, which only the jobs write and nobody else reads.
VALIDATION_SCHEMA = "validation"
AZURE_SCHEMAS = (AZURE_SCHEMA, VALIDATION_SCHEMA)

# Version 1: the first five tables and four views (created by stackctl before publish was a step).
# Version 2: step_runs, backtest, schema_version, segment labels and the v_step_runs,
# v_data_quality and v_backtest views.
# Version 3: WAPE and volume bias beside every MAPE (model_metrics, model_health and their views).
SCHEMA_VERSION = 3
MIGRATIONS: dict[int, str] = {
    1: "creates the reporting tables and views",
    2: "adds reporting.step_runs, reporting.backtest, reporting.schema_version, segment_label columns "
    "and the views v_step_runs, v_data_quality, v_backtest",
    3: "adds wape and bias to reporting.model_metrics, recent_wape and recent_bias to reporting.model_health",
}

TABLES = (
    "schema_version",
    "pipeline_runs",
    "step_runs",
    "forecasts",
    "backtest",
    "model_metrics",
    "model_health",
    "data_quality",
)
VIEWS = (
    "v_forecasts",
    "v_backtest",
    "v_model_metrics",
    "v_model_health",
    "v_pipeline_runs",
    "v_step_runs",
    "v_data_quality",
)
# Tables whose rows belong to one pipeline run: publish replaces them per run_id.
RUN_TABLES = ("step_runs", "forecasts", "backtest", "model_metrics", "model_health", "data_quality")


@dataclass(frozen=True)
class ReportingTables:
    """The metadata and tables of the reporting schema in one namespace (`schema` None: SQLite's main)."""

    schema: str | None
    metadata: sa.MetaData
    tables: dict[str, sa.Table]

    def __getitem__(self, name: str) -> sa.Table:
        return self.tables[name]

    def qualified(self, name: str) -> str:
        return f"{self.schema}.{name}" if self.schema else name


# Every text column is Unicode: NVARCHAR on Azure SQL. A VARCHAR column stores text in the
# database's code page (the default collation SQL_Latin1_General_CP1_CI_AS: code page 1252), so a store,
# product or region id outside it ("Łódź-01", "東京") would be stored as '?', silently, and two such ids
# could collide ("Non-Unicode character data is limited to the character set of the code page",
# https://learn.microsoft.com/sql/t-sql/data-types/nchar-and-nvarchar-transact-sql and
# https://learn.microsoft.com/sql/relational-databases/collations/collation-and-unicode-support).
# SQLAlchemy's Unicode type renders NVARCHAR on mssql and TEXT-affine VARCHAR on SQLite (review-22 m1;
# tests/model/test_reporting_unicode.py renders the DDL).


def _segment_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column("segment", sa.Unicode(160), nullable=False),  # "<region>|<format>|<velocity>" or "overall"
        sa.Column("segment_label", sa.Unicode(200), nullable=False),  # "north · large stores · fast movers"
    ]


def _build(schema: str | None) -> ReportingTables:
    """The reporting tables in `schema` (None: the engine's default), keyed by table name.

    Long because it is the schema itself: one declarative SQLAlchemy `Table` per reporting table,
    read as a whole (splitting it would scatter the columns a view joins across functions)."""
    # Index names are unique per database in SQLite (and deploy looks them up in sys.indexes by name).
    metadata = sa.MetaData(schema=schema, naming_convention={"ix": "ix_%(table_name)s_%(column_0_N_name)s"})
    tables = [
        sa.Table(
            "schema_version",
            metadata,
            sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("applied_at", sa.DateTime, nullable=False),
            sa.Column("description", sa.Unicode(400), nullable=False),
        ),
        sa.Table(
            "pipeline_runs",
            metadata,
            sa.Column("run_id", sa.Unicode(64), primary_key=True),
            sa.Column("pipeline", sa.Unicode(32), nullable=False),
            sa.Column("status", sa.Unicode(16), nullable=False),
            sa.Column("started_at", sa.DateTime, nullable=False),
            sa.Column("finished_at", sa.DateTime),
            sa.Column("model_name", sa.Unicode(128)),
            sa.Column("model_version", sa.Unicode(128)),
            sa.Column("detail", sa.Unicode(2000)),
        ),
        sa.Table(
            "step_runs",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Unicode(64), nullable=False, index=True),
            sa.Column("pipeline", sa.Unicode(32), nullable=False),
            sa.Column("step", sa.Unicode(32), nullable=False),
            sa.Column("outcome", sa.Unicode(16), nullable=False),  # succeeded, failed
            sa.Column("started_at", sa.DateTime, nullable=False),
            sa.Column("duration_seconds", sa.Float, nullable=False),
        ),
        sa.Table(
            "forecasts",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Unicode(64), nullable=False, index=True),
            sa.Column("week_start", sa.Date, nullable=False),
            sa.Column("store_id", sa.Unicode(64), nullable=False),
            sa.Column("product_id", sa.Unicode(64), nullable=False),
            sa.Column("region", sa.Unicode(64)),
            sa.Column("store_format", sa.Unicode(32)),
            *_segment_columns(),
            sa.Column("forecast_units", sa.Float, nullable=False),
            sa.Column("model_name", sa.Unicode(128), nullable=False),
            sa.Column("model_version", sa.Unicode(128), nullable=False),
        ),
        sa.Table(
            "backtest",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Unicode(64), nullable=False, index=True),
            sa.Column("source", sa.Unicode(16), nullable=False),  # holdout (training), recent (scoring)
            sa.Column("week_start", sa.Date, nullable=False),
            sa.Column("store_id", sa.Unicode(64), nullable=False),
            sa.Column("product_id", sa.Unicode(64), nullable=False),
            *_segment_columns(),
            sa.Column("actual_units", sa.Float, nullable=False),
            sa.Column("forecast_units", sa.Float, nullable=False),
            sa.Column("model_version", sa.Unicode(128), nullable=False),
        ),
        sa.Table(
            "model_metrics",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Unicode(64), nullable=False, index=True),
            sa.Column("model_name", sa.Unicode(128), nullable=False),
            sa.Column("model_version", sa.Unicode(128), nullable=False),
            *_segment_columns(),
            sa.Column("model", sa.Unicode(32), nullable=False),  # baseline, lasso, nn, ensemble, champion
            sa.Column("mape", sa.Float),
            # sum |error| / sum actual, and sum forecast / sum actual - 1 (demand_forecast.metrics)
            sa.Column("wape", sa.Float),
            sa.Column("bias", sa.Float),
            sa.Column("rmse", sa.Float),
            sa.Column("rmse_zero_actual", sa.Float),
            sa.Column("n", sa.Integer),
            sa.Column("n_zero_actual", sa.Integer),
            sa.Column("target_mape", sa.Float, nullable=False),
            sa.Column("holdout_start", sa.Date),
            sa.Column("holdout_end", sa.Date),
            sa.Column("promoted", sa.Boolean),
        ),
        sa.Table(
            "model_health",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Unicode(64), nullable=False, index=True),
            sa.Column("as_of", sa.Date, nullable=False),
            sa.Column("model_name", sa.Unicode(128), nullable=False),
            sa.Column("model_version", sa.Unicode(128), nullable=False),
            sa.Column("trained_at", sa.DateTime),
            sa.Column("age_days", sa.Integer),
            sa.Column("stale", sa.Boolean, nullable=False),
            sa.Column("stale_after_days", sa.Integer),
            sa.Column("drift_alert", sa.Boolean, nullable=False),
            sa.Column("max_psi", sa.Float),
            sa.Column("recent_mape", sa.Float),
            sa.Column("recent_wape", sa.Float),
            sa.Column("recent_bias", sa.Float),
            sa.Column("recent_weeks", sa.Integer),
        ),
        sa.Table(
            "data_quality",
            metadata,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Unicode(64), nullable=False, index=True),
            sa.Column("file_name", sa.Unicode(256), nullable=False),
            sa.Column("rows_in", sa.Integer, nullable=False),
            sa.Column("rows_out", sa.Integer, nullable=False),
            sa.Column("quarantined", sa.Integer, nullable=False),
        ),
    ]
    by_name = {table.name: table for table in tables}
    return ReportingTables(schema, metadata, by_name)


@cache
def reporting_tables(schema: str | None) -> ReportingTables:
    """The schema's tables in `schema` (Azure SQL: "reporting") or in SQLite's main database (None)."""
    return _build(schema)


def _latest_succeeded(t: ReportingTables, pipeline: str) -> sa.Select[Any]:
    runs = t["pipeline_runs"]
    latest = runs.alias(f"latest_{pipeline}")
    newest = (
        sa.select(sa.func.max(latest.c.finished_at))
        .where(latest.c.pipeline == pipeline, latest.c.status == "succeeded")
        .scalar_subquery()
    )
    return sa.select(runs.c.run_id).where(
        runs.c.pipeline == pipeline, runs.c.status == "succeeded", runs.c.finished_at == newest
    )


def view_selects(t: ReportingTables) -> dict[str, sa.Select[Any]]:
    """Each view as a select, so every dialect gets SQL it understands (no hand-written T-SQL).

    Long because it is a declarative table: one select per view that Power BI reads, by name."""
    forecasts, backtest, metrics = t["forecasts"], t["backtest"], t["model_metrics"]
    health, runs, steps, quality = t["model_health"], t["pipeline_runs"], t["step_runs"], t["data_quality"]
    return {
        # Power BI shows the forecasts of the latest successful scoring run only.
        "v_forecasts": sa.select(
            forecasts.c.week_start,
            forecasts.c.store_id,
            forecasts.c.product_id,
            forecasts.c.region,
            forecasts.c.store_format,
            forecasts.c.segment,
            forecasts.c.segment_label,
            forecasts.c.forecast_units,
            forecasts.c.model_name,
            forecasts.c.model_version,
            forecasts.c.run_id,
        ).where(forecasts.c.run_id.in_(_latest_succeeded(t, "scoring"))),
        # Forecasts against actuals as they arrive: every run's backtest weeks, with its run's date.
        "v_backtest": sa.select(
            backtest.c.run_id,
            runs.c.pipeline,
            runs.c.finished_at.label("run_finished_at"),
            backtest.c.source,
            backtest.c.week_start,
            backtest.c.store_id,
            backtest.c.product_id,
            backtest.c.segment,
            backtest.c.segment_label,
            backtest.c.actual_units,
            backtest.c.forecast_units,
            backtest.c.model_version,
        ).join_from(backtest, runs, backtest.c.run_id == runs.c.run_id),
        # One row per training run x model x segment: MAPE per model version over time.
        "v_model_metrics": sa.select(
            metrics.c.run_id,
            runs.c.finished_at.label("run_finished_at"),
            metrics.c.model_name,
            metrics.c.model_version,
            metrics.c.segment,
            metrics.c.segment_label,
            metrics.c.model,
            metrics.c.mape,
            metrics.c.wape,
            metrics.c.bias,
            metrics.c.rmse,
            metrics.c.rmse_zero_actual,
            metrics.c.n,
            metrics.c.target_mape,
            sa.case((metrics.c.mape <= metrics.c.target_mape, 1), else_=0).label("meets_target"),
            metrics.c.holdout_start,
            metrics.c.holdout_end,
            metrics.c.promoted,
        ).join_from(metrics, runs, metrics.c.run_id == runs.c.run_id),
        "v_model_health": sa.select(
            health.c.as_of,
            health.c.model_name,
            health.c.model_version,
            health.c.trained_at,
            health.c.age_days,
            health.c.stale,
            health.c.stale_after_days,
            health.c.drift_alert,
            health.c.max_psi,
            health.c.recent_mape,
            health.c.recent_wape,
            health.c.recent_bias,
            health.c.recent_weeks,
            health.c.run_id,
        ),
        "v_pipeline_runs": sa.select(
            runs.c.run_id,
            runs.c.pipeline,
            runs.c.status,
            runs.c.started_at,
            runs.c.finished_at,
            runs.c.model_version,
            runs.c.detail,
        ),
        "v_step_runs": sa.select(
            steps.c.run_id,
            steps.c.pipeline,
            steps.c.step,
            steps.c.outcome,
            steps.c.started_at,
            steps.c.duration_seconds,
        ),
        "v_data_quality": sa.select(
            quality.c.run_id,
            runs.c.pipeline,
            runs.c.finished_at.label("run_finished_at"),
            quality.c.file_name,
            quality.c.rows_in,
            quality.c.rows_out,
            quality.c.quarantined,
        ).join_from(quality, runs, quality.c.run_id == runs.c.run_id),
    }


class CreateView(ExecutableDDLElement):
    """`CREATE VIEW` that replaces an existing view of the same name (each dialect says it its own way)."""

    inherit_cache = False

    def __init__(self, qualified_name: str, select: sa.Select[Any]):
        self.qualified_name = qualified_name
        self.select = select


@compiles(CreateView, "mssql")
def _create_view_mssql(element: CreateView, compiler: Any, **kw: Any) -> str:
    body = compiler.sql_compiler.process(element.select, literal_binds=True)
    return f"CREATE OR ALTER VIEW {element.qualified_name} AS {body}"


@compiles(CreateView)
def _create_view_default(element: CreateView, compiler: Any, **kw: Any) -> str:
    body = compiler.sql_compiler.process(element.select, literal_binds=True)
    return f"CREATE VIEW {element.qualified_name} AS {body}"


def view_statements(t: ReportingTables) -> list[CreateView]:
    return [CreateView(t.qualified(name), select) for name, select in view_selects(t).items()]


def segment_label(segment: str) -> str:
    """`north|large|fast` -> `north · large stores · fast movers`; `overall` and odd values stay as is."""
    parts = segment.split("|")
    if len(parts) != 3:
        return segment
    region, store_format, velocity = parts
    return f"{region} · {store_format} stores · {velocity} movers"
