"""A run that fails before its publish step still reaches the reporting database, as failed.

Fault (Azure review): only the local stack published failed runs (it re-ran publish after the fact);
in AML a failed step ended the pipeline job and nothing wrote its row, so v_pipeline_runs and the
alerts saw successes only. The failing step now records the run itself, from the environment both
executors give every step (stackctl.aml.specs.job_environment, stackctl.local.executor).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from demand_forecast import cli
from demand_forecast.cli import main
from demand_forecast.errors import ExitStatus
from demand_forecast.reporting.migration import ensure_sqlite_schema
from demand_forecast.telemetry import STEP_RUNS, TELEMETRY_DIR_ENV, read_local_metrics

# What stackctl sets on every step (demand_forecast.publish names them; spelled out so the contract
# is visible here).
PIPELINE_ENV = "DEMAND_FORECAST_PIPELINE"
REPORTING_DATABASE_ENV = "REPORTING_DATABASE_URL"
RUN_ID_ENV = "DEMAND_FORECAST_RUN_ID"


@pytest.fixture(scope="module")
def conditioned(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("failed-run") / "conditioned"
    assert main(["validate", "--data", str(tiny_data), "--out", str(out)]) == 0
    return out


@pytest.fixture
def pipeline_step(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment of a step of the scoring pipeline, as deploy and the local runner set it."""
    database = tmp_path / "reporting.db"
    ensure_sqlite_schema(database)
    monkeypatch.setenv(PIPELINE_ENV, "scoring")
    monkeypatch.setenv(REPORTING_DATABASE_ENV, f"sqlite:///{database.as_posix()}")
    monkeypatch.setenv(RUN_ID_ENV, "scoring-run-7")
    monkeypatch.setenv(TELEMETRY_DIR_ENV, str(tmp_path / "telemetry"))
    return database


def _rows(database: Path, query: str) -> list[tuple[object, ...]]:
    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as conn:
        return [tuple(row) for row in conn.exec_driver_sql(query).all()]


def test_a_step_that_crashes_records_its_run_as_failed_with_its_outcome(
    pipeline_step: Path, conditioned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_: object) -> None:
        raise RuntimeError("the scoring node lost its disk")

    monkeypatch.setitem(cli._RUNNERS, "score", crash)
    code = main(
        [
            "score",
            "--model",
            str(tmp_path / "model"),
            "--data",
            str(conditioned),
            "--out",
            str(tmp_path / "s"),
        ]
    )
    assert code == ExitStatus.INTERNAL_ERROR
    runs = _rows(pipeline_step, "SELECT run_id, pipeline, status, detail FROM pipeline_runs")
    assert len(runs) == 1
    run_id, pipeline, status, detail = runs[0]
    assert (run_id, pipeline, status) == ("scoring-run-7", "scoring", "failed")
    assert "step score failed: RuntimeError: the scoring node lost its disk" in str(detail)
    steps = _rows(pipeline_step, "SELECT step, outcome FROM step_runs WHERE run_id = 'scoring-run-7'")
    # the failing step, and validate's record found in its input folder
    assert ("score", "failed") in steps
    assert ("validate", "succeeded") in steps
    # what validate quarantined is published with the failed run
    assert _rows(pipeline_step, "SELECT count(*) FROM data_quality WHERE run_id = 'scoring-run-7'")[0][0] > 0
    outcomes = {
        (p["attributes"].get("step"), p["attributes"].get("outcome"))
        for p in read_local_metrics(tmp_path / "telemetry")
        if p["name"] == STEP_RUNS
    }
    assert ("score", "failed") in outcomes


def test_a_step_that_rejects_its_input_records_the_run_as_failed(
    pipeline_step: Path, conditioned: Path, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-model"
    code = main(["score", "--model", str(missing), "--data", str(conditioned), "--out", str(tmp_path / "s")])
    assert code != 0
    assert _rows(pipeline_step, "SELECT status FROM pipeline_runs WHERE run_id = 'scoring-run-7'") == [
        ("failed",)
    ]
    outcome = _rows(pipeline_step, "SELECT outcome FROM step_runs WHERE step = 'score'")
    assert outcome in ([("rejected_input",)], [("failed",)])


def test_a_succeeding_step_and_a_step_outside_a_pipeline_record_nothing(
    pipeline_step: Path, tiny_data: Path, conditioned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["validate", "--data", str(tiny_data), "--out", str(tmp_path / "again")]) == 0
    assert _rows(pipeline_step, "SELECT count(*) FROM pipeline_runs") == [(0,)]
    monkeypatch.delenv(PIPELINE_ENV)
    code = main(
        [
            "score",
            "--model",
            str(tmp_path / "nothing"),
            "--data",
            str(conditioned),
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert code != 0
    assert _rows(pipeline_step, "SELECT count(*) FROM pipeline_runs") == [(0,)]


def test_the_steps_reporting_database_wins_over_the_environments(
    pipeline_step: Path, conditioned: Path, tmp_path: Path
) -> None:
    """A release-validation run passes its own database to every step: a failure is recorded there,
    never in the one the environment names (the production tables Power BI reads)."""
    validation = tmp_path / "validation.db"
    ensure_sqlite_schema(validation)
    code = main(
        [
            "score",
            "--model",
            str(tmp_path / "no-model"),
            "--data",
            str(conditioned),
            "--out",
            str(tmp_path / "s"),
            "--reporting-database",
            f"sqlite:///{validation.as_posix()}",
        ]
    )
    assert code != 0
    assert _rows(pipeline_step, "SELECT count(*) FROM pipeline_runs") == [(0,)]
    assert _rows(validation, "SELECT pipeline, status FROM pipeline_runs") == [("scoring", "failed")]


def test_a_database_that_cannot_take_the_record_does_not_hide_the_steps_own_failure(
    pipeline_step: Path, conditioned: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(REPORTING_DATABASE_ENV, "postgres://nowhere/db")
    code = main(
        [
            "score",
            "--model",
            str(tmp_path / "nothing"),
            "--data",
            str(conditioned),
            "--out",
            str(tmp_path / "x"),
        ]
    )
    assert code != 0  # the step's own status, not a traceback of the record


def test_the_names_are_the_ones_stackctl_sets() -> None:
    from demand_forecast import publish

    assert (publish.PIPELINE_ENV, publish.REPORTING_DATABASE_ENV, publish.RUN_ID_ENV) == (
        PIPELINE_ENV,
        REPORTING_DATABASE_ENV,
        RUN_ID_ENV,
    )
