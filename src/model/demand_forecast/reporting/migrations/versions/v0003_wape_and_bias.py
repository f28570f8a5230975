"""Version 3: WAPE and volume bias beside every MAPE.

Revision ID: 0003
Revises: 0002

Adds wape and bias to model_metrics, recent_wape and recent_bias to model_health (nullable floats:
the rows written before have none), and records version 3.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from demand_forecast.reporting.migration import column_exists, record_version

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

COLUMNS = (
    ("model_metrics", "wape"),
    ("model_metrics", "bias"),
    ("model_health", "recent_wape"),
    ("model_health", "recent_bias"),
)


def upgrade(schema: str | None) -> None:
    for table, column in COLUMNS:
        if not column_exists(table, column, schema):
            op.add_column(table, sa.Column(column, sa.Float, nullable=True), schema=schema)
    record_version(3, schema)


def downgrade(schema: str | None) -> None:
    raise NotImplementedError("the reporting schema is only upgraded")
