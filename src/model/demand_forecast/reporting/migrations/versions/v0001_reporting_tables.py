"""Version 1: the first five tables (created by stackctl before publish was a step).

Revision ID: 0001
Revises: (none)

Version-1 databases predate versioning and were written by stackctl's `create_all`, not always
with all five tables: they are not stamped, this revision runs on them and creates only the tables
that are missing (offline, it renders every table). The views are replaced after every upgrade
(migrations/env.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from demand_forecast.reporting.migration import table_exists

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _v1_tables() -> dict[str, list[sa.Column[object]]]:
    """The tables as version 1 had them: no segment labels, no WAPE or bias.

    Long because it is that version's schema, frozen: one column list per table, read as a whole."""
    return {
        "pipeline_runs": [
            sa.Column("run_id", sa.Unicode(64), primary_key=True),
            sa.Column("pipeline", sa.Unicode(32), nullable=False),
            sa.Column("status", sa.Unicode(16), nullable=False),
            sa.Column("started_at", sa.DateTime, nullable=False),
            sa.Column("finished_at", sa.DateTime),
            sa.Column("model_name", sa.Unicode(128)),
            sa.Column("model_version", sa.Unicode(128)),
            sa.Column("detail", sa.Unicode(2000)),
        ],
        "forecasts": [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Unicode(64), nullable=False),
            sa.Column("week_start", sa.Date, nullable=False),
            sa.Column("store_id", sa.Unicode(64), nullable=False),
            sa.Column("product_id", sa.Unicode(64), nullable=False),
            sa.Column("region", sa.Unicode(64)),
            sa.Column("store_format", sa.Unicode(32)),
            sa.Column("segment", sa.Unicode(160), nullable=False),
            sa.Column("forecast_units", sa.Float, nullable=False),
            sa.Column("model_name", sa.Unicode(128), nullable=False),
            sa.Column("model_version", sa.Unicode(128), nullable=False),
        ],
        "model_metrics": [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Unicode(64), nullable=False),
            sa.Column("model_name", sa.Unicode(128), nullable=False),
            sa.Column("model_version", sa.Unicode(128), nullable=False),
            sa.Column("segment", sa.Unicode(160), nullable=False),
            sa.Column("model", sa.Unicode(32), nullable=False),
            sa.Column("mape", sa.Float),
            sa.Column("rmse", sa.Float),
            sa.Column("rmse_zero_actual", sa.Float),
            sa.Column("n", sa.Integer),
            sa.Column("n_zero_actual", sa.Integer),
            sa.Column("target_mape", sa.Float, nullable=False),
            sa.Column("holdout_start", sa.Date),
            sa.Column("holdout_end", sa.Date),
            sa.Column("promoted", sa.Boolean),
        ],
        "model_health": [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Unicode(64), nullable=False),
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
            sa.Column("recent_weeks", sa.Integer),
        ],
        "data_quality": [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("run_id", sa.Unicode(64), nullable=False),
            sa.Column("file_name", sa.Unicode(256), nullable=False),
            sa.Column("rows_in", sa.Integer, nullable=False),
            sa.Column("rows_out", sa.Integer, nullable=False),
            sa.Column("quarantined", sa.Integer, nullable=False),
        ],
    }


def upgrade(schema: str | None) -> None:
    for name, columns in _v1_tables().items():
        if table_exists(name, schema):
            continue
        op.create_table(name, *columns, schema=schema)
        if name != "pipeline_runs":
            op.create_index(f"ix_{name}_run_id", name, ["run_id"], schema=schema)
    # schema_version arrives with version 2, which records this version too.


def downgrade(schema: str | None) -> None:
    raise NotImplementedError("the reporting schema is only upgraded")
