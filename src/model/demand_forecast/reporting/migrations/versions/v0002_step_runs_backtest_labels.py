"""Version 2: step_runs, backtest, schema_version and segment labels.

Revision ID: 0002
Revises: 0001

Adds the tables step_runs, backtest and schema_version, the segment_label column of forecasts and
model_metrics (filled from the segment for the rows version 1 holds), and records versions 1 and 2 in
schema_version. The views v_step_runs, v_data_quality and v_backtest come with the views' replacement
after the upgrade (migrations/env.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from demand_forecast.reporting.migration import (
    backfill_segment_labels,
    column_exists,
    record_version,
    table_exists,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _new_tables() -> dict[str, list[sa.Column[object]]]:
    return {
        "schema_version": [
            sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("applied_at", sa.DateTime, nullable=False),
            sa.Column("description", sa.Unicode(400), nullable=False),
        ],
        "step_runs": [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Unicode(64), nullable=False),
            sa.Column("pipeline", sa.Unicode(32), nullable=False),
            sa.Column("step", sa.Unicode(32), nullable=False),
            sa.Column("outcome", sa.Unicode(16), nullable=False),
            sa.Column("started_at", sa.DateTime, nullable=False),
            sa.Column("duration_seconds", sa.Float, nullable=False),
        ],
        "backtest": [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Unicode(64), nullable=False),
            sa.Column("source", sa.Unicode(16), nullable=False),
            sa.Column("week_start", sa.Date, nullable=False),
            sa.Column("store_id", sa.Unicode(64), nullable=False),
            sa.Column("product_id", sa.Unicode(64), nullable=False),
            sa.Column("segment", sa.Unicode(160), nullable=False),
            sa.Column("segment_label", sa.Unicode(200), nullable=False),
            sa.Column("actual_units", sa.Float, nullable=False),
            sa.Column("forecast_units", sa.Float, nullable=False),
            sa.Column("model_version", sa.Unicode(128), nullable=False),
        ],
    }


def upgrade(schema: str | None) -> None:
    for name, columns in _new_tables().items():
        if not table_exists(name, schema):
            op.create_table(name, *columns, schema=schema)
            if name != "schema_version":
                op.create_index(f"ix_{name}_run_id", name, ["run_id"], schema=schema)
    for name in ("forecasts", "model_metrics"):
        if not column_exists(name, "segment_label", schema):
            label = sa.Column("segment_label", sa.Unicode(200), nullable=False, server_default="")
            op.add_column(name, label, schema=schema)
            backfill_segment_labels(name, schema)
    record_version(1, schema)
    record_version(2, schema)


def downgrade(schema: str | None) -> None:
    raise NotImplementedError("the reporting schema is only upgraded")
