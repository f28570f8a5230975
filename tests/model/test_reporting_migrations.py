"""The reporting schema's Alembic migrations (demand_forecast.reporting.migration): a database at every
older version, made by the revisions or left by the hand-written migrations before them, upgrades to
exactly what a fresh create of the schema gives (judged by SQLAlchemy's inspection and Alembic's own
comparison), and the T-SQL of Azure SQL renders offline (Alembic's --sql mode, mssql dialect)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from demand_forecast.errors import UsageError
from demand_forecast.reporting import migration as migration_module
from demand_forecast.reporting.database import open_database, require_current
from demand_forecast.reporting.migration import (
    alembic_config,
    ensure_sqlite_schema,
    head_version,
    offline_sql,
    revision_id,
)
from demand_forecast.reporting.schema import (
    AZURE_SCHEMAS,
    MIGRATIONS,
    SCHEMA_VERSION,
    TABLES,
    VIEWS,
    reporting_tables,
    view_statements,
)
from sqlalchemy.dialects import mssql

V3_COLUMNS = (
    ("model_metrics", "wape"),
    ("model_metrics", "bias"),
    ("model_health", "recent_wape"),
    ("model_health", "recent_bias"),
)


def _engine(path: Path) -> sa.Engine:
    return sa.create_engine(f"sqlite:///{path.as_posix()}")


def _shape(path: Path) -> dict[str, Any]:
    """Tables (columns with type and nullability, indexes, primary key) and views' columns, by name;
    Alembic's own bookkeeping table left out."""
    engine = _engine(path)
    inspector = sa.inspect(engine)
    tables = {}
    for name in inspector.get_table_names():
        if name == "alembic_version":
            continue
        columns = {c["name"]: (str(c["type"]), c["nullable"]) for c in inspector.get_columns(name)}
        indexes = sorted((str(i["name"]), tuple(i["column_names"])) for i in inspector.get_indexes(name))
        primary = tuple(inspector.get_pk_constraint(name)["constrained_columns"])
        tables[name] = (columns, indexes, primary)
    views = {v: [c["name"] for c in inspector.get_columns(v)] for v in inspector.get_view_names()}
    engine.dispose()
    return {"tables": tables, "views": views}


def _fresh_create(path: Path) -> None:
    """The schema as schema.py declares it: create_all and the views, no migration involved."""
    tables = reporting_tables(None)
    engine = _engine(path)
    with engine.begin() as conn:
        tables.metadata.create_all(conn)
        for view in view_statements(tables):
            conn.execute(view)
    engine.dispose()


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("fresh") / "fresh.db"
    _fresh_create(path)
    return _shape(path)


def _upgrade_to(path: Path, version: int) -> None:
    engine = _engine(path)
    with engine.begin() as conn:
        command.upgrade(alembic_config(None, connection=conn), revision_id(version))
    engine.dispose()


def _versions(path: Path) -> tuple[list[int], str]:
    with sqlite3.connect(path) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        (revision,) = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return versions, revision


def _alembic_differences(path: Path) -> list[Any]:
    engine = _engine(path)
    with engine.connect() as conn:
        differences: list[Any] = compare_metadata(
            MigrationContext.configure(conn), reporting_tables(None).metadata
        )
    engine.dispose()
    return differences


def test_the_revisions_are_the_schema_versions() -> None:
    script = ScriptDirectory.from_config(alembic_config(None))
    revisions = sorted(rev.revision for rev in script.walk_revisions())
    assert revisions == [revision_id(n) for n in range(1, SCHEMA_VERSION + 1)]
    assert head_version() == SCHEMA_VERSION
    assert sorted(MIGRATIONS) == list(range(1, SCHEMA_VERSION + 1))
    # the revisions ship inside the package: Alembic finds them through the package resource
    assert Path(script.dir) == Path(migration_module.__file__).parent / "migrations"


@pytest.mark.parametrize("start", range(SCHEMA_VERSION + 1))
def test_a_database_at_each_version_upgrades_to_what_a_fresh_create_gives(
    tmp_path: Path, fresh: dict[str, Any], start: int
) -> None:
    path = tmp_path / "reporting.db"
    if start:
        _upgrade_to(path, start)
    if start < SCHEMA_VERSION:  # publish refuses it, naming the migration, until deploy upgrades it
        with pytest.raises(UsageError, match=rf"run migration {start + 1} .*Nothing was written"):
            require_current(open_database(f"sqlite:///{path}"))
    ensure_sqlite_schema(path)
    assert _shape(path) == fresh
    assert _alembic_differences(path) == []
    assert _versions(path) == (list(range(1, SCHEMA_VERSION + 1)), revision_id(SCHEMA_VERSION))
    require_current(open_database(f"sqlite:///{path}"))


