"""The reporting database: opening it (SQLite file or Azure SQL with an Entra token), its schema and
migrations. Used by the `publish` step, and by `stackctl deploy` for the DDL.

A database is named by one URL:

* `sqlite:///path/to/reporting.db` (the local stack), tables in SQLite's main database;
* `mssql://<server>.database.windows.net/<database>` (Azure SQL), tables in the `reporting` schema
  (`?schema=validation`: the release validation's own copy of the tables, which Power BI never reads),
  connected through pyodbc and Microsoft ODBC Driver 18 with an Entra access token of the job's
  identity: no user name or password anywhere. The token goes in the pre-connect attribute
  SQL_COPT_SS_ACCESS_TOKEN (1256) as a length-prefixed UTF-16-LE byte string
  (https://learn.microsoft.com/sql/connect/odbc/using-azure-active-directory#authenticating-with-an-access-token,
  https://learn.microsoft.com/azure/azure-sql/database/azure-sql-passwordless-migration-python).
"""

from __future__ import annotations

import re
import sqlite3
import struct
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateIndex, CreateTable

from demand_forecast.credentials import job_credential
from demand_forecast.errors import UsageError
from demand_forecast.reporting.schema import (
    AZURE_SCHEMA,
    AZURE_SCHEMAS,
    MIGRATIONS,
    SCHEMA_VERSION,
    V3_COLUMNS,
    ReportingTables,
    reporting_tables,
    segment_label,
    view_statements,
)

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

# msodbcsql.h: the pre-connect attribute that carries an Entra access token.
SQL_COPT_SS_ACCESS_TOKEN = 1256
AZURE_SQL_SCOPE = "https://database.windows.net/.default"
# Connection-string keywords that msodbcsql refuses beside SQL_COPT_SS_ACCESS_TOKEN (FA005).
_LOGIN_OPTION = re.compile(r"(?:^|;)\s*(UID|PWD|Authentication|Trusted_Connection)\s*=", re.IGNORECASE)
ODBC_DRIVER = "ODBC Driver 18 for SQL Server"
# Columns migration 2 added to tables that version 1 already had.
_V2_COLUMNS = (("forecasts", "segment_label"), ("model_metrics", "segment_label"))


@dataclass(frozen=True)
class ReportingDatabase:
    url: str
    engine: sa.Engine
    tables: ReportingTables

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


def _token_struct(token: str) -> bytes:
    encoded = token.encode("utf-16-le")
    return struct.pack(f"<I{len(encoded)}s", len(encoded), encoded)


