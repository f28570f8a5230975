"""What `stackctl deploy` runs on Azure SQL: the reporting schemas' Alembic migrations (the revisions live
with the rest of the reporting database, `demand_forecast.reporting.migration`), then the contained
users and their grants.

Contained users (https://learn.microsoft.com/sql/t-sql/statements/create-user-transact-sql): each Entra
identity that reaches the database gets a user of its own, created `FROM EXTERNAL PROVIDER WITH
OBJECT_ID` so SQL resolves it by object id, not by a display name that need not be unique
(https://learn.microsoft.com/azure/azure-sql/database/authentication-azure-ad-logins-tutorial), and is
granted only what it does on the `reporting` schema:

* the CPU compute cluster's managed identity, which runs the `publish` step: SELECT (the schema
  version, the rows of a run), INSERT and DELETE (a rerun replaces its run's rows); never UPDATE,
  ALTER or any role;
* Data Factory's identity (its linked service `ls_reporting_sql`): SELECT on the schema;
* the Power BI Entra group: SELECT on the views only, never on the tables (the views are owned by the
  schema's owner, so ownership chaining lets them read the tables underneath).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from demand_forecast.reporting.migration import upgrade_schema
from demand_forecast.reporting.schema import AZURE_SCHEMA, AZURE_SCHEMAS, VALIDATION_SCHEMA, VIEWS

from stackctl.errors import StackctlError

# User names: letters, digits, space and - _ . ( ) /; anything else could break out of [..].
_PRINCIPAL_NAME = re.compile(r"^[A-Za-z0-9 _.()/\-]{1,128}$")


@dataclass(frozen=True)
class ContainedUser:
    """A database user for an Entra identity and what it may do on the reporting schema.

    `schema_permissions` are granted ON SCHEMA::reporting; `validation_permissions` ON
    SCHEMA::validation (release validation's copy of the tables, issue 22 item 8); `view_select` grants
    SELECT on each view of `reporting` only. `sid_source` is the GUID whose bytes become the user's SID:
    the application (client) id of a managed identity or service principal (`principal_type` "E"), or
    the object id of a group ("X"). With it the user is created `WITH SID = ..., TYPE = ...`, which
    needs no directory lookup, so the SQL server's identity needs no Directory Readers role; without it,
    `FROM EXTERNAL PROVIDER` (the server looks the name up in Microsoft Graph).
    https://learn.microsoft.com/sql/t-sql/statements/create-user-transact-sql?view=azuresqldb-current

    `previous_names` are names this user had before (dropped if present, whatever their SID): a user
    renamed in the stack output must not leave its old user, with its grants, behind.
    """

    display_name: str
    schema_permissions: tuple[str, ...] = ()
    sid_source: str | None = None
    principal_type: str = "E"
    view_select: bool = False
    previous_names: tuple[str, ...] = ()
    validation_permissions: tuple[str, ...] = ()


# The publish step (compute cluster identity): read the schema version and a run's rows, replace them.
JOB_PERMISSIONS = ("SELECT", "INSERT", "DELETE")
# Data Factory reads the reporting schema through its linked service; it writes nothing there.
ADF_PERMISSIONS = ("SELECT",)


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
    return f"WITH SID = {_sid_literal(guid)}, TYPE = {user.principal_type}"


def _sid_literal(guid: uuid.UUID) -> str:
    """The SID as a T-SQL binary literal: the GUID's bytes in SQL Server's (little-endian) order."""
    return f"0x{guid.bytes_le.hex().upper()}"


def contained_user_statements(user: ContainedUser) -> list[str]:
    quoted = _quote_principal(user.display_name)
    literal = user.display_name.replace("'", "''")
    create = f"CREATE USER {quoted} " + (_sid_clause(user) if user.sid_source else "FROM EXTERNAL PROVIDER")
    # The name passed _quote_principal's allow-list, so formatting it into T-SQL is safe.
    exists = f"SELECT 1 FROM sys.database_principals WHERE name = N'{literal}'"  # noqa: S608
    statements = []
    for previous in user.previous_names:
        if previous != user.display_name:
            old_literal = previous.replace("'", "''")
            statements.append(
                f"IF EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'{old_literal}') "  # noqa: S608
                f"DROP USER {_quote_principal(previous)}"
            )
    if user.sid_source:
        _sid_clause(user)  # validates the GUID and the type first
        sid = _sid_literal(uuid.UUID(str(user.sid_source)))
        # A renamed user (same identity, so same SID, under another name): CREATE USER ... WITH SID
        # would fail (a SID maps to one user of a database), so the user under its other name is
        # dropped and created anew (its grants follow below). Its name is not known in advance, so
        # the DROP is dynamic SQL with QUOTENAME.
        # https://learn.microsoft.com/sql/t-sql/functions/quotename-transact-sql
        statements.append(
            f"DECLARE @renamed sysname = (SELECT name FROM sys.database_principals "  # noqa: S608
            f"WHERE sid = {sid} AND name <> N'{literal}'); "
            "IF @renamed IS NOT NULL EXEC(N'DROP USER ' + QUOTENAME(@renamed))"
        )
        # A recreated identity (a replaced cluster, a new factory) keeps its name but gets a new SID:
        # the old user would lock it out while deploy reported success, so a name with another SID
        # is dropped and created anew (its grants follow below).
        stale = f"{exists} AND sid <> {sid}"
        statements.append(f"IF EXISTS ({stale}) DROP USER {quoted}")
    statements.append(f"IF NOT EXISTS ({exists}) {create}")
    if user.schema_permissions:
        statements.append(f"GRANT {', '.join(user.schema_permissions)} ON SCHEMA::{AZURE_SCHEMA} TO {quoted}")
    if user.validation_permissions:
        granted = ", ".join(user.validation_permissions)
        statements.append(f"GRANT {granted} ON SCHEMA::{VALIDATION_SCHEMA} TO {quoted}")
    if user.view_select:
        statements += [f"GRANT SELECT ON {AZURE_SCHEMA}.{view} TO {quoted}" for view in VIEWS]
    return statements


def users_statements(users: list[ContainedUser]) -> list[str]:
    """The contained users' T-SQL, each statement idempotent so deploy can run it every time, after
    `migrate_reporting_schemas` made the schemas the grants name."""
    return [statement for user in users for statement in contained_user_statements(user)]


def migrate_reporting_schemas(engine: sa.Engine) -> dict[str, list[str]]:
    """Upgrade each of Azure SQL's reporting schemas (AZURE_SCHEMAS: `reporting` Power BI reads,
    `validation` release validation writes) to the head Alembic revision, each in a transaction of its
    own; the revisions applied per schema (none when current).

    Raises UsageError (demand_forecast.errors) for a schema newer than this model package."""
    applied: dict[str, list[str]] = {}
    for schema in AZURE_SCHEMAS:
        with engine.begin() as conn:
            applied[schema] = upgrade_schema(conn, schema)
    return applied


def run_statements(engine: sa.Engine, statements: list[str]) -> None:
    with engine.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