def _legacy(path: Path, version: int) -> None:
    """What the hand-written migrations left at `version` (2 or 3): the tables at that version and its
    schema_version rows, no alembic_version."""
    _fresh_create(path)
    with sqlite3.connect(path) as conn:
        for (view,) in conn.execute("SELECT name FROM sqlite_master WHERE type='view'").fetchall():
            conn.execute(f'DROP VIEW "{view}"')
        if version < 3:
            for table, column in V3_COLUMNS:
                conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.executemany(
            "INSERT INTO schema_version VALUES (?, ?, ?)",
            [(n, datetime(2026, 1, 1), MIGRATIONS[n]) for n in range(1, version + 1)],
        )


@pytest.mark.parametrize("version", [2, 3])
def test_a_database_from_before_alembic_is_stamped_at_its_version_then_upgraded(
    tmp_path: Path, fresh: dict[str, Any], version: int
) -> None:
    path = tmp_path / "reporting.db"
    _legacy(path, version)
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO model_metrics (run_id, model_name, model_version, segment, segment_label, model, "
            "target_mape) VALUES ('kept', 'm', '1', 'overall', 'overall', 'ensemble', 0.45)"
        )
    created = ensure_sqlite_schema(path)
    assert created == []
    assert _shape(path) == fresh
    assert _alembic_differences(path) == []
    versions, revision = _versions(path)
    assert (versions, revision) == (list(range(1, SCHEMA_VERSION + 1)), revision_id(SCHEMA_VERSION))
    with sqlite3.connect(path) as conn:  # the rows are kept; the stamped versions keep their dates
        assert conn.execute("SELECT run_id FROM model_metrics").fetchall() == [("kept",)]
        dates = dict(conn.execute("SELECT version, applied_at FROM schema_version").fetchall())
    assert all(str(dates[n]).startswith("2026-01-01") for n in range(1, version + 1))


def test_a_version_1_database_from_before_versioning_gains_the_missing_tables_and_labels(
    tmp_path: Path, fresh: dict[str, Any]
) -> None:
    path = tmp_path / "reporting.db"
    with sqlite3.connect(path) as conn:  # two of the five version-1 tables, one labelled row to keep
        conn.execute(
            "CREATE TABLE pipeline_runs (run_id VARCHAR(64) PRIMARY KEY, pipeline VARCHAR(32) NOT NULL, "
            "status VARCHAR(16) NOT NULL, started_at DATETIME NOT NULL, finished_at DATETIME, "
            "model_name VARCHAR(128), model_version VARCHAR(128), detail VARCHAR(2000))"
        )
        conn.execute(
            "CREATE TABLE forecasts (id INTEGER PRIMARY KEY, run_id VARCHAR(64) NOT NULL, week_start DATE "
            "NOT NULL, store_id VARCHAR(64) NOT NULL, product_id VARCHAR(64) NOT NULL, region VARCHAR(64), "
            "store_format VARCHAR(32), segment VARCHAR(160) NOT NULL, forecast_units FLOAT NOT NULL, "
            "model_name VARCHAR(128) NOT NULL, model_version VARCHAR(128) NOT NULL)"
        )
        conn.execute(
            "INSERT INTO forecasts (run_id, week_start, store_id, product_id, segment, forecast_units, "
            "model_name, model_version) "
            "VALUES ('old', '2026-01-05', 'S1', 'P1', 'south|small|slow', 2, 'm', 'v')"
        )
    created = ensure_sqlite_schema(path)
    assert set(created) == set(TABLES) - {"pipeline_runs", "forecasts"}
    migrated = _shape(path)
    assert migrated["views"] == fresh["views"]
    assert {t: set(c[0]) for t, c in migrated["tables"].items()} == {
        t: set(c[0]) for t, c in fresh["tables"].items()
    }
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT segment_label FROM forecasts").fetchall() == [
            ("south · small stores · slow movers",)
        ]
    assert _versions(path) == (list(range(1, SCHEMA_VERSION + 1)), revision_id(SCHEMA_VERSION))


