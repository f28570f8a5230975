"""The reporting schema from stackctl's side: the T-SQL deploy runs, contained users with least
privilege, the local SQLite file; and (azure) the rows the smoke run's publish step wrote."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from demand_forecast.reporting.database import azure_sql_engine, sqlite_engine
from demand_forecast.reporting.migration import ensure_sqlite_schema, offline_sql
from demand_forecast.reporting.schema import TABLES, VIEWS
from rich.console import Console

from stackctl.aml.stack_output import load_stack_file
from stackctl.cloud_stack import deploy_assets
from stackctl.errors import StackctlError
from stackctl.sql.users import (
    ADF_PERMISSIONS,
    JOB_PERMISSIONS,
    ContainedUser,
    contained_user_statements,
)

REPO = Path(__file__).resolve().parents[2]
STACK = Path(__file__).parent / "data" / "stack_output_dev.json"
JOBS = ContainedUser(
    "id-forecast-dev-jobs", JOB_PERMISSIONS, sid_source="33333333-3333-3333-3333-333333333333"
)
OLD_JOBS_NAME = "mlw-forecast-dev/computes/cpu-batch"


def test_tsql_ddl_compiles_with_the_mssql_dialect_for_every_table_and_view() -> None:
    script = offline_sql("mssql", "reporting")  # what deploy's Alembic upgrade runs on an empty database
    assert "IF SCHEMA_ID(N'reporting') IS NULL EXEC(N'CREATE SCHEMA reporting')" in script.split("GO")[0]
    for table in TABLES:
        assert f"CREATE TABLE reporting.{table} (" in script
    for view in VIEWS:
        assert f"CREATE OR ALTER VIEW reporting.{view} AS SELECT" in script
    assert "IDENTITY" in script
    assert "BIT" in script
    assert "LIMIT" not in script


def test_the_jobs_identity_may_replace_rows_and_nothing_more() -> None:
    statements = contained_user_statements(JOBS)
    assert statements == [
        "DECLARE @renamed sysname = (SELECT name FROM sys.database_principals "
        "WHERE sid = 0x33333333333333333333333333333333 AND name <> N'id-forecast-dev-jobs'); "
        "IF @renamed IS NOT NULL EXEC(N'DROP USER ' + QUOTENAME(@renamed))",
        "IF EXISTS (SELECT 1 FROM sys.database_principals "
        "WHERE name = N'id-forecast-dev-jobs' AND sid <> 0x33333333333333333333333333333333) "
        "DROP USER [id-forecast-dev-jobs]",
        "IF NOT EXISTS (SELECT 1 FROM sys.database_principals "
        "WHERE name = N'id-forecast-dev-jobs') "
        "CREATE USER [id-forecast-dev-jobs] "
        "WITH SID = 0x33333333333333333333333333333333, TYPE = E",
        "GRANT SELECT, INSERT, DELETE ON SCHEMA::reporting TO [id-forecast-dev-jobs]",
    ]
    assert not any(word in " ".join(statements) for word in ("UPDATE", "ALTER", "db_owner", "CONTROL"))


def test_the_power_bi_group_reads_the_views_only() -> None:
    group = ContainedUser(
        "pbi-readers", sid_source="44444444-4444-4444-4444-444444444444", principal_type="X", view_select=True
    )
    statements = contained_user_statements(group)
    assert "@renamed" in statements[0]
    assert statements[1].startswith("IF EXISTS (")
    assert statements[1].endswith("DROP USER [pbi-readers]")
    assert statements[2].endswith(
        "CREATE USER [pbi-readers] WITH SID = 0x44444444444444444444444444444444, TYPE = X"
    )
    grants = statements[3:]
    assert grants == [f"GRANT SELECT ON reporting.{view} TO [pbi-readers]" for view in VIEWS]
    assert not any("SCHEMA::" in s for s in grants)


def test_deploy_creates_the_cluster_adf_and_power_bi_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    executed: list[str] = []

    class NoAml:
        def deploy(self, assets: object) -> object:
            raise AssertionError("not reached")

    monkeypatch.setattr(
        "stackctl.aml.environment.write_build_contexts", lambda root, out, base=None: {"cpu": out, "gpu": out}
    )
    monkeypatch.setattr("stackctl.aml.environment.environment_version", lambda root: "0" * 16)

    class Report:
        no_changes = True
        unchanged: tuple[str, ...] = ()
        created: tuple[str, ...] = ()

    monkeypatch.setattr("stackctl.aml.deployer.AmlDeployer.deploy", lambda self, assets: Report())
    deploy_assets(
        load_stack_file(STACK),
        "dev",
        REPO,
        Console(quiet=True),
        client=object(),
        sql_executor=executed.extend,
        schema_migrator=lambda: {"reporting": [], "validation": []},
        image_importer=dict,
    )
    users = [s for s in executed if "CREATE USER" in s]
    assert len(users) == 3
    # Named after the job identity (stack.job_identity.name), no longer after the cpu cluster.
    assert "CREATE USER [id-forecast-dev-jobs] WITH SID = 0x33333333" in users[0]
    # A database deployed before holds the user under the cluster's name: it is dropped, before
    # the user is created under the identity's name (a SID maps to one user).
    drop_old = (
        "IF EXISTS (SELECT 1 FROM sys.database_principals "
        "WHERE name = N'mlw-forecast-dev/computes/cpu-batch') "
        "DROP USER [mlw-forecast-dev/computes/cpu-batch]"
    )
    assert drop_old in executed
    assert executed.index(drop_old) < executed.index(users[0])
    assert not any(f"TO [{OLD_JOBS_NAME}]" in s for s in executed)
    assert users[2].endswith(", TYPE = X")  # the Power BI group, by its object id
    assert not any("EXTERNAL PROVIDER" in s for s in users)  # no directory lookup needed
    assert "[adf-forecast-dev]" in users[1]
    assert f"GRANT {', '.join(ADF_PERMISSIONS)} ON SCHEMA::reporting TO [adf-forecast-dev]" in executed
    assert "GRANT SELECT ON reporting.v_forecasts TO [pbi-forecast-readers]" in executed
    # the workspace identity (the jobs do not run as it) gets no user any more
    assert not any("[mlw-forecast-dev]" in s for s in executed)


@pytest.mark.parametrize("name", ["x]; DROP TABLE reporting.forecasts; --", "o'brien", ""])
def test_principal_names_that_could_escape_quoting_are_refused(name: str) -> None:
    with pytest.raises(StackctlError, match="refusing Entra principal name"):
        contained_user_statements(ContainedUser(name, ("SELECT",)))


def test_sid_sources_must_be_guids() -> None:
    with pytest.raises(StackctlError, match="not a GUID"):
        contained_user_statements(ContainedUser("x", ("SELECT",), sid_source="1' OR 1=1 --"))


def test_sqlite_schema_is_idempotent_and_views_select_the_latest_scoring_run(tmp_path: Path) -> None:
    path = tmp_path / "reporting.db"
    assert ensure_sqlite_schema(path) == list(TABLES)
    assert ensure_sqlite_schema(path) == []
    engine = sqlite_engine(path)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO pipeline_runs (run_id, pipeline, status, started_at, finished_at) VALUES "
            "('old', 'scoring', 'succeeded', '2026-01-01 00:00:00', '2026-01-01 00:10:00'),"
            "('new', 'scoring', 'succeeded', '2026-01-08 00:00:00', '2026-01-08 00:10:00'),"
            "('bad', 'scoring', 'failed', '2026-01-09 00:00:00', '2026-01-09 00:10:00')"
        )
        for run in ("old", "new", "bad"):
            conn.execute(
                sa.text(
                    "INSERT INTO forecasts (run_id, week_start, store_id, product_id, segment, "
                    "segment_label, forecast_units, model_name, model_version) "
                    "VALUES (:run, '2026-01-12', 'S1', 'P1', 'overall', 'overall', 3.0, 'm', 'v')"
                ),
                {"run": run},
            )
        rows = conn.execute(sa.text("SELECT run_id FROM v_forecasts")).all()
        names = set(sa.inspect(conn).get_view_names())
    assert rows == [("new",)]
    assert names == set(VIEWS)


def test_contained_users_by_sid_need_no_directory_lookup() -> None:
    """issue 10 fault 4: WITH SID = <client id bytes>, TYPE = E needs no Directory Readers role."""
    client_id = "00112233-4455-6677-8899-aabbccddeeff"
    (_drop_renamed, _drop_stale, create, _grant) = contained_user_statements(
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


@pytest.mark.azure
def test_deploy_left_both_reporting_schemas_readable_in_azure_sql() -> None:
    """Release pipeline, after `make apply` (before model validation): deploy created both reporting
    schemas at SCHEMA_VERSION with every view readable. No rows are expected here: on a first release
    nothing has published yet, dev's weekly trigger is off, and the release's own run publishes only
    into the `validation` schema, which test_model_validation reads back after that run (review-23 B4)."""
    from azure_target import target_environment
    from demand_forecast.reporting.schema import AZURE_SCHEMAS, SCHEMA_VERSION, VIEWS

    from stackctl.aml.azure import azure_credential

    env = target_environment()
    stack = load_stack_file(REPO / "build" / env / "stack.json")
    engine = azure_sql_engine(stack.sql.server_fqdn, stack.sql.database_name, azure_credential())
    with engine.connect() as conn:
        for schema in AZURE_SCHEMAS:
            # schema and view names are this package's constants, not input
            query = f"SELECT max(version) FROM {schema}.schema_version"  # noqa: S608
            version = conn.execute(sa.text(query)).scalar_one()
            assert version == SCHEMA_VERSION, (schema, version)
            for view in VIEWS:
                conn.execute(sa.text(f"SELECT TOP 1 * FROM {schema}.{view}")).all()  # noqa: S608


def test_a_recreated_identity_replaces_its_stale_user() -> None:
    """A replaced cluster keeps its name but not its SID: the old user is dropped, not kept."""
    _renamed, drop, create, grant = contained_user_statements(JOBS)
    assert drop.startswith("IF EXISTS (")
    assert " AND sid <> 0x" in drop
    assert drop.endswith("DROP USER [id-forecast-dev-jobs]")
    assert "CREATE USER" in create
    assert grant.startswith("GRANT ")


def test_a_renamed_user_is_dropped_under_its_other_name_before_it_is_created() -> None:
    """The same identity (SID) under another name would make CREATE USER ... WITH SID fail; the
    statements drop whatever user holds the SID under another name, then create it anew."""
    statements = contained_user_statements(JOBS)
    renamed = next(s for s in statements if "@renamed" in s)
    assert "WHERE sid = 0x33333333333333333333333333333333 AND name <> N'id-forecast-dev-jobs'" in renamed
    assert "QUOTENAME(@renamed)" in renamed  # the unknown old name is quoted by SQL Server itself
    create = next(s for s in statements if "CREATE USER" in s)
    assert statements.index(renamed) < statements.index(create)


def test_previous_names_must_be_valid_principal_names() -> None:
    bad = ContainedUser("id-jobs", JOB_PERMISSIONS, previous_names=("x]; DROP TABLE t; --",))
    with pytest.raises(StackctlError, match="refusing Entra principal name"):
        contained_user_statements(bad)
