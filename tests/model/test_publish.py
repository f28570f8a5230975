"""The publish step: real step outputs into the reporting database, idempotent, all-or-nothing,
refusing an outdated schema; a database any SQLite client opens; the T-SQL it runs for Azure SQL."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from demand_forecast.cli import main
from demand_forecast.errors import ExitStatus, UsageError
from demand_forecast.publish import PublishInputs, publish
from demand_forecast.reporting.database import open_database, require_current
from demand_forecast.reporting.migration import ensure_sqlite_schema, offline_sql
from demand_forecast.reporting.schema import (
    AZURE_SCHEMA,
    RUN_TABLES,
    SCHEMA_VERSION,
    TABLES,
    VIEWS,
    reporting_tables,
)
from sqlalchemy.dialects import mssql

# Columns version 3 added (migrations/versions/v0003_wape_and_bias.py).
V3_COLUMNS = (
    ("model_metrics", "wape"),
    ("model_metrics", "bias"),
    ("model_health", "recent_wape"),
    ("model_health", "recent_bias"),
)

# A module fixture runs the real model CLI end to end: minutes, so not in `make unit-fast`.
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def scoring_run(sample_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """score + monitor of the sample model (the steps the scoring pipeline runs before publish)."""
    work = tmp_path_factory.mktemp("scoring")
    model, conditioned = sample_run / "model", sample_run / "conditioned"
    assert (
        main(["score", "--model", str(model), "--data", str(conditioned), "--out", str(work / "scored")]) == 0
    )
    assert (
        main(
            [
                "monitor",
                "--model",
                str(model),
                "--data",
                str(conditioned),
                "--out",
                str(work / "monitoring"),
                "--forecasts",
                str(work / "scored" / "forecasts.csv"),
            ]
        )
        == 0
    )
    return {"conditioned": conditioned, "scored": work / "scored", "monitoring": work / "monitoring"}


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "reporting" / "reporting.db"
    ensure_sqlite_schema(path)
    return path


def _publish_scoring(db: Path, run: dict[str, Path], run_id: str, out: Path) -> int:
    return main(
        [
            "publish",
            "--pipeline",
            "scoring",
            "--run-id",
            run_id,
            "--reporting-database",
            f"sqlite:///{db}",
            "--conditioned",
            str(run["conditioned"]),
            "--scored",
            str(run["scored"]),
            "--monitoring",
            str(run["monitoring"]),
            "--out",
            str(out),
        ]
    )


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in RUN_TABLES}  # noqa: S608


def test_scoring_publish_fills_every_table_and_a_rerun_replaces_its_rows(
    database: Path, scoring_run: dict[str, Path], tmp_path: Path
) -> None:
    assert _publish_scoring(database, scoring_run, "scoring-1", tmp_path / "p1") == 0
    first = _counts(database)
    forecasts = sum(1 for _ in (scoring_run["scored"] / "forecasts.csv").open()) - 1
    assert first["forecasts"] == forecasts > 0
    assert first["model_health"] == 1
    assert first["backtest"] > 0
    assert first["data_quality"] >= 2
    # every step that ran wrote its own record (validate, score, monitor)
    assert first["step_runs"] == 3
    summary = json.loads((tmp_path / "p1" / "publish.json").read_text(encoding="utf-8"))
    assert summary["rows"]["forecasts"] == forecasts

    assert _publish_scoring(database, scoring_run, "scoring-1", tmp_path / "p2") == 0
    assert _counts(database) == first  # the same run again: replaced, not duplicated
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM pipeline_runs").fetchone() == (1,)
        labels = {row[0] for row in conn.execute("SELECT DISTINCT segment_label FROM v_forecasts")}
    assert all(" stores · " in label and label.endswith(" movers") for label in labels)


def test_the_reporting_database_opens_in_plain_sqlite_clients(
    database: Path, scoring_run: dict[str, Path], tmp_path: Path
) -> None:
    assert _publish_scoring(database, scoring_run, "scoring-1", tmp_path / "p") == 0
    with sqlite3.connect(database) as conn:  # Python's sqlite3, no ATTACH, no SQLAlchemy
        (count,) = conn.execute("select count(*) from v_forecasts").fetchone()
        for view in VIEWS:
            conn.execute(f"select * from {view}").fetchall()  # noqa: S608
    assert count > 0
    shell = shutil.which("sqlite3")
    if shell:  # the sqlite3 shell, where installed
        proc = subprocess.run(
            [shell, str(database), "select count(*) from v_forecasts"],
            capture_output=True,
            text=True,
            check=True,
        )
        assert int(proc.stdout.strip()) == count


def test_a_failed_publish_fails_the_step_and_keeps_the_previous_rows(
    database: Path, scoring_run: dict[str, Path], tmp_path: Path
) -> None:
    assert _publish_scoring(database, scoring_run, "scoring-1", tmp_path / "ok") == 0
    before = _counts(database)
    broken = dict(scoring_run)
    broken["scored"] = tmp_path / "broken"
    broken["scored"].mkdir()
    text = (scoring_run["scored"] / "forecasts.csv").read_text(encoding="utf-8").splitlines()
    header = text[0].split(",")
    cells = text[3].split(",")
    cells[header.index("forecast_units")] = "nan"
    text[3] = ",".join(cells)
    (broken["scored"] / "forecasts.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    # A NaN in the score step's own output is no fault of the input data (which would quarantine raw):
    # a setup fault under the exit-status table of demand_forecast/errors.py.
    assert _publish_scoring(database, broken, "scoring-1", tmp_path / "bad") == ExitStatus.SETUP_FAULT
    assert _counts(database) == before


def test_a_database_error_mid_publish_rolls_the_whole_run_back(
    database: Path, scoring_run: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    db = open_database(f"sqlite:///{database}")
    inputs = PublishInputs(
        "scoring",
        "scoring-1",
        conditioned=scoring_run["conditioned"],
        scored=scoring_run["scored"],
        monitoring=scoring_run["monitoring"],
    )
    publish(db, inputs)
    before = _counts(database)
    real_insert = sa.insert

    def failing_insert(table: sa.Table) -> sa.Insert:
        if table.name == "model_health":
            raise sa.exc.OperationalError("INSERT", {}, Exception("connection lost"))
        return real_insert(table)

    monkeypatch.setattr("demand_forecast.publish.sa.insert", failing_insert)
    with pytest.raises(sa.exc.OperationalError):
        publish(db, inputs)
    assert _counts(database) == before


def test_publish_into_an_older_schema_names_the_migration_and_writes_nothing(
    tmp_path: Path, scoring_run: dict[str, Path]
) -> None:
    path = tmp_path / "v1.db"
    with sqlite3.connect(path) as conn:  # version 1: pipeline_runs and friends, no schema_version
        conn.execute("CREATE TABLE pipeline_runs (run_id VARCHAR(64) PRIMARY KEY, pipeline VARCHAR(32))")
    db = open_database(f"sqlite:///{path}")
    with pytest.raises(
        UsageError, match=r"schema version 1.*run migration 2 \(adds reporting.step_runs"
    ) as caught:
        require_current(db)
    assert "stackctl deploy --env local" in str(caught.value)
    out = tmp_path / "out"
    assert _publish_scoring(path, scoring_run, "scoring-1", out) == ExitStatus.SETUP_FAULT
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM pipeline_runs").fetchone() == (0,)
    empty = open_database(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(UsageError, match=r"has no reporting schema; .* run migration 1"):
        require_current(empty)


def _version_1_database(path: Path) -> None:
    """What the local stack wrote before this step existed: a file ATTACHed as `reporting`, whose
    views name `reporting.<table>`."""
    conn = sqlite3.connect(":memory:")
    conn.execute("ATTACH DATABASE ? AS reporting", (str(path),))
    conn.execute(
        "CREATE TABLE reporting.pipeline_runs (run_id VARCHAR(64) PRIMARY KEY, "
        "pipeline VARCHAR(32) NOT NULL, status VARCHAR(16) NOT NULL, started_at DATETIME NOT NULL, "
        "finished_at DATETIME, model_name VARCHAR(128), model_version VARCHAR(128), detail VARCHAR(2000))"
    )
    conn.execute(
        "CREATE TABLE reporting.forecasts (id INTEGER PRIMARY KEY, run_id VARCHAR(64) NOT NULL, "
        "week_start DATE NOT NULL, store_id VARCHAR(64) NOT NULL, product_id VARCHAR(64) NOT NULL, "
        "region VARCHAR(64), store_format VARCHAR(32), segment VARCHAR(160), forecast_units FLOAT NOT NULL, "
        "model_name VARCHAR(128) NOT NULL, model_version VARCHAR(128) NOT NULL)"
    )
    conn.execute("CREATE VIEW reporting.v_forecasts AS SELECT * FROM reporting.forecasts")
    conn.execute(
        "INSERT INTO reporting.forecasts (run_id, week_start, store_id, product_id, segment, forecast_units, "
        "model_name, model_version) VALUES ('old', '2026-01-05', 'S1', 'P1', 'north|large|fast', 3, 'm', 'v')"
    )
    conn.commit()
    conn.close()


def test_a_version_1_local_database_is_migrated_into_one_plain_clients_open(tmp_path: Path) -> None:
    path = tmp_path / "reporting.db"
    _version_1_database(path)
    with pytest.raises(sqlite3.DatabaseError, match="malformed database schema"):  # the reported bug
        sqlite3.connect(path).execute("select count(*) from v_forecasts").fetchone()
    created = ensure_sqlite_schema(path)
    assert "step_runs" in created
    assert "forecasts" not in created
    with sqlite3.connect(path) as conn:
        assert conn.execute("select segment_label from forecasts").fetchall() == [
            ("north · large stores · fast movers",)
        ]
        assert conn.execute("select max(version) from schema_version").fetchone() == (SCHEMA_VERSION,)
    require_current(open_database(f"sqlite:///{path}"))
    assert ensure_sqlite_schema(path) == []  # idempotent


def test_a_version_2_local_database_gains_wape_and_bias_beside_mape(tmp_path: Path) -> None:
    path = tmp_path / "reporting.db"
    ensure_sqlite_schema(path)
    with sqlite3.connect(path) as conn:  # back to version 2: no volume metrics yet
        for (view,) in conn.execute("SELECT name FROM sqlite_master WHERE type='view'").fetchall():
            conn.execute(f'DROP VIEW "{view}"')
        for table, column in V3_COLUMNS:
            conn.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        conn.execute("DELETE FROM schema_version WHERE version = 3")
        conn.execute("DROP TABLE alembic_version")  # as the hand-written migrations left it
    with pytest.raises(UsageError, match=r"run migration 3 \(adds wape and bias"):
        require_current(open_database(f"sqlite:///{path}"))
    ensure_sqlite_schema(path)
    with sqlite3.connect(path) as conn:
        for view, columns in (
            ("v_model_metrics", ("mape", "wape", "bias")),
            ("v_model_health", ("recent_wape", "recent_bias")),
        ):
            names = {row[1] for row in conn.execute(f"PRAGMA table_info({view})")}
            assert set(columns) <= names
    require_current(open_database(f"sqlite:///{path}"))


def test_the_tsql_of_the_schema_and_of_every_publish_statement_compiles_for_azure_sql() -> None:
    dialect = mssql.dialect()  # type: ignore[no-untyped-call]
    script = offline_sql("mssql", AZURE_SCHEMA)  # Alembic's --sql rendering of the upgrade from empty
    assert "IF SCHEMA_ID(N'reporting') IS NULL EXEC(N'CREATE SCHEMA reporting')" in script
    for table in TABLES:
        assert f"CREATE TABLE reporting.{table} (" in script
    for view in VIEWS:
        assert f"CREATE OR ALTER VIEW reporting.{view} AS SELECT" in script
    assert "ALTER TABLE reporting.forecasts ADD segment_label NVARCHAR(200) NOT NULL DEFAULT ''" in script
    assert "INSERT INTO reporting.schema_version" in script
    assert "LIMIT" not in script
    assert "IDENTITY" in script
    # what publish itself runs: a delete and an insert per table, schema-qualified T-SQL
    tables = reporting_tables(AZURE_SCHEMA)
    for name in (*RUN_TABLES, "pipeline_runs"):
        table = tables[name]
        delete = str(sa.delete(table).where(table.c.run_id == "r").compile(dialect=dialect))
        insert = str(sa.insert(table).compile(dialect=dialect))
        assert delete.startswith(f"DELETE FROM reporting.{name} WHERE reporting.{name}.run_id = ")  # noqa: S608
        assert insert.startswith(f"INSERT INTO reporting.{name} (")
    version = str(sa.select(sa.func.max(tables["schema_version"].c.version)).compile(dialect=dialect))
    assert "FROM reporting.schema_version" in version


def test_database_urls_with_a_password_or_an_unknown_scheme_are_refused() -> None:
    with pytest.raises(UsageError, match="no user or password"):
        open_database("mssql://admin:secret@server.database.windows.net/reporting")
    with pytest.raises(UsageError, match="neither sqlite"):
        open_database("postgresql://server/db")