def test_a_database_newer_than_the_package_is_refused_and_left_alone(tmp_path: Path) -> None:
    newer = tmp_path / "newer.db"
    _legacy(newer, SCHEMA_VERSION)
    with sqlite3.connect(newer) as conn:
        conn.execute(
            "INSERT INTO schema_version VALUES (?, ?, 'from a later package')",
            (SCHEMA_VERSION + 1, datetime(2026, 2, 1)),
        )
    with pytest.raises(
        UsageError, match=rf"schema version {SCHEMA_VERSION + 1}, newer than this model package"
    ):
        ensure_sqlite_schema(newer)
    unknown = tmp_path / "unknown.db"
    ensure_sqlite_schema(unknown)
    with sqlite3.connect(unknown) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(UsageError, match="revision 0099, which this model package does not know"):
        ensure_sqlite_schema(unknown)
    with sqlite3.connect(unknown) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("0099",)]


def test_the_offline_sqlite_script_builds_what_a_fresh_create_gives(
    tmp_path: Path, fresh: dict[str, Any]
) -> None:
    path = tmp_path / "offline.db"
    with sqlite3.connect(path) as conn:
        conn.executescript(offline_sql("sqlite", None))
    assert _shape(path) == fresh


@pytest.mark.parametrize("schema", AZURE_SCHEMAS)
def test_the_azure_sql_ddl_renders_offline_for_every_column_of_the_schema(schema: str) -> None:
    dialect = mssql.dialect()  # type: ignore[no-untyped-call]
    dialect.server_version_info = (12, 0, 2000, 8)  # type: ignore[assignment]  # Azure SQL Database
    script = offline_sql("mssql", schema)
    assert script.startswith("BEGIN TRANSACTION;")
    assert f"IF SCHEMA_ID(N'{schema}') IS NULL EXEC(N'CREATE SCHEMA {schema}')" in script.split("GO")[0]
    assert f"CREATE TABLE {schema}.alembic_version" in script
    tables = reporting_tables(schema)
    for table in tables.tables.values():
        assert f"CREATE TABLE {schema}.{table.name} (" in script
        for column in table.columns:
            kind = column.type.compile(dialect=dialect)
            added = f"ALTER TABLE {schema}.{table.name} ADD {column.name} {kind}"
            assert f"    {column.name} {kind}" in script or added in script, (table.name, column.name)
    for view in VIEWS:
        assert f"EXEC(N'CREATE OR ALTER VIEW {schema}.{view} AS SELECT" in script
    for version in range(1, SCHEMA_VERSION + 1):
        assert (
            f"INSERT INTO {schema}.schema_version (version, applied_at, description) VALUES ({version}, "  # noqa: S608
            in script
        )
    head = revision_id(SCHEMA_VERSION)
    assert f"UPDATE {schema}.alembic_version SET version_num='{head}'" in script  # noqa: S608
    assert "week_start DATE NOT NULL" in script  # Azure SQL's DATE, not SQL Server 2005's DATETIME
    assert "LIMIT" not in script


def test_the_azure_sql_upgrade_from_version_2_only_adds_version_3() -> None:
    script = offline_sql("mssql", "reporting", start=2)
    assert "CREATE TABLE" not in script
    for table, column in V3_COLUMNS:
        assert f"ALTER TABLE reporting.{table} ADD {column} FLOAT NULL" in script
    assert "VALUES (3, CURRENT_TIMESTAMP" in script
    assert "VALUES (2, " not in script
    with pytest.raises(UsageError, match="none of reporting, validation"):
        offline_sql("mssql", "dbo")


def test_deploy_migrates_each_azure_schema_in_its_own_transaction(tmp_path: Path) -> None:
    """stackctl's deploy path (migrate_reporting_schemas) on SQLite, with the Azure schemas as attached
    databases: the revisions run per schema and say what they applied."""
    from stackctl.sql.users import migrate_reporting_schemas

    engine = _engine(tmp_path / "main.db")

    @sa.event.listens_for(engine, "connect")
    def _attach(dbapi_connection: Any, _record: Any) -> None:
        for schema in AZURE_SCHEMAS:
            dbapi_connection.execute(f"ATTACH DATABASE '{tmp_path / schema}.db' AS {schema}")

    assert migrate_reporting_schemas(engine) == {s: ["0001", "0002", "0003"] for s in AZURE_SCHEMAS}
    assert migrate_reporting_schemas(engine) == {s: [] for s in AZURE_SCHEMAS}
    engine.dispose()
