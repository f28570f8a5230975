"""The reporting schema, defined once: tables written by the pipelines, views read by Power BI.

The same SQLAlchemy metadata is created on SQLite by the local stack and compiled to T-SQL (mssql
dialect) for Azure SQL by `stackctl deploy`. Views are SQLAlchemy selects, so each dialect gets SQL it
understands (no hand-written T-SQL to drift from the SQLite version).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import ExecutableDDLElement

SCHEMA = "reporting"
TABLES = ("forecasts", "model_metrics", "model_health", "pipeline_runs", "data_quality")
VIEWS = ("v_forecasts", "v_model_metrics", "v_model_health", "v_pipeline_runs")

metadata = sa.MetaData(schema=SCHEMA)

pipeline_runs = sa.Table(
    "pipeline_runs",
    metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("pipeline", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("model_name", sa.String(128)),
    sa.Column("model_version", sa.String(128)),
    sa.Column("detail", sa.String(2000)),
)

forecasts = sa.Table(
    "forecasts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("week_start", sa.Date, nullable=False),
    sa.Column("store_id", sa.String(64), nullable=False),
    sa.Column("product_id", sa.String(64), nullable=False),
    sa.Column("region", sa.String(64)),
    sa.Column("store_format", sa.String(32)),
    sa.Column("segment", sa.String(160)),
    sa.Column("forecast_units", sa.Float, nullable=False),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("model_version", sa.String(128), nullable=False),
)

model_metrics = sa.Table(
    "model_metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("model_version", sa.String(128), nullable=False),
    sa.Column("segment", sa.String(160), nullable=False),  # "overall" or "<region>|<format>|<velocity>"
    sa.Column("model", sa.String(32), nullable=False),  # baseline, lasso, nn, ensemble, champion
    sa.Column("mape", sa.Float),
    sa.Column("rmse", sa.Float),
    sa.Column("rmse_zero_actual", sa.Float),
    sa.Column("n", sa.Integer),
    sa.Column("n_zero_actual", sa.Integer),
    sa.Column("target_mape", sa.Float, nullable=False),
    sa.Column("holdout_start", sa.Date),
    sa.Column("holdout_end", sa.Date),
    sa.Column("promoted", sa.Boolean),
)

model_health = sa.Table(
    "model_health",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("model_name", sa.String(128), nullable=False),
    sa.Column("model_version", sa.String(128), nullable=False),
    sa.Column("trained_at", sa.DateTime),
    sa.Column("age_days", sa.Integer),
    sa.Column("stale", sa.Boolean, nullable=False),
    sa.Column("stale_after_days", sa.Integer),
    sa.Column("drift_alert", sa.Boolean, nullable=False),
    sa.Column("max_psi", sa.Float),
    sa.Column("recent_mape", sa.Float),
    sa.Column("recent_weeks", sa.Integer),
)

data_quality = sa.Table(
    "data_quality",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(64), nullable=False, index=True),
    sa.Column("file_name", sa.String(256), nullable=False),
    sa.Column("rows_in", sa.Integer, nullable=False),
    sa.Column("rows_out", sa.Integer, nullable=False),
    sa.Column("quarantined", sa.Integer, nullable=False),
)


def _latest_succeeded_run(pipeline: str) -> sa.ScalarSelect[Any]:
    runs = pipeline_runs.alias(f"latest_{pipeline}")
    return (
        sa.select(sa.func.max(runs.c.finished_at))
        .where(runs.c.pipeline == pipeline, runs.c.status == "succeeded")
        .scalar_subquery()
    )


def _view_selects() -> dict[str, sa.Select[Any]]:
    latest_scoring = sa.select(pipeline_runs.c.run_id).where(
        pipeline_runs.c.pipeline == "scoring",
        pipeline_runs.c.status == "succeeded",
        pipeline_runs.c.finished_at == _latest_succeeded_run("scoring"),
    )
    return {
        # Power BI shows the forecasts of the latest successful scoring run only.
        "v_forecasts": sa.select(
            forecasts.c.week_start,
            forecasts.c.store_id,
            forecasts.c.product_id,
            forecasts.c.region,
            forecasts.c.store_format,
            forecasts.c.segment,
            forecasts.c.forecast_units,
            forecasts.c.model_name,
            forecasts.c.model_version,
            forecasts.c.run_id,
        ).where(forecasts.c.run_id.in_(latest_scoring)),
        "v_model_metrics": sa.select(
            model_metrics.c.run_id,
            model_metrics.c.model_name,
            model_metrics.c.model_version,
            model_metrics.c.segment,
            model_metrics.c.model,
            model_metrics.c.mape,
            model_metrics.c.rmse,
            model_metrics.c.rmse_zero_actual,
            model_metrics.c.n,
            model_metrics.c.target_mape,
            sa.case((model_metrics.c.mape <= model_metrics.c.target_mape, 1), else_=0).label("meets_target"),
            model_metrics.c.holdout_start,
            model_metrics.c.holdout_end,
            model_metrics.c.promoted,
        ),
        "v_model_health": sa.select(
            model_health.c.as_of,
            model_health.c.model_name,
            model_health.c.model_version,
            model_health.c.trained_at,
            model_health.c.age_days,
            model_health.c.stale,
            model_health.c.drift_alert,
            model_health.c.max_psi,
            model_health.c.recent_mape,
            model_health.c.recent_weeks,
            model_health.c.run_id,
        ),
        "v_pipeline_runs": sa.select(
            pipeline_runs.c.run_id,
            pipeline_runs.c.pipeline,
            pipeline_runs.c.status,
            pipeline_runs.c.started_at,
            pipeline_runs.c.finished_at,
            pipeline_runs.c.model_version,
            pipeline_runs.c.detail,
        ),
    }


class CreateView(ExecutableDDLElement):
    """`CREATE VIEW` that replaces an existing view of the same name (each dialect says it its own way)."""

    inherit_cache = False

    def __init__(self, name: str, select: sa.Select[Any]):
        self.name = name
        self.select = select


@compiles(CreateView, "mssql")
def _create_view_mssql(element: CreateView, compiler: Any, **kw: Any) -> str:
    body = compiler.sql_compiler.process(element.select, literal_binds=True)
    return f"CREATE OR ALTER VIEW {SCHEMA}.{element.name} AS {body}"


@compiles(CreateView)
def _create_view_default(element: CreateView, compiler: Any, **kw: Any) -> str:
    body = compiler.sql_compiler.process(element.select, literal_binds=True)
    return f"CREATE VIEW {SCHEMA}.{element.name} AS {body}"


def view_statements() -> list[CreateView]:
    return [CreateView(name, select) for name, select in _view_selects().items()]
