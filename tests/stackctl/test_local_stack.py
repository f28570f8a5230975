"""The local stack's flow with a contract-honouring fake of the model CLI (the real one: tests/e2e).

Covers provisioning, the reporting database and dashboard, the rerun decision (idempotent apply),
bad data in raw (clear error, data kept), a failed step (champion unchanged), and settings typos.
Bad data followed by the original data restored is tests/e2e/test_local_apply.py's (on the real CLI).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from demand_forecast.contracts import Decision
from demand_forecast.reporting.database import sqlite_engine
from rich.console import Console

from stackctl.cli import main
from stackctl.errors import ExitStatus, StackctlError
from stackctl.local import apply as local_apply
from stackctl.local.apply import apply_local
from stackctl.local.executor import StepFailed, run_subprocess
from stackctl.local.layout import LocalLayout


def calls(root: Path) -> list[list[str]]:
    """The model CLI invocations the fake recorded (FAKE_CALLS, one JSON list per call)."""
    path = Path(os.environ["FAKE_CALLS"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def quiet() -> Console:
    return Console(quiet=True)


def steps_run(root: Path) -> list[str]:
    return [call[0] for call in calls(root)]


def champion_file(root: Path) -> dict[str, str]:
    data: dict[str, str] = json.loads(
        (LocalLayout(root).mlflow_dir / "champion.json").read_text(encoding="utf-8")
    )
    return data


def query(root: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite_engine(LocalLayout(root).reporting_db).connect() as conn:
        return [tuple(row) for row in conn.execute(sa.text(sql)).all()]


@pytest.mark.slow  # the one apply through real step processes and a rendered dashboard
@pytest.mark.dashboard
def test_first_apply_runs_both_pipelines_and_fills_every_stand_in(
    fake_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Through the default step runner, a subprocess per step: the other tests run the fake in process.
    monkeypatch.setattr(local_apply, "step_runner", lambda settings: run_subprocess)
    result = apply_local(fake_root, quiet())
    layout = LocalLayout(fake_root)
    assert steps_run(fake_root) == [
        "validate",
        "train",
        "evaluate",
        "register",
        "publish",
        "validate",
        "score",
        "monitor",
        "publish",
    ]
    assert result.trained
    assert result.scored
    assert result.promoted is True
    assert result.champion_version == champion_file(fake_root)["model_version"]
    assert sorted(p.name for p in layout.lake_fs("raw").glob("*.csv")) == ["shipments.csv", "stores.csv"]
    assert any(layout.lake_fs("conditioned").rglob("data_quality.json"))
    assert any(layout.lake_fs("scored").rglob("forecasts.csv"))
    runs = query(fake_root, "SELECT pipeline, status FROM v_pipeline_runs ORDER BY started_at")
    assert runs == [("training", "succeeded"), ("scoring", "succeeded")]
    assert query(fake_root, "SELECT count(*) FROM v_forecasts") == [(2,)]
    metrics = query(
        fake_root, "SELECT model, mape, meets_target FROM v_model_metrics WHERE segment='overall'"
    )
    assert ("baseline", 0.5, 0) in metrics
    assert ("ensemble", 0.3, 1) in metrics
    assert query(fake_root, "SELECT stale, drift_alert FROM v_model_health") == [(0, 0)]
    assert query(fake_root, "SELECT count(*) FROM data_quality") == [(4,)]  # 2 files x 2 runs
    assert query(fake_root, "SELECT source, count(*) FROM v_backtest GROUP BY source ORDER BY source") == [
        ("holdout", 2),
        ("recent", 2),
    ]
    assert result.quarantine_file.name == "quarantine.csv"
    assert result.quarantine_file.is_file()
    assert layout.lake_fs("conditioned") in result.quarantine_file.parents
    labels = query(fake_root, "SELECT DISTINCT segment_label FROM v_forecasts")
    assert labels == [("north · large stores · fast movers",)]
    page = result.dashboard.read_text(encoding="utf-8")
    assert page.count('class="plotly-graph-div"') >= 5
    # self-contained: plotly.js inlined once, nothing loaded from the network
    assert page.count("<script") >= 5
    assert 'src="http' not in page
    assert "<link" not in page
    assert "the last training and scoring runs succeeded" in page


def test_the_reporting_database_opens_in_a_plain_sqlite_client(fake_root: Path) -> None:
    apply_local(fake_root, quiet())
    import sqlite3

    with sqlite3.connect(LocalLayout(fake_root).reporting_db) as conn:
        assert conn.execute("select count(*) from v_forecasts").fetchone() == (2,)


def test_second_apply_with_nothing_changed_runs_no_step_and_says_so(
    fake_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["apply"]) == 0
    first_calls = len(calls(fake_root))
    capsys.readouterr()
    assert main(["apply"]) == 0
    out = capsys.readouterr().out
    assert len(calls(fake_root)) == first_calls
    assert "nothing changed: champion" in out
    assert "no retraining" in out
    assert "forecasts are current" in out
    assert "dashboard" in out
    assert "ensemble MAPE 0.300" in out  # the champion's holdout scores
    assert "0 quarantined" in out
    assert ".venv/bin/mlflow ui --backend-store-uri" in out
    assert "quarantined rows" in out
    assert query(fake_root, "SELECT count(*) FROM pipeline_runs") == [(2,)]  # the second apply added nothing


def test_changed_raw_data_retrains(fake_root: Path) -> None:
    apply_local(fake_root, quiet())
    raw = LocalLayout(fake_root).lake_fs("raw") / "shipments.csv"
    raw.write_text(raw.read_text(encoding="utf-8") + "2026-02-02,S1,P1,99,0\n", encoding="utf-8")
    result = apply_local(fake_root, quiet())
    assert result.trained
    assert steps_run(fake_root).count("train") == 2


def registered_versions(root: Path) -> list[str]:
    """Registry versions the fake's register step handed out, in order (one per decision.json)."""
    decisions = sorted(
        LocalLayout(root).runs.rglob("decision.json"), key=lambda path: path.stat().st_mtime_ns
    )
    return [Decision.read(path).registered_version for path in decisions]


