"""Alembic's environment for the reporting schema (https://alembic.sqlalchemy.org/en/latest/tutorial.html).

Run only through `demand_forecast.reporting.migration`, which hands it, in `config.attributes`:

* `schema`: the namespace of the tables (None: SQLite's main database; Azure SQL: one of AZURE_SCHEMAS);
  Alembic's own `alembic_version` table lives in the same namespace, so `reporting` and `validation`
  each keep their own revision;
* `connection` (online: migrate that database) or `dialect` and `buffer` (offline `--sql` mode: write
  the DDL a database at `start` needs, for review, without connecting).

The views hold no data and always show the head schema: after the revisions ran, each view is
replaced (SQLite: DROP + CREATE, Azure SQL: CREATE OR ALTER), as the hand-written migrations did.
"""

from __future__ import annotations

from alembic import context
from demand_forecast.reporting.schema import reporting_tables, view_statements

config = context.config
AZURE_SQL_VERSION = (12, 0, 2000, 8)
schema: str | None = config.attributes.get("schema")
tables = reporting_tables(schema)


def _create_schema() -> None:
    """Azure SQL: the schema must exist before Alembic's version table is created in it."""
    if schema is not None and context.get_context().dialect.name == "mssql":
        context.execute(f"IF SCHEMA_ID(N'{schema}') IS NULL EXEC(N'CREATE SCHEMA {schema}')")


def _replace_views() -> None:
    dialect = context.get_context().dialect.name
    for view in view_statements(tables):
        if dialect == "mssql":  # CREATE OR ALTER VIEW must be alone in its batch, hence EXEC
            body = str(view.compile(dialect=context.get_context().dialect)).replace("'", "''")
            context.execute(f"EXEC(N'{body}')")
        else:
            context.execute(f"DROP VIEW IF EXISTS {view.qualified_name}")
            context.execute(view)


def _run() -> None:
    with context.begin_transaction():
        _create_schema()
        context.run_migrations(schema=schema)
        _replace_views()


if context.is_offline_mode():
    context.configure(
        dialect_name=config.attributes["dialect"],
        output_buffer=config.attributes["buffer"],
        literal_binds=True,
        target_metadata=tables.metadata,
        version_table_schema=schema,
    )
    if config.attributes["dialect"] == "mssql":
        # Offline there is no server to ask its version, and SQLAlchemy's mssql dialect then writes DATE
        # as DATETIME (SQL Server before 2008). Azure SQL Database reports 12.0.2000.8
        # (https://learn.microsoft.com/sql/t-sql/functions/serverproperty-transact-sql), as online.
        context.get_context().dialect.server_version_info = AZURE_SQL_VERSION
else:
    context.configure(
        connection=config.attributes["connection"],
        target_metadata=tables.metadata,
        version_table_schema=schema,
    )
_run()
