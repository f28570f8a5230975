"""The reporting schema's migrations, run by Alembic (https://alembic.sqlalchemy.org): the revisions
ship inside this package (`migrations/versions`, found through the package resource
`demand_forecast.reporting:migrations`, so the wheel carries them) and run the same on SQLite (the
local stack, `ensure_sqlite_schema`) and on Azure SQL (`stackctl deploy`, `upgrade_schema`).

The schema's version stays in the database as before (`schema_version`, one row per version, which
`require_current` reads); Alembic's own `alembic_version` table beside it holds the revision, and
version N is revision "000N" (`revision_id`). Each revision writes its own schema_version row.

A database written before Alembic has no `alembic_version`. Its version (`stored_version`) maps onto a
revision before the upgrade:

* version 0 (empty) and version 1 (tables, no schema_version: written before versioning, not always
  with all five tables) are not stamped: the revisions run from the start, and revision 0001 creates
  only the version-1 tables that are missing;
* version 2 or 3 is stamped at revision "0002" / "0003" (`alembic stamp`), then upgraded to head.
* a version newer than this package's head is refused (deploy the current model package).

Offline (`offline_sql`, Alembic's `--sql` mode) renders the DDL of a given start version for a dialect
without connecting: what a reviewer reads for Azure SQL. It renders every step of each revision
(offline nothing can be looked up), and leaves out revision 0002's backfill of segment labels from
existing rows, which needs the rows.
"""

from __future__ import annotations

import io
from pathlib import Path

import sqlalchemy as sa
from alembic import command, op
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.script.revision import RevisionError
from alembic.util.exc import CommandError

from demand_forecast.errors import UsageError
from demand_forecast.reporting.database import (
    drop_unreadable_v1_views,
    open_database,
    stored_version,
)
from demand_forecast.reporting.schema import (
    AZURE_SCHEMAS,
    MIGRATIONS,
    SCHEMA_VERSION,
    reporting_tables,
    segment_label,
)

SCRIPT_LOCATION = "demand_forecast.reporting:migrations"
ALEMBIC_VERSION_TABLE = "alembic_version"


def revision_id(version: int) -> str:
    """The Alembic revision of schema version `version` (3 -> "0003")."""
    return f"{version:04d}"


def alembic_config(schema: str | None, **attributes: object) -> Config:
    """Alembic's configuration without an alembic.ini: the packaged scripts, `schema` and `attributes`
    (`connection`, or `dialect` and `buffer`) for migrations/env.py."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes.update(schema=schema, **attributes)
    return config


def head_version() -> int:
    """The version the packaged revisions end at (equals SCHEMA_VERSION; a test checks it)."""
    head = ScriptDirectory.from_config(alembic_config(None)).get_current_head()
    return int(head or 0)


def upgrade_schema(conn: sa.Connection, schema: str | None) -> list[str]:
    """Bring the reporting tables in `schema` (None: SQLite's main database) to the head revision on an
    open connection, stamping a database written before Alembic first; the revisions applied.

    Raises UsageError for a database newer than this package (its version or its revision unknown)."""
    config = alembic_config(schema, connection=conn)
    script = ScriptDirectory.from_config(config)
    context = MigrationContext.configure(conn, opts={"version_table_schema": schema})
    current = context.get_current_revision()
    if current is None:
        legacy = stored_version(conn, reporting_tables(schema))
        _refuse_newer(legacy, where=schema)
        if legacy >= 2:
            context.stamp(script, revision_id(legacy))
            current = revision_id(legacy)
    try:
        pending = [rev.revision for rev in script.iterate_revisions("head", current)]
        command.upgrade(config, "head")
    except (CommandError, RevisionError) as exc:
        raise UsageError(
            f"the reporting database (schema {schema or 'main'}) is at revision {current}, which this "
            f"model package does not know ({exc}): deploy the current model package. Nothing was changed."
        ) from exc
    return sorted(pending)


def _refuse_newer(version: int, *, where: str | None) -> None:
    if version > SCHEMA_VERSION:
        raise UsageError(
            f"the reporting database (schema {where or 'main'}) is at schema version {version}, newer than "
            f"this model package ({SCHEMA_VERSION}): deploy the current model package. Nothing was changed."
        )


def ensure_sqlite_schema(path: Path) -> list[str]:
    """Create or migrate the local reporting database to SCHEMA_VERSION; returns the tables created,
    in TABLES order (none when it was current: idempotent)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    drop_unreadable_v1_views(path)
    db = open_database(f"sqlite:///{path.as_posix()}")
    with db.engine.begin() as conn:
        existing = set(sa.inspect(conn).get_table_names())
        upgrade_schema(conn, None)
    return [name for name in db.tables.tables if name not in existing]


def offline_sql(dialect: str, schema: str | None, start: int = 0) -> str:
    """The DDL that brings a database at version `start` (0: empty) to head, rendered by Alembic's
    offline mode for `dialect` ("mssql", "sqlite") without a database; `schema` is one of
    AZURE_SCHEMAS for Azure SQL (UsageError otherwise)."""
    if dialect == "mssql" and schema not in AZURE_SCHEMAS:
        raise UsageError(f"reporting schema {schema!r} is none of {', '.join(AZURE_SCHEMAS)}")
    buffer = io.StringIO()
    config = alembic_config(schema, dialect=dialect, buffer=buffer)
    target = f"{revision_id(start)}:head" if start else "head"
    command.upgrade(config, target, sql=True)
    return buffer.getvalue()


# --- helpers the revisions use (migrations/versions): online they look, offline they render ---


def _offline() -> bool:
    return bool(op.get_context().as_sql)


def table_exists(name: str, schema: str | None) -> bool:
    """Whether the database holds table `name` (offline: False, so the revision renders it)."""
    return not _offline() and sa.inspect(op.get_bind()).has_table(name, schema=schema)


def column_exists(table: str, column: str, schema: str | None) -> bool:
    """Whether `table` has `column` (offline: False, so the revision renders it)."""
    if _offline():
        return False
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table, schema=schema)}


def record_version(version: int, schema: str | None) -> None:
    """Write version `version`'s row into schema_version unless it is there (a database stamped at a
    version recorded it already); applied_at is the server's CURRENT_TIMESTAMP (UTC on SQLite and Azure
    SQL)."""
    table = reporting_tables(schema)["schema_version"]
    if not _offline():
        recorded = op.get_bind().execute(sa.select(table.c.version).where(table.c.version == version))
        if recorded.first() is not None:
            return
    op.execute(
        sa.insert(table).values(version=version, applied_at=sa.func.now(), description=MIGRATIONS[version])
    )


def backfill_segment_labels(name: str, schema: str | None) -> None:
    """Fill segment_label from segment for the rows a version-1 table holds (online only: offline
    there are no rows to read)."""
    if _offline():
        return
    table = reporting_tables(schema)[name]
    conn = op.get_bind()
    for (segment,) in conn.execute(sa.select(table.c.segment).distinct()).all():
        conn.execute(
            sa.update(table)
            .where(table.c.segment == segment)
            .values(segment_label=segment_label(str(segment)))
        )