def test_restoring_the_champion_s_data_after_a_losing_candidate_retrains_nothing(
    fake_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # The case from issue 15: data that trains a candidate which loses to the champion, then the
    # original files put back. The champion was trained on exactly those inputs: no retraining, and
    # above all no second registry version of the model already in use.
    first = apply_local(fake_root, quiet())
    raw = LocalLayout(fake_root).lake_fs("raw") / "shipments.csv"
    original = raw.read_text(encoding="utf-8")
    raw.write_text(original + "2026-02-02,S1,P1,99,0\n", encoding="utf-8")
    losing = apply_local(fake_root, quiet())
    assert losing.trained
    assert losing.promoted is False
    assert losing.champion_version == first.champion_version
    raw.write_text(original, encoding="utf-8")
    assert main(["plan"]) == 0
    assert "apply would retrain nothing" in capsys.readouterr().out
    restored = apply_local(fake_root, quiet())
    assert not restored.trained
    assert restored.scored  # the data changed back, so the forecasts are made again from it
    assert steps_run(fake_root).count("train") == 2
    assert registered_versions(fake_root) == ["1", "2"]
    assert restored.champion_version == first.champion_version


def test_a_candidate_that_lost_is_not_trained_again_on_the_same_inputs(fake_root: Path) -> None:
    apply_local(fake_root, quiet())
    raw = LocalLayout(fake_root).lake_fs("raw") / "shipments.csv"
    raw.write_text(raw.read_text(encoding="utf-8") + "2026-02-02,S1,P1,99,0\n", encoding="utf-8")
    assert apply_local(fake_root, quiet()).promoted is False
    again = apply_local(fake_root, quiet())
    assert not again.trained
    assert not again.scored
    assert registered_versions(fake_root) == ["1", "2"]


def test_changed_model_code_retrains(fake_root: Path) -> None:
    apply_local(fake_root, quiet())
    (fake_root / "src" / "model" / "demand_forecast" / "cli.py").write_text("VERSION = 2\n", encoding="utf-8")
    assert apply_local(fake_root, quiet()).trained


def test_apply_never_overwrites_raw_files_someone_changed(fake_root: Path) -> None:
    apply_local(fake_root, quiet())
    raw = LocalLayout(fake_root).lake_fs("raw") / "stores.csv"
    edited = "store_id,region,store_format\nS1,south,small\nS2,north,large\n"
    raw.write_text(edited, encoding="utf-8")
    sample = fake_root / "data" / "sample" / "stores.csv"
    sample.write_text(sample.read_text(encoding="utf-8") + "S3,east,small\n", encoding="utf-8")
    apply_local(fake_root, quiet())
    assert raw.read_text(encoding="utf-8") == edited


@pytest.mark.dashboard
def test_bad_data_in_raw_stops_with_a_clear_error_and_keeps_the_data(
    fake_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_local(fake_root, quiet())
    champion_before = champion_file(fake_root)
    raw = LocalLayout(fake_root).lake_fs("raw") / "shipments.csv"
    broken = "week_start,store_id,BROKEN\n2026-01-05,S1,x\n"
    raw.write_text(broken, encoding="utf-8")
    assert main(["apply"]) == ExitStatus.DATA_REFUSED
    err = capsys.readouterr().err
    assert "training pipeline stopped: step `validate` rejected its input data (exit 2)" in err
    assert "shipments.csv: row 1, column BROKEN" in err
    assert "correct the data named above" in err
    assert raw.read_text(encoding="utf-8") == broken  # left in place
    kept = list(LocalLayout(fake_root).quarantine.rglob("shipments.csv"))
    assert len(kept) == 1
    assert kept[0].read_text(encoding="utf-8") == broken
    assert champion_file(fake_root) == champion_before
    failed = query(fake_root, "SELECT pipeline FROM pipeline_runs WHERE status = 'failed'")
    assert failed == [("training",)]
    # the dashboard was rendered again and shows the failure first
    page = LocalLayout(fake_root).dashboard.read_text(encoding="utf-8")
    assert "last run FAILED: training" in page
    assert page.index('<tr class="bad">') < page.index('<tr class="good">')


def test_a_failed_step_leaves_the_previous_champion_in_place(
    fake_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = apply_local(fake_root, quiet())
    raw = LocalLayout(fake_root).lake_fs("raw") / "shipments.csv"
    raw.write_text(raw.read_text(encoding="utf-8") + "2026-02-02,S1,P1,99,0\n", encoding="utf-8")
    monkeypatch.setenv("FAKE_FAIL_STEP", "evaluate")
    with pytest.raises(StepFailed, match="step `evaluate` failed unexpectedly") as caught:
        apply_local(fake_root, quiet())
    assert "champion model is unchanged" in str(caught.value.fix)
    assert steps_run(fake_root).count("register") == 1  # only the first, successful run registered
    assert champion_file(fake_root)["model_version"] == first.champion_version
    # the failure did not poison the rerun decision: with the step fixed, apply trains again
    monkeypatch.delenv("FAKE_FAIL_STEP")
    assert apply_local(fake_root, quiet()).trained


def test_a_typo_in_the_settings_is_an_error_naming_the_key(fake_root: Path) -> None:
    path = fake_root / "envs" / "local" / "settings.yaml"
    settings = yaml.safe_load(path.read_text(encoding="utf-8"))
    settings["training"]["epoch"] = 3
    path.write_text(yaml.safe_dump(settings), encoding="utf-8")
    with pytest.raises(StackctlError, match=r"training\.epoch: Extra inputs are not permitted"):
        apply_local(fake_root, quiet())


def test_missing_sample_data_says_how_to_generate_it(fake_root: Path) -> None:
    for path in (fake_root / "data" / "sample").glob("*.csv"):
        path.unlink()
    with pytest.raises(StackctlError, match="sample data is missing") as caught:
        apply_local(fake_root, quiet())
    assert "make sample-data" in str(caught.value.fix)


def test_plan_local_says_whether_apply_would_retrain(
    fake_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["plan"]) == 0
    assert "apply would run the training pipeline" in capsys.readouterr().out
    apply_local(fake_root, quiet())
    assert main(["plan"]) == 0
    assert "apply would retrain nothing" in capsys.readouterr().out


def test_deploy_local_provisions_once_then_reports_no_changes(
    fake_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["deploy"]) == 0
    assert "provisioned" in capsys.readouterr().out
    assert LocalLayout(fake_root).reporting_db.exists()
    assert main(["deploy"]) == 0
    assert "no changes" in capsys.readouterr().out
