"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}

The reporting schema's version N is revision "000N"; the revision writes its row into schema_version
(demand_forecast.reporting.migration explains the mapping).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
${imports if imports else ""}

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = None
depends_on = None


def upgrade(schema: str | None) -> None:
    ${upgrades if upgrades else "pass"}


def downgrade(schema: str | None) -> None:
    raise NotImplementedError("the reporting schema is only upgraded")
