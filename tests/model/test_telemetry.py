"""OpenTelemetry metrics of the steps, through the local exporter, against what the alert rules query.

The alert rules in modules/monitoring/main.alerts.tf name the metrics they read in
`local.alert_metrics`; the steps (monitor, publish, every step's duration and outcome) must emit each.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hcl2
import pytest
from demand_forecast import telemetry
from demand_forecast.cli import main

REPO = Path(__file__).resolve().parents[2]
ALERTS_TF = REPO / "modules" / "monitoring" / "main.alerts.tf"


def alert_locals(path: Path) -> dict[str, Any]:
    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
    with path.open(encoding="utf-8") as handle:
        document = hcl2.load(handle, serialization_options=options)
    merged: dict[str, Any] = {}
    for block in document["locals"]:
        merged.update(block)
    return merged


def alert_metric_findings(path: Path, emitted: set[str]) -> list[str]:
    """What is wrong between the alert rules at `path` and the metric names the steps emitted."""
    found = alert_locals(path)
    metrics: dict[str, str] = found["alert_metrics"]
    findings = [
        f"alert {rule} queries metric {name!r}, which no step emits"
        for rule, name in sorted(metrics.items())
        if name not in emitted
    ]
    # Every string in the alert rules, escapes dropped: the queries as Azure Monitor receives them.
    text = json.dumps(found["alert_rules"]).replace("\\", "").replace('"', "")
    for rule, name in sorted(metrics.items()):
        if f"customMetrics | where name == {name} |" not in text:
            findings.append(f"alert {rule}: no customMetrics query reads {name!r}")
    spelled = text.count("customMetrics | where name ==")
    if spelled != len(metrics):
        findings.append(f"{spelled} customMetrics queries but {len(metrics)} entries in local.alert_metrics")
    return findings


@pytest.fixture
def telemetry_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "telemetry"
    monkeypatch.setenv(telemetry.TELEMETRY_DIR_ENV, str(folder))
    monkeypatch.delenv(telemetry.CONNECTION_STRING_ENV, raising=False)
    return folder


@pytest.fixture
def monitored_and_published(sample_run: Path, tmp_path: Path, telemetry_dir: Path) -> list[dict[str, Any]]:
    """score, monitor and publish (training and scoring) of the sample model, with the local exporter."""
    from demand_forecast.reporting.migration import ensure_sqlite_schema

    model, conditioned, evaluation = sample_run / "model", sample_run / "conditioned", sample_run / "eval"
    db = tmp_path / "reporting.db"
    ensure_sqlite_schema(db)
    scored, monitoring = tmp_path / "scored", tmp_path / "monitoring"
    assert main(["score", "--model", str(model), "--data", str(conditioned), "--out", str(scored)]) == 0
    assert (
        main(
            [
                "monitor",
                "--model",
                str(model),
                "--data",
                str(conditioned),
                "--out",
                str(monitoring),
                "--forecasts",
                str(scored / "forecasts.csv"),
            ]
        )
        == 0
    )
    metrics = json.loads((evaluation / "metrics.json").read_text(encoding="utf-8"))
    decision = tmp_path / "decision"
    decision.mkdir()
    (decision / "decision.json").write_text(
        json.dumps(
            {
                "model_name": metrics["model_name"],
                "model_version": metrics["model_version"],
                "promoted": True,
                "reason": "no champion yet",
                "registered_version": "1",
                "candidate_mape": metrics["overall"]["ensemble"]["mape"],
                "champion_mape": None,
                "champion_version": None,
                "margin": 0.0,
            }
        ),
        encoding="utf-8",
    )
    database = f"sqlite:///{db}"
    assert (
        main(
            [
                "publish",
                "--pipeline",
                "training",
                "--run-id",
                "training-1",
                "--reporting-database",
                database,
                "--conditioned",
                str(conditioned),
                "--model",
                str(model),
                "--evaluation",
                str(evaluation),
                "--decision",
                str(decision),
                "--out",
                str(tmp_path / "published-training"),
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "publish",
                "--pipeline",
                "scoring",
                "--run-id",
                "scoring-1",
                "--reporting-database",
                database,
                "--conditioned",
                str(conditioned),
                "--scored",
                str(scored),
                "--monitoring",
                str(monitoring),
                "--out",
                str(tmp_path / "published-scoring"),
            ]
        )
        == 0
    )
    (tmp_path / "no-files").mkdir()  # no stores.csv: the data is refused (exit 2), not the setup
    assert main(["validate", "--data", str(tmp_path / "no-files"), "--out", str(tmp_path / "v")]) == 2
    return telemetry.read_local_metrics(telemetry_dir)


def test_monitor_and_publish_emit_every_metric_the_alert_rules_query(
    monitored_and_published: list[dict[str, Any]],
) -> None:
    emitted = {point["name"] for point in monitored_and_published}
    assert alert_metric_findings(ALERTS_TF, emitted) == []
    assert set(telemetry.METRIC_NAMES) <= emitted
    by_name: dict[str, list[dict[str, Any]]] = {}
    for point in monitored_and_published:
        by_name.setdefault(point["name"], []).append(point)
    segments = {p["attributes"]["segment"] for p in by_name["model_mape"]}
    assert "overall" in segments
    assert len(segments) > 1  # per segment, not only overall
    assert all(isinstance(p["value"], float) for p in by_name["model_mape"])
    holdout_models = {p["attributes"]["model"] for p in by_name["model_holdout_mape"]}
    assert {"baseline", "ensemble"} <= holdout_models
    # WAPE and bias beside every MAPE: the same models and segments
    for mape_name, others in (
        ("model_mape", ("model_wape", "model_bias")),
        ("model_holdout_mape", ("model_holdout_wape", "model_holdout_bias")),
    ):
        keys = {(p["attributes"]["model"], p["attributes"]["segment"]) for p in by_name[mape_name]}
        for other in others:
            assert {(p["attributes"]["model"], p["attributes"]["segment"]) for p in by_name[other]} == keys
    outcomes = {(p["attributes"]["step"], p["attributes"]["outcome"]) for p in by_name["step_runs"]}
    assert {("monitor", "succeeded"), ("publish", "succeeded"), ("validate", "rejected_input")} <= outcomes
    assert all(p["value"] > 0 for p in by_name["step_duration_seconds"])
    (written,) = [p["value"] for p in by_name["forecasts_written"]]
    assert written > 0


def test_a_renamed_metric_in_a_broken_copy_of_the_alert_rules_is_found(tmp_path: Path) -> None:
    broken = tmp_path / "main.alerts.tf"
    text = ALERTS_TF.read_text(encoding="utf-8")
    emitted = set(telemetry.METRIC_NAMES)
    assert alert_metric_findings(ALERTS_TF, emitted) == []
    broken.write_text(
        text.replace('model-stale     = "model_age_days"', 'model-stale     = "model_age"'), encoding="utf-8"
    )
    assert alert_metric_findings(broken, emitted) == [
        "alert model-stale queries metric 'model_age', which no step emits",
        "alert model-stale: no customMetrics query reads 'model_age'",
    ]
    broken.write_text(
        text.replace('where name == \\"model_age_days\\"', 'where name == \\"model_age\\"'), encoding="utf-8"
    )
    assert alert_metric_findings(broken, emitted) == [
        "alert model-stale: no customMetrics query reads 'model_age_days'"
    ]


class _Recorded:
    """Stands in for azure-identity's ManagedIdentityCredential: records the identity it was asked for."""

    def __init__(self, *, client_id: str | None = None, **_: Any):
        self.client_id = client_id


