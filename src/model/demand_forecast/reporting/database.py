"""The reporting database: opening it (SQLite file or Azure SQL with an Entra token) and the schema
version it holds. Used by the `publish` step (which refuses an outdated schema, `require_current`); the
migrations that bring a database to the current version are Alembic's (`reporting.migration`).

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
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import sqlalchemy as sa

from demand_forecast.credentials import job_credential
from demand_forecast.errors import UsageError
from demand_forecast.reporting.schema import (
    AZURE_SCHEMA,
    AZURE_SCHEMAS,
    MIGRATIONS,
    SCHEMA_VERSION,
    ReportingTables,
    reporting_tables,
)

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

# msodbcsql.h: the pre-connect attribute that carries an Entra access token.
SQL_COPT_SS_ACCESS_TOKEN = 1256
AZURE_SQL_SCOPE = "https://database.windows.net/.default"
# Connection-string keywords that msodbcsql refuses beside SQL_COPT_SS_ACCESS_TOKEN (FA005).
_LOGIN_OPTION = re.compile(r"(?:^|;)\s*(UID|PWD|Authentication|Trusted_Connection)\s*=", re.IGNORECASE)
ODBC_DRIVER = "ODBC Driver 18 for SQL Server"


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


def drop_unreadable_v1_views(path: Path) -> None:
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
