"""Creating the reporting schema: SQLite for the local stack, T-SQL for Azure SQL (Entra token auth)."""

from __future__ import annotations

import re
import struct
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql
from sqlalchemy.schema import CreateIndex, CreateTable

from stackctl.errors import StackctlError
from stackctl.sql.schema import SCHEMA, TABLES, VIEWS, metadata, view_statements

# SQL Server's pre-connect attribute that carries an Entra access token (msodbcsql docs).
SQL_COPT_SS_ACCESS_TOKEN = 1256
AZURE_SQL_SCOPE = "https://database.windows.net/.default"

# Entra display names: letters, digits, space and - _ . ( ); anything else could break out of [..].
_PRINCIPAL_NAME = re.compile(r"^[A-Za-z0-9 _.()\-]{1,128}$")


@dataclass(frozen=True)
class ContainedUser:
    """A database user for an Entra identity, with the least it needs on the reporting schema.

    `sid_source` is the GUID whose bytes become the user's SID: the application (client) id of a
    managed identity or service principal (`principal_type` "E"), or the object id of a group
    ("X"). With it the user is created `WITH SID = ..., TYPE = ...`, which needs no directory
    lookup, so the SQL server's identity needs no Directory Readers role; without it, `FROM
    EXTERNAL PROVIDER` (the server looks the name up in Microsoft Graph).
    https://learn.microsoft.com/sql/t-sql/statements/create-user-transact-sql?view=azuresqldb-current
    """

    display_name: str
    permissions: tuple[str, ...]
    sid_source: str | None = None
    principal_type: str = "E"


# AML jobs write forecasts, metrics and health; Data Factory records its pipeline runs and reads back.
AML_PERMISSIONS = ("SELECT", "INSERT", "UPDATE", "DELETE")
ADF_PERMISSIONS = ("SELECT", "INSERT", "UPDATE")


def sqlite_engine(path: Path) -> sa.Engine:
    """A SQLite engine whose `reporting` schema is the file at `path` (ATTACH gives SQLite schemas)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine("sqlite://")
    attach = f"ATTACH DATABASE '{path.as_posix()}' AS {SCHEMA}"

    @sa.event.listens_for(engine, "connect")
    def _attach(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(attach)

    return engine


def create_sqlite_schema(engine: sa.Engine) -> list[str]:
    """Create missing tables and (re)create the views; returns the tables that were new."""
    with engine.begin() as conn:
        existing = set(sa.inspect(conn).get_table_names(schema=SCHEMA))
        metadata.create_all(conn, checkfirst=True)
        for statement in view_statements():
            conn.exec_driver_sql(f"DROP VIEW IF EXISTS {SCHEMA}.{statement.name}")
            conn.execute(statement)
    return [name for name in TABLES if name not in existing]


def _quote_principal(name: str) -> str:
    if not _PRINCIPAL_NAME.match(name):
        raise StackctlError(
            f"refusing Entra principal name {name!r}: it has characters that are not allowed in a user name",
            where="stack.sql.aad_principals (terraform output `stack`)",
            fix="use the identity's display name (letters, digits, space, - _ . ( ))",
        )
    return "[" + name.replace("]", "]]") + "]"


def _sid_clause(user: ContainedUser) -> str:
    """`WITH SID = 0x..., TYPE = E|X` from the GUID's bytes in SQL Server's (little-endian) order."""
    try:
        guid = uuid.UUID(str(user.sid_source))
    except ValueError as exc:
        raise StackctlError(
            f"refusing SID source {user.sid_source!r} for {user.display_name!r}: it is not a GUID",
            where="stack.sql.aad_principal_sids (terraform output `stack`)",
            fix="pass the identity's client id (managed identity) or object id (group)",
        ) from exc
    if user.principal_type not in ("E", "X"):
        raise StackctlError(
            f"refusing principal type {user.principal_type!r} for {user.display_name!r}",
            where="stack.sql.aad_principal_sids (terraform output `stack`)",
            fix="use E (managed identity, service principal, user) or X (group)",
        )
    return f"WITH SID = 0x{guid.bytes_le.hex().upper()}, TYPE = {user.principal_type}"


def contained_user_statements(user: ContainedUser) -> list[str]:
    quoted = _quote_principal(user.display_name)
    literal = user.display_name.replace("'", "''")
    grants = ", ".join(user.permissions)
    # The name passed _quote_principal's allow-list, so formatting it into T-SQL is safe.
    exists = f"SELECT 1 FROM sys.database_principals WHERE name = N'{literal}'"  # noqa: S608
    return [
        f"IF NOT EXISTS ({exists}) CREATE USER {quoted} "
        + (_sid_clause(user) if user.sid_source else "FROM EXTERNAL PROVIDER"),
        f"GRANT {grants} ON SCHEMA::{SCHEMA} TO {quoted}",
    ]


def mssql_statements(users: list[ContainedUser]) -> list[str]:
    """The whole T-SQL deployment, each statement idempotent so deploy can run it every time."""
    dialect = mssql.dialect()  # type: ignore[no-untyped-call]
    statements = [f"IF SCHEMA_ID(N'{SCHEMA}') IS NULL EXEC(N'CREATE SCHEMA {SCHEMA}')"]
    for table in metadata.sorted_tables:
        create = str(CreateTable(table).compile(dialect=dialect)).strip()
        statements.append(f"IF OBJECT_ID(N'{SCHEMA}.{table.name}', N'U') IS NULL {create}")
        for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
            create_index = str(CreateIndex(index).compile(dialect=dialect)).strip()
            statements.append(
                f"IF NOT EXISTS (SELECT 1 FROM sys.indexes WHERE name = N'{index.name}') {create_index}"  # noqa: S608
            )
    # CREATE OR ALTER VIEW must be alone in its batch, hence EXEC of a literal.
    for view in view_statements():
        body = str(view.compile(dialect=dialect)).replace("'", "''")
        statements.append(f"EXEC(N'{body}')")
    for user in users:
        statements.extend(contained_user_statements(user))
    return statements


def azure_sql_engine(server_fqdn: str, database: str, credential: Any) -> sa.Engine:
    """An engine on Azure SQL that authenticates every connection with a fresh Entra token."""
    try:
        import pyodbc  # noqa: F401
    except ImportError as exc:
        raise StackctlError(
            "deploying the reporting schema to Azure SQL needs pyodbc and Microsoft ODBC Driver 18",
            where=f"{server_fqdn}/{database}",
            fix="install Microsoft's `msodbcsql18` (it brings unixODBC; pyodbc comes with make setup), "
            "then run `make deploy` again, or deploy without SQL: make deploy ARGS=--skip-sql",
        ) from exc
    url = sa.URL.create(
        "mssql+pyodbc",
        host=server_fqdn,
        database=database,
        query={"driver": "ODBC Driver 18 for SQL Server", "Encrypt": "yes", "TrustServerCertificate": "no"},
    )
    engine = sa.create_engine(url)

    @sa.event.listens_for(engine, "do_connect")
    def _token(_dialect: Any, _record: Any, _cargs: Any, cparams: dict[str, Any]) -> None:
        token = credential.get_token(AZURE_SQL_SCOPE).token.encode("utf-16-le")
        cparams["attrs_before"] = {
            SQL_COPT_SS_ACCESS_TOKEN: struct.pack(f"<I{len(token)}s", len(token), token)
        }

    return engine


def run_statements(engine: sa.Engine, statements: list[str]) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)


__all__ = ["SCHEMA", "TABLES", "VIEWS", "ContainedUser", "mssql_statements", "sqlite_engine"]