def test_in_an_aml_job_app_insights_and_sql_sign_in_as_the_job_identity(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fault: the jobs' credential ignored AZURE_CLIENT_ID, so on a cluster with a system-assigned and a
    user-assigned identity the token came from the system one, which holds neither Monitoring Metrics
    Publisher on App Insights nor a SQL user."""
    import azure.identity
    import azure.monitor.opentelemetry as distro
    from demand_forecast.reporting import database as reporting_db

    monkeypatch.setattr(azure.identity, "ManagedIdentityCredential", _Recorded)
    configured: dict[str, Any] = {}
    monkeypatch.setattr(distro, "configure_azure_monitor", lambda **kwargs: configured.update(kwargs))
    monkeypatch.setenv("AZUREML_RUN_ID", "job-1")
    monkeypatch.delenv("DEFAULT_IDENTITY_CLIENT_ID", raising=False)
    monkeypatch.setenv("AZURE_CLIENT_ID", "33333333-3333-3333-3333-333333333333")
    monkeypatch.setenv(
        telemetry.CONNECTION_STRING_ENV, "InstrumentationKey=00000000-0000-0000-0000-000000000000"
    )

    emitter = telemetry.configure()
    assert emitter.destination == "Application Insights"
    assert isinstance(configured["credential"], _Recorded)
    assert configured["credential"].client_id == "33333333-3333-3333-3333-333333333333"

    captured: dict[str, Any] = {}
    monkeypatch.setattr(
        reporting_db, "azure_sql_engine", lambda server, database, credential: captured.update(c=credential)
    )
    monkeypatch.setattr(reporting_db, "reporting_tables", lambda schema: None)
    reporting_db.open_database("mssql://sql-forecast-dev.database.windows.net/reporting")
    assert captured["c"].client_id == "33333333-3333-3333-3333-333333333333"
