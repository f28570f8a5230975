"""`stackctl apply` (what `make apply` runs) end to end on the real model CLI, on a small generated panel.

One module-scoped run of the whole local stack, then many assertions on its result: the stand-ins,
the MLflow registry, the reporting views, the dashboard, idempotency of a second apply, and bad data
in raw. A small panel and few epochs keep it to well under a minute; `make apply` runs the same code
on the full bundled sample (benchmarks/bench_apply.py measures that).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from demand_forecast.reporting.database import sqlite_engine

from stackctl.errors import ExitStatus
from stackctl.local.layout import LocalLayout

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
FORECAST_COLUMNS = [
    "week_start",
    "store_id",
    "product_id",
    "region",
    "store_format",
    "segment",
    "forecast_units",
    "model_name",
    "model_version",
    "assumed_inputs",  # which missing covariates a documented fallback filled (issue 13)
]


@dataclass
class Applied:
    root: Path
    first: subprocess.CompletedProcess[str]
    second: subprocess.CompletedProcess[str]
    runs_after_second: list[str]  # the run folders right after the second apply, whatever ran since

    @property
    def layout(self) -> LocalLayout:
        return LocalLayout(self.root)


def stackctl(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FORECAST_STACK_ROOT": str(root), "COLUMNS": "200"}
    env.pop("MLFLOW_TRACKING_URI", None)
    return subprocess.run(
        [sys.executable, "-m", "stackctl", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> Applied:
    root = tmp_path_factory.mktemp("e2e") / "repo"
    subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "generate_sample_data.py"),
            "--out",
            str(root / "data" / "sample"),
            "--regions",
            "2",
            "--seed",
            "11",
        ],
        check=True,
        capture_output=True,
    )
    # The model code is part of the rerun hash: hash a snapshot, so edits made to src/model while the
    # test runs (the steps themselves run the installed package) cannot make the second apply retrain.
    shutil.copytree(
        REPO / "src" / "model" / "demand_forecast",
        root / "src" / "model" / "demand_forecast",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    (root / "envs" / "local").mkdir(parents=True)
    (root / "envs" / "local" / "model-fast.yaml").write_text(
        yaml.safe_dump({"nn": {"epochs": 1}}), encoding="utf-8"
    )
    settings = yaml.safe_load((REPO / "envs" / "local" / "settings.yaml").read_text(encoding="utf-8"))
    settings["model_config"] = "envs/local/model-fast.yaml"
    (root / "envs" / "local" / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    first = stackctl(root, "apply", "--env", "local")
    assert first.returncode == 0, first.stdout + first.stderr
    second = stackctl(root, "apply")
    assert second.returncode == 0, second.stdout + second.stderr
    runs = sorted(p.name for p in LocalLayout(root).runs.iterdir() if p.is_dir())
    return Applied(root, first, second, runs)


def query(applied: Applied, sql: str) -> list[tuple[object, ...]]:
    with sqlite_engine(applied.layout.reporting_db).connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql)).all()]


def test_first_apply_shows_each_step_and_a_summary(applied: Applied) -> None:
    out = applied.first.stdout
    for step in (
        "training.validate",
        "training.train",
        "training.evaluate",
        "training.register",
        "training.publish_training",
        "scoring.validate",
        "scoring.score",
        "scoring.monitor",
        "scoring.publish_scoring",
    ):
        assert f"✓ {step}" in out, step
    assert "promoted to champion" in out
    for where in ("champion", "data lake", "MLflow", "reporting DB", "dashboard"):
        assert where in out


def test_the_champion_is_registered_in_the_local_mlflow_registry(applied: Applied) -> None:
    from stackctl.local.provision import registry_champion

    assert registry_champion(applied.layout) == "1"


def test_data_lake_file_systems_hold_raw_conditioned_and_scored_data(applied: Applied) -> None:
    lake = applied.layout
    assert {p.name for p in lake.lake_fs("raw").glob("*.csv")} == {
        "shipments.csv",
        "stores.csv",
        "promotions.csv",
        "weather.csv",
        "events.csv",
    }
    assert len(list(lake.lake_fs("conditioned").rglob("data_quality.json"))) == 2  # training and scoring
    forecasts = next(lake.lake_fs("scored").rglob("forecasts.csv"))
    with forecasts.open(encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == FORECAST_COLUMNS
    assert next(lake.lake_fs("scored").rglob("monitoring.json")).exists()


def test_reporting_views_hold_forecasts_metrics_health_and_runs(applied: Applied) -> None:
    # The first apply's two runs (a later test adds a failed one; the order of tests must not matter).
    assert query(applied, "SELECT pipeline, status FROM v_pipeline_runs ORDER BY started_at LIMIT 2") == [
        ("training", "succeeded"),
        ("scoring", "succeeded"),
    ]
    (count,) = query(applied, "SELECT count(*) FROM v_forecasts")[0]
    assert isinstance(count, int)
    assert count > 0
    models = {row[0] for row in query(applied, "SELECT model FROM v_model_metrics WHERE segment = 'overall'")}
    assert {"baseline", "lasso", "nn", "ensemble"} <= models
    assert query(applied, "SELECT count(*) FROM v_model_health")[0][0] == 1
    assert query(applied, "SELECT count(*) FROM data_quality")[0][0] >= 5
    steps = {row[0] for row in query(applied, "SELECT step FROM v_step_runs")}
    assert {"validate", "train", "evaluate", "register", "score", "monitor"} <= steps
    sources = {row[0] for row in query(applied, "SELECT DISTINCT source FROM v_backtest")}
    assert sources == {"holdout", "recent"}


def test_the_reporting_database_opens_in_the_plain_sqlite3_module(applied: Applied) -> None:
    import sqlite3

    with sqlite3.connect(applied.layout.reporting_db) as conn:
        (count,) = conn.execute("select count(*) from v_forecasts").fetchone()
    assert count > 0


def test_every_step_emitted_its_metrics_to_the_local_exporter(applied: Applied) -> None:
    from demand_forecast.telemetry import read_local_metrics

    names = {point["name"] for point in read_local_metrics(applied.layout.telemetry)}
    assert {
        "step_runs",
        "step_duration_seconds",
        "model_mape",
        "model_age_days",
        "forecasts_written",
    } <= names


def test_the_dashboard_is_one_self_contained_html_file_with_plots(applied: Applied) -> None:
    page = applied.layout.dashboard.read_text(encoding="utf-8")
    # MAPE over time, MAPE by segment, forecasts vs actuals, staleness, step durations, data quality
    assert page.count('class="plotly-graph-div"') == 6
    assert 'src="http' not in page  # plotly.js is inlined
    assert "no data for this chart" not in page
    assert "the last training and scoring runs succeeded" in page


def test_second_apply_with_nothing_changed_retrains_nothing_and_says_so(applied: Applied) -> None:
    out = applied.second.stdout
    assert "nothing changed: champion" in out
    assert "no retraining" in out
    assert "training.train" not in out
    # Taken by the fixture: tests that ran since (bad data) add runs of their own.
    assert len(applied.runs_after_second) == 2  # the first apply's training and scoring runs only


def registry_versions(applied: Applied) -> list[str]:
    from mlflow.tracking import MlflowClient

    from stackctl.graph import MODEL_NAME

    client = MlflowClient(tracking_uri=applied.layout.tracking_uri, registry_uri=applied.layout.tracking_uri)
    return sorted(str(v.version) for v in client.search_model_versions(f"name='{MODEL_NAME}'"))


def test_bad_data_is_a_clear_error_that_keeps_everything_and_restoring_it_retrains_nothing(
    applied: Applied,
) -> None:
    # Bad data in raw: a clear error naming file and column; the data, a quarantined copy and the
    # champion are kept. Then the case from issue 15 ("Also found"): the original files put back.
    # The champion was trained on exactly the restored inputs (same content hash of data, code and
    # config), so apply keeps it: no training run, no second registry version of the same model.
    from stackctl.local.provision import registry_champion

    versions_before = registry_versions(applied)
    raw = applied.layout.lake_fs("raw") / "shipments.csv"
    original = raw.read_text(encoding="utf-8")
    broken = original.replace("units", "unitz", 1)
    raw.write_text(broken, encoding="utf-8")
    try:
        result = stackctl(applied.root, "apply")
        assert result.returncode == ExitStatus.DATA_REFUSED
        assert "step `validate` rejected its input" in result.stderr
        assert "shipments.csv" in result.stderr
        assert "units" in result.stderr
        assert raw.read_text(encoding="utf-8") == broken
        kept = list(applied.layout.quarantine.rglob("shipments.csv"))
        assert [p.read_text(encoding="utf-8") for p in kept] == [broken]
        assert registry_champion(applied.layout) == "1"
    finally:
        raw.write_text(original, encoding="utf-8")
    planned = stackctl(applied.root, "plan")
    assert planned.returncode == 0, planned.stdout + planned.stderr
    assert "apply would retrain nothing" in planned.stdout
    restored = stackctl(applied.root, "apply")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert "no retraining" in restored.stdout
    assert "training.train" not in restored.stdout
    assert registry_versions(applied) == versions_before == ["1"]
