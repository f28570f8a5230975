"""The reporting schema: SQLite locally, T-SQL (mssql dialect) for Azure SQL, contained users."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from stackctl.errors import StackctlError
from stackctl.sql.database import (
    AML_PERMISSIONS,
    ContainedUser,
    contained_user_statements,
    create_sqlite_schema,
    mssql_statements,
    sqlite_engine,
)
from stackctl.sql.schema import TABLES, VIEWS


def test_tsql_ddl_compiles_with_the_mssql_dialect_for_every_table_and_view() -> None:
    statements = mssql_statements([ContainedUser("mlw-forecast-dev", AML_PERMISSIONS)])
    script = "\n".join(statements)
    assert statements[0] == "IF SCHEMA_ID(N'reporting') IS NULL EXEC(N'CREATE SCHEMA reporting')"
    for table in TABLES:
        assert f"IF OBJECT_ID(N'reporting.{table}', N'U') IS NULL CREATE TABLE reporting.{table} (" in script
    for view in VIEWS:
        assert f"CREATE OR ALTER VIEW reporting.{view} AS SELECT" in script
    # T-SQL types and identity columns, not SQLite's
    assert "IDENTITY" in script
    assert "BIT" in script
    assert "LIMIT" not in script


def test_contained_users_are_created_from_entra_and_granted_only_the_reporting_schema() -> None:
    statements = contained_user_statements(ContainedUser("adf-forecast-prod", ("SELECT", "INSERT")))
    assert statements == [
        "IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'adf-forecast-prod') "
        "CREATE USER [adf-forecast-prod] FROM EXTERNAL PROVIDER",
        "GRANT SELECT, INSERT ON SCHEMA::reporting TO [adf-forecast-prod]",
    ]
    assert not any("db_owner" in s or "ALTER ROLE" in s for s in statements)


@pytest.mark.parametrize("name", ["x]; DROP TABLE reporting.forecasts; --", "o'brien", ""])
def test_principal_names_that_could_escape_quoting_are_refused(name: str) -> None:
    with pytest.raises(StackctlError, match="refusing Entra principal name"):
        contained_user_statements(ContainedUser(name, ("SELECT",)))


def test_sqlite_schema_is_idempotent_and_views_select_the_latest_scoring_run(tmp_path: Path) -> None:
    engine = sqlite_engine(tmp_path / "reporting.db")
    assert create_sqlite_schema(engine) == list(TABLES)
    assert create_sqlite_schema(engine) == []
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO reporting.pipeline_runs (run_id, pipeline, status, started_at, finished_at) VALUES "
            "('old', 'scoring', 'succeeded', '2026-01-01 00:00:00', '2026-01-01 00:10:00'),"
            "('new', 'scoring', 'succeeded', '2026-01-08 00:00:00', '2026-01-08 00:10:00'),"
            "('bad', 'scoring', 'failed', '2026-01-09 00:00:00', '2026-01-09 00:10:00')"
        )
        for run in ("old", "new", "bad"):
            conn.execute(
                sa.text(
                    "INSERT INTO reporting.forecasts (run_id, week_start, store_id, product_id, "
                    "forecast_units, model_name, model_version) "
                    "VALUES (:run, '2026-01-12', 'S1', 'P1', 3.0, 'm', 'v')"
                ),
                {"run": run},
            )
        rows = conn.execute(sa.text("SELECT run_id FROM reporting.v_forecasts")).all()
        names = set(sa.inspect(conn).get_view_names(schema="reporting"))
    assert rows == [("new",)]
    assert names == set(VIEWS)


def test_contained_users_by_sid_need_no_directory_lookup() -> None:
    """issue 10 fault 4: WITH SID = <client id bytes>, TYPE = E needs no Directory Readers role."""
    client_id = "00112233-4455-6677-8899-aabbccddeeff"
    (create, _grant) = contained_user_statements(
        ContainedUser("mlw-fcst-prod", ("SELECT",), sid_source=client_id, principal_type="E")
    )
    # Guid.ToByteArray() order: the first three groups little-endian, the rest as written.
    assert create.endswith(
        "CREATE USER [mlw-fcst-prod] WITH SID = 0x33221100554477668899AABBCCDDEEFF, TYPE = E"
    )
    assert "EXTERNAL PROVIDER" not in create


@pytest.mark.parametrize(
    ("sid", "kind"), [("not-a-guid", "E"), ("00112233-4455-6677-8899-aabbccddeeff", "Z")]
)
def test_bad_sid_inputs_are_refused(sid: str, kind: str) -> None:
    with pytest.raises(StackctlError, match="refusing"):
        contained_user_statements(
            ContainedUser("adf-fcst-dev", ("SELECT",), sid_source=sid, principal_type=kind)
        )