def azure_sql_engine(server_fqdn: str, database: str, credential: TokenCredential) -> sa.Engine:
    """An engine on Azure SQL that authenticates every new connection with a fresh Entra token."""
    try:
        import pyodbc  # noqa: F401
    except ImportError as exc:
        raise UsageError(
            f"connecting to Azure SQL {server_fqdn}/{database} needs pyodbc and Microsoft {ODBC_DRIVER} "
            "(unixODBC plus msodbcsql18); install them in the job's image or on this machine"
        ) from exc
    url = sa.URL.create(
        "mssql+pyodbc",
        host=server_fqdn,
        database=database,
        query={"driver": ODBC_DRIVER, "Encrypt": "yes", "TrustServerCertificate": "no"},
    )
    engine = sa.create_engine(url, fast_executemany=True)

    @sa.event.listens_for(engine, "do_connect")
    def _token(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> None:
        cargs[0] = token_connection_string(cargs[0], where=f"{server_fqdn}/{database}")
        token = credential.get_token(AZURE_SQL_SCOPE).token
        cparams["attrs_before"] = {SQL_COPT_SS_ACCESS_TOKEN: _token_struct(token)}

    return engine


def token_connection_string(dsn: str, *, where: str) -> str:
    """The ODBC connection string SQLAlchemy built, made fit for an access token.

    SQLAlchemy's pyodbc dialect adds `Trusted_Connection=Yes` to a URL without a user; its own Azure
    recipe removes it in the `do_connect` hook (sqlalchemy/dialects/mssql/pyodbc.py, "Connecting to
    databases with access tokens"), because msodbcsql refuses a token beside UID, PWD, Authentication
    or Trusted_Connection (error FA005,
    https://learn.microsoft.com/sql/connect/odbc/using-azure-active-directory#authenticating-with-an-access-token).
    Any such option left after that (a later dialect, a URL query) is a UsageError here, naming the
    server, rather than FA005 from the driver."""
    dsn = dsn.replace(";Trusted_Connection=Yes", "")
    login = _LOGIN_OPTION.search(dsn)
    if login:
        raise UsageError(
            f"Azure SQL {where}: the ODBC connection string carries {login.group(1)}= beside the Entra "
            "access token, which ODBC Driver 18 refuses (FA005); remove the user, password, "
            "Authentication or Trusted_Connection option from the reporting database URL"
        )
    return dsn


def open_database(url: str, credential: TokenCredential | None = None) -> ReportingDatabase:
    """The reporting database named by `url` (see the module docstring); a bad URL is a UsageError."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        path = url.split(":///", 1)[-1]
        if not path or path == url:
            raise UsageError(f"reporting database {url!r}: write sqlite:///path/to/reporting.db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return ReportingDatabase(url, sa.create_engine(f"sqlite:///{path}"), reporting_tables(None))
    if parts.scheme == "mssql":
        database = parts.path.strip("/")
        if not parts.hostname or not database or "@" in parts.netloc:
            raise UsageError(
                f"reporting database {url!r}: write mssql://<server>.database.windows.net/<database> "
                "(no user or password: the job authenticates with its Entra identity)"
            )
        schema = _azure_schema(url, parts.query)
        engine = azure_sql_engine(parts.hostname, database, credential or job_credential())
        return ReportingDatabase(url, engine, reporting_tables(schema))
    raise UsageError(
        f"reporting database {url!r} is neither sqlite:///<file> nor mssql://<server>/<database>"
    )


def _azure_schema(url: str, query: str) -> str:
    """The schema an Azure SQL URL names: `reporting` unless `?schema=` names another one deploy creates."""
    options = parse_qs(query, keep_blank_values=True)
    unknown = sorted(set(options) - {"schema"})
    schema = options.get("schema", [AZURE_SCHEMA])[-1]
    if unknown or schema not in AZURE_SCHEMAS:
        raise UsageError(
            f"reporting database {url!r}: the only option is ?schema= with one of "
            f"{', '.join(AZURE_SCHEMAS)} (the schemas `stackctl deploy` creates)"
        )
    return schema


def stored_version(conn: sa.Connection, tables: ReportingTables) -> int:
    """The schema version the database holds: 0 empty, 1 the tables before versioning, else recorded."""
    inspector = sa.inspect(conn)
    names = set(inspector.get_table_names(schema=tables.schema))
    if "schema_version" in names:
        recorded = conn.execute(sa.select(sa.func.max(tables["schema_version"].c.version))).scalar()
        return int(recorded or 0)
    return 1 if "pipeline_runs" in names else 0


def require_current(db: ReportingDatabase) -> None:
    """Refuse to publish into a schema older (or newer) than this code's, naming the migration."""
    with db.engine.connect() as conn:
        version = stored_version(conn, db.tables)
    if version == SCHEMA_VERSION:
        return
    where = (
        "the local stack: `stackctl deploy --env local`"
        if db.dialect == "sqlite"
        else ("Azure SQL: `stackctl deploy --env <env>` (it applies the reporting DDL)")
    )
    if version < SCHEMA_VERSION:
        pending = ", ".join(
            f"migration {n} ({MIGRATIONS[n]})" for n in range(version + 1, SCHEMA_VERSION + 1)
        )
        found = "has no reporting schema" if version == 0 else f"is at reporting schema version {version}"
        raise UsageError(
            f"the reporting database {db.url} {found}; this publish step writes version "
            f"{SCHEMA_VERSION}: run {pending} with {where}. Nothing was written."
        )
    raise UsageError(
        f"the reporting database {db.url} is at schema version {version}, newer than this model package "
        f"({SCHEMA_VERSION}): deploy the current model package. Nothing was written."
    )


def _drop_unreadable_v1_views(path: Path) -> None:
    """Version 1 kept its views in a file ATTACHed as `reporting`, so they name `reporting.x`, which
    SQLite refuses to load when the file is opened on its own. Attached again, they can be dropped."""
    if not path.exists():
        return
    conn = sqlite3.connect(":memory:")
    try:
        conn.execute("ATTACH DATABASE ? AS reporting", (str(path),))
        views = [row[0] for row in conn.execute("SELECT name FROM reporting.sqlite_master WHERE type='view'")]
        for view in views:
            conn.execute(f'DROP VIEW reporting."{view}"')
        conn.commit()
    finally:
        conn.close()


def sqlite_engine(path: Path) -> sa.Engine:
    """An engine on a local reporting database file; its tables and views are in the file's main schema."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(f"sqlite:///{path.as_posix()}")


def ensure_sqlite_schema(path: Path) -> list[str]:
    """Create or migrate the local reporting database to SCHEMA_VERSION; returns the tables created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _drop_unreadable_v1_views(path)
    db = open_database(f"sqlite:///{path.as_posix()}")
    tables = db.tables
    with db.engine.begin() as conn:
        version = stored_version(conn, tables)
        existing = set(sa.inspect(conn).get_table_names())
        tables.metadata.create_all(conn, checkfirst=True)
        if version == 1:
            for table, column in _V2_COLUMNS:
                columns = {c["name"] for c in sa.inspect(conn).get_columns(table)}
                if column not in columns:
                    conn.exec_driver_sql(
                        f"ALTER TABLE {table} ADD COLUMN {column} VARCHAR(200) NOT NULL DEFAULT ''"
                    )
                    _backfill_labels(conn, tables[table])
        if 0 < version < 3:
            for table, column in V3_COLUMNS:
                if column not in {c["name"] for c in sa.inspect(conn).get_columns(table)}:
                    conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {column} FLOAT")
        for statement in view_statements(tables):
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS {statement.qualified_name}")
            conn.execute(statement)
        _record_versions(conn, tables)
    return [name for name in tables.tables if name not in existing]


def _backfill_labels(conn: sa.Connection, table: sa.Table) -> None:
    for (segment,) in conn.execute(sa.select(table.c.segment).distinct()).all():
        conn.execute(
            sa.update(table)
            .where(table.c.segment == segment)
            .values(segment_label=segment_label(str(segment)))
        )


def _record_versions(conn: sa.Connection, tables: ReportingTables) -> None:
    table = tables["schema_version"]
    recorded = {int(v) for (v,) in conn.execute(sa.select(table.c.version)).all()}
    now = datetime.now(UTC).replace(tzinfo=None)
    missing = [
        {"version": n, "applied_at": now, "description": MIGRATIONS[n]}
        for n in range(1, SCHEMA_VERSION + 1)
        if n not in recorded
    ]
    if missing:
        conn.execute(sa.insert(table), missing)


def mssql_schema_statements(schema: str = AZURE_SCHEMA) -> list[str]:
    """The T-SQL that creates or migrates one of Azure SQL's reporting schemas (AZURE_SCHEMAS) to
    SCHEMA_VERSION; each statement is idempotent, so `stackctl deploy` runs all of them every time."""
    if schema not in AZURE_SCHEMAS:
        raise UsageError(f"reporting schema {schema!r} is none of {', '.join(AZURE_SCHEMAS)}")
    dialect = mssql.dialect()  # type: ignore[no-untyped-call]
    tables = reporting_tables(schema)
    statements = [f"IF SCHEMA_ID(N'{schema}') IS NULL EXEC(N'CREATE SCHEMA {schema}')"]
    for table in tables.metadata.sorted_tables:
        create = str(CreateTable(table).compile(dialect=dialect)).strip()
        statements.append(f"IF OBJECT_ID(N'{schema}.{table.name}', N'U') IS NULL {create}")
    for table_name, column in _V2_COLUMNS:
        kind = tables[table_name].c[column].type.compile(dialect=dialect)
        statements.append(
            f"IF COL_LENGTH(N'{schema}.{table_name}', N'{column}') IS NULL "
            f"ALTER TABLE {schema}.{table_name} ADD {column} {kind} NOT NULL "
            f"CONSTRAINT df_{table_name}_{column} DEFAULT N''"
        )
    for table_name, column in V3_COLUMNS:
        statements.append(
            f"IF COL_LENGTH(N'{schema}.{table_name}', N'{column}') IS NULL "
            f"ALTER TABLE {schema}.{table_name} ADD {column} FLOAT NULL"
        )
    for table in tables.metadata.sorted_tables:
        for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
            create_index = str(CreateIndex(index).compile(dialect=dialect)).strip()
            # Index names are unique per table, not per database: the same name exists in each schema.
            statements.append(
                f"IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'{index.name}' "  # noqa: S608
                f"AND object_id = OBJECT_ID(N'{schema}.{table.name}')) {create_index}"
            )
    # CREATE OR ALTER VIEW must be alone in its batch, hence EXEC of a literal.
    for view in view_statements(tables):
        body = str(view.compile(dialect=dialect)).replace("'", "''")
        statements.append(f"EXEC(N'{body}')")
    for version in range(1, SCHEMA_VERSION + 1):
        description = MIGRATIONS[version].replace("'", "''")
        statements.append(
            f"IF NOT EXISTS (SELECT 1 FROM {schema}.schema_version WHERE version = {version}) "  # noqa: S608
            f"INSERT INTO {schema}.schema_version (version, applied_at, description) "
            f"VALUES ({version}, SYSUTCDATETIME(), N'{description}')"
        )
    return statements
