"""The `publish` step: a pipeline run's results into the reporting database that Power BI reads.

The last step of both pipelines (stackctl/graph.py), run by both executors:

* training: the candidate's holdout metrics per model and segment with the promotion decision, its
  holdout backtest (forecasts against actuals), data-quality counts, the step durations;
* scoring: the forecasts, model health (age, staleness, drift, recent MAPE), the recent weeks'
  forecasts against actuals, data-quality counts, the step durations.

Idempotent: all rows of a run are replaced in one transaction (delete by run_id, insert), so a rerun
of the same run never duplicates them, and a publish that fails anywhere (unreadable input, a
database older than the code, a lost connection) rolls back and leaves the previous rows as they were.
Every step writes `step_run.json` (start, seconds, outcome) into its output folder; publish reads them
from its input folders, so the step durations reach the database the same way in AML and locally.

A run that fails before its publish step is published by the failing step itself
(`record_failed_step`, called by the CLI when a step ends with any outcome but "succeeded"): the
run's row with status failed, the step's outcome, and what its input folders hold. Both executors
give every step what that needs in its environment: the pipeline (DEMAND_FORECAST_PIPELINE), the
reporting database (REPORTING_DATABASE_URL) and, outside AML, the run (DEMAND_FORECAST_RUN_ID).
It lives in the step rather than in a pipeline exit handler because an AML pipeline component, the
unit a batch endpoint deploys, cannot have `on_init`/`on_finalize` jobs (azure-ai-ml refuses them:
"On_init/on_finalize is not supported for pipeline component"; the setting is documented for
pipeline jobs only, https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-pipeline).
A step killed outright (node lost, timeout) cannot record itself; Data Factory's run fails then and
the pipeline-failed alert of modules/monitoring fires.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa

from demand_forecast import telemetry as otel
from demand_forecast.contracts import (
    DATA_QUALITY_FILE,
    DECISION_FILE,
    METRICS_FILE,
    MONITORING_FILE,
    DataQuality,
    Decision,
    Metrics,
    Monitoring,
    Scores,
)
from demand_forecast.errors import UsageError
from demand_forecast.outputs import STEP_RUN_FILE
from demand_forecast.reading import read_text_csv
from demand_forecast.reporting.database import ReportingDatabase, require_current
from demand_forecast.reporting.schema import RUN_TABLES, segment_label

PipelineName = Literal["training", "scoring"]
PUBLISH_FILE = "publish.json"
BACKTEST_FILE = "backtest.csv"  # monitor's recent weeks, forecasts against actuals
HOLDOUT_FILE = "holdout_predictions.csv"  # evaluate's one-week-ahead holdout backtest
DETAIL_LIMIT = 2000
# The environment of every pipeline step (set by stackctl: on each AML job, and by the local runner).
PIPELINE_ENV = "DEMAND_FORECAST_PIPELINE"
REPORTING_DATABASE_ENV = "REPORTING_DATABASE_URL"
RUN_ID_ENV = "DEMAND_FORECAST_RUN_ID"


def resolve_run_id(given: str | None) -> str:
    """The pipeline run's id: `given`, else $DEMAND_FORECAST_RUN_ID (the local runner), else (inside
    AML) the pipeline job, which AML records as the parent run of each step's MLflow run
    (MLFLOW_RUN_ID is the step's own run)."""
    if given:
        return given
    if os.environ.get(RUN_ID_ENV):
        return os.environ[RUN_ID_ENV]
    step_run = os.environ.get("MLFLOW_RUN_ID")
    if step_run:
        from mlflow.tracking import MlflowClient

        tags = MlflowClient().get_run(step_run).data.tags
        return str(tags.get("mlflow.parentRunId") or step_run)
    raise UsageError("publish needs --run-id outside an AML job (no MLFLOW_RUN_ID to find the pipeline job)")


@dataclass(frozen=True)
class PublishInputs:
    """What one pipeline run produced: each step's output folder (None where the step did not run)."""

    pipeline: PipelineName
    run_id: str
    conditioned: Path | None = None
    model: Path | None = None
    evaluation: Path | None = None
    decision: Path | None = None
    scored: Path | None = None
    monitoring: Path | None = None
    status: Literal["succeeded", "failed"] = "succeeded"
    detail: str | None = None
    # Further folders whose step_run.json belong to the run (a failing step's own output folder).
    step_folders: tuple[Path, ...] = ()

    def folders(self) -> list[Path]:
        candidates = (
            self.conditioned,
            self.model,
            self.evaluation,
            self.decision,
            self.scored,
            self.monitoring,
            *self.step_folders,
        )
        return [folder for folder in candidates if folder is not None]


@dataclass
class PublishSummary:
    run_id: str
    pipeline: str
    status: str
    rows: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "pipeline": self.pipeline, "status": self.status, "rows": self.rows}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise UsageError(f"{path} is missing: the step that writes it did not run or failed") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno}); rerun its step") from exc
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a JSON object")
    return data


def _read_csv(path: Path, required: Iterable[str], numeric: tuple[str, ...]) -> pd.DataFrame:
    """A step's CSV through the package's own reader: ids and regions as written (`NA` is a region,
    not NULL), only `numeric` columns parsed (`demand_forecast.reading.read_text_csv`)."""
    try:
        frame = read_text_csv(path, numeric)
    except FileNotFoundError as exc:
        raise UsageError(f"{path} is missing: the step that writes it did not run or failed") from exc
    missing = sorted(set(required) - set(frame.columns))
    if missing:
        raise UsageError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


def _finite(path: Path, frame: pd.DataFrame, columns: Iterable[str]) -> None:
    for column in columns:
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = frame.index[~values.apply(lambda v: isinstance(v, float | int) and math.isfinite(v))]
        if len(bad):
            row = int(bad[0]) + 2  # header is line 1
            raise UsageError(
                f"{path}: row {row}, column {column}: {frame.at[bad[0], column]!r} is not a finite number"
            )


def _day(value: Any) -> date | None:
    return None if value in (None, "") else date.fromisoformat(str(value)[:10])


def _instant(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _step_rows(inputs: PublishInputs) -> list[dict[str, Any]]:
    rows = []
    seen: set[str] = set()
    for folder in inputs.folders():
        path = folder / STEP_RUN_FILE
        if not path.exists():
            continue
        record = _read_json(path)
        if record["step"] in seen:
            continue
        seen.add(str(record["step"]))
        rows.append(
            {
                "run_id": inputs.run_id,
                "pipeline": inputs.pipeline,
                "step": str(record["step"]),
                "outcome": str(record["outcome"]),
                "started_at": _instant(record["started_at"]),
                "duration_seconds": float(record["duration_seconds"]),
            }
        )
    return rows


def _quality_rows(run_id: str, conditioned: Path) -> list[dict[str, Any]]:
    quality = DataQuality.read(conditioned / DATA_QUALITY_FILE)
    return [
        {
            "run_id": run_id,
            "file_name": name,
            "rows_in": counts.rows_in,
            "rows_out": counts.rows_out,
            "quarantined": counts.quarantined,
        }
        for name, counts in sorted(quality.files.items())
    ]


def _metric_rows(run_id: str, metrics: Metrics, promoted: bool) -> list[dict[str, Any]]:
    common = {
        "run_id": run_id,
        "model_name": metrics.model_name,
        "model_version": metrics.model_version,
        "target_mape": metrics.target_mape,
        "holdout_start": _day(metrics.holdout.start),
        "holdout_end": _day(metrics.holdout.end),
        "promoted": promoted,
    }

    def row(segment: str, model: str, values: Scores) -> dict[str, Any]:
        return {
            **common,
            "segment": segment,
            "segment_label": segment_label(segment),
            "model": model,
            "mape": values.mape,
            "wape": values.wape,
            "bias": values.bias,
            "rmse": values.rmse,
            "rmse_zero_actual": values.rmse_zero_actual,
            "n": values.n,
            "n_zero_actual": values.n_zero_actual,
        }

    rows = [
        row("overall", model, values)
        for model, values in metrics.overall.by_model().items()
        if values is not None
    ]
    rows += [row(s.segment, s.model, s) for s in metrics.segments]
    return rows


def _backtest_rows(run_id: str, path: Path, source: str, model_version: str) -> list[dict[str, Any]]:
    frame = _read_csv(
        path, ("week_start", "store_id", "product_id", "units", "ensemble"), ("units", "ensemble")
    )
    _finite(path, frame, ("units", "ensemble"))
    segments = frame["segment"].astype(str) if "segment" in frame else pd.Series("overall", index=frame.index)
    # A routed bundle's rows name the model that made each (docs/scale.md); else the step's model.
    versions = pd.Series(model_version, index=frame.index)
    if "model_version" in frame:
        named = frame["model_version"].astype(str).str.strip()
        versions = named.where(named.ne("") & frame["model_version"].notna(), model_version)
    return [
        {
            "run_id": run_id,
            "source": source,
            "week_start": _day(week),
            "store_id": store,
            "product_id": product,
            "segment": segment,
            "segment_label": segment_label(segment),
            "actual_units": float(units),
            "forecast_units": float(forecast),
            "model_version": version,
        }
        for week, store, product, segment, units, forecast, version in zip(
            frame["week_start"],
            frame["store_id"],
            frame["product_id"],
            segments,
            frame["units"],
            frame["ensemble"],
            versions,
            strict=True,
        )
    ]


def _forecast_rows(run_id: str, path: Path) -> list[dict[str, Any]]:
    required = ("week_start", "store_id", "product_id", "forecast_units", "model_name", "model_version")
    frame = _read_csv(path, required, ("forecast_units",))
    _finite(path, frame, ("forecast_units",))
    frame = frame.astype(object).where(frame.notna(), None)
    rows = []
    for record in frame.to_dict("records"):
        segment = str(record.get("segment") or "overall")
        rows.append(
            {
                "run_id": run_id,
                "week_start": _day(record["week_start"]),
                "store_id": str(record["store_id"]),
                "product_id": str(record["product_id"]),
                "region": record.get("region"),
                "store_format": record.get("store_format"),
                "segment": segment,
                "segment_label": segment_label(segment),
                "forecast_units": float(record["forecast_units"]),
                "model_name": str(record["model_name"]),
                "model_version": str(record["model_version"]),
            }
        )
    return rows


def _health_row(run_id: str, health: Monitoring) -> dict[str, Any]:
    return {
        "run_id": run_id,
        "as_of": _day(health.as_of),
        "model_name": health.model_name,
        "model_version": health.model_version,
        "trained_at": _instant(health.trained_at),
        "age_days": health.age_days,
        "stale": health.stale,
        "stale_after_days": health.stale_after_days,
        "drift_alert": health.drift_alert,
        "max_psi": health.max_psi,
        "recent_mape": health.recent_mape,
        "recent_wape": health.recent_wape,
        "recent_bias": health.recent_bias,
        "recent_weeks": health.recent_weeks,
    }


def _require(folder: Path | None, name: str, pipeline: str) -> Path:
    if folder is None:
        raise UsageError(f"publish of a {pipeline} run needs --{name} (the {name} step's output folder)")
    return folder


def collect_rows(inputs: PublishInputs, now: datetime) -> dict[str, list[dict[str, Any]]]:
    """Every row the run puts in the reporting tables, read and checked before the database is touched."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in RUN_TABLES}
    rows["step_runs"] = _step_rows(inputs)
    run = {
        "run_id": inputs.run_id,
        "pipeline": inputs.pipeline,
        "status": inputs.status,
        "started_at": min((r["started_at"] for r in rows["step_runs"]), default=now),
        "finished_at": now,
        "model_name": None,
        "model_version": None,
        "detail": (inputs.detail or "")[:DETAIL_LIMIT] or None,
    }
    if inputs.conditioned is not None and (inputs.conditioned / DATA_QUALITY_FILE).exists():
        rows["data_quality"] = _quality_rows(inputs.run_id, inputs.conditioned)
    elif inputs.status == "succeeded":
        rows["data_quality"] = _quality_rows(
            inputs.run_id, _require(inputs.conditioned, "conditioned", "any")
        )
    if inputs.status == "failed":
        rows["pipeline_runs"] = [run]
        return rows
    if inputs.pipeline == "training":
        evaluation = _require(inputs.evaluation, "evaluation", "training")
        decision = Decision.read(_require(inputs.decision, "decision", "training") / DECISION_FILE)
        metrics = Metrics.read(evaluation / METRICS_FILE)
        rows["model_metrics"] = _metric_rows(inputs.run_id, metrics, decision.promoted)
        version = metrics.model_version
        rows["backtest"] = _backtest_rows(inputs.run_id, evaluation / HOLDOUT_FILE, "holdout", version)
        run.update(
            model_name=decision.model_name,
            model_version=decision.model_version,
            detail=decision.reason[:DETAIL_LIMIT] or None,
        )
    else:
        scored = _require(inputs.scored, "scored", "scoring")
        monitoring = _require(inputs.monitoring, "monitoring", "scoring")
        health = Monitoring.read(monitoring / MONITORING_FILE)
        rows["forecasts"] = _forecast_rows(inputs.run_id, scored / "forecasts.csv")
        rows["model_health"] = [_health_row(inputs.run_id, health)]
        version = health.model_version
        rows["backtest"] = _backtest_rows(inputs.run_id, monitoring / BACKTEST_FILE, "recent", version)
        run.update(
            model_name=health.model_name,
            model_version=version,
            detail=f"{len(rows['forecasts'])} forecasts",
        )
    rows["pipeline_runs"] = [run]
    return rows


def write_rows(db: ReportingDatabase, run_id: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Replace the run's rows in one transaction: on any error nothing of this run changes."""
    tables = db.tables
    with db.engine.begin() as conn:
        for name in (*RUN_TABLES, "pipeline_runs"):
            table = tables[name]
            conn.execute(sa.delete(table).where(table.c.run_id == run_id))
        for name in ("pipeline_runs", *RUN_TABLES):
            if rows.get(name):
                conn.execute(sa.insert(tables[name]), rows[name])


def emit_metrics(
    telemetry: otel.Telemetry, inputs: PublishInputs, rows: dict[str, list[dict[str, Any]]]
) -> None:
    for quality in rows.get("data_quality", []):
        attributes = {"pipeline": inputs.pipeline, "file": quality["file_name"]}
        telemetry.add(otel.DATA_QUARANTINED_ROWS, quality["quarantined"], attributes)
    if inputs.pipeline == "scoring" and inputs.status == "succeeded":
        versions = {r["model_version"] for r in rows["forecasts"]} or {"none"}
        for version in sorted(versions):
            count = sum(1 for r in rows["forecasts"] if r["model_version"] == version)
            telemetry.add(otel.FORECASTS_WRITTEN, count, {"model_version": version})
    holdout_gauges = (
        ("mape", otel.MODEL_HOLDOUT_MAPE),
        ("wape", otel.MODEL_HOLDOUT_WAPE),
        ("bias", otel.MODEL_HOLDOUT_BIAS),
    )
    if inputs.pipeline == "training" and inputs.status == "succeeded" and inputs.decision is not None:
        decision = Decision.read(inputs.decision / DECISION_FILE)
        otel.record_failed_partitions(
            telemetry, decision.failed_partitions, decision.model_version, decision.model_name
        )
    for metric in rows.get("model_metrics", []):
        attributes = {
            "model": metric["model"],
            "segment": metric["segment"],
            "model_version": metric["model_version"],
        }
        for key, name in holdout_gauges:
            if metric.get(key) is not None:
                telemetry.gauge(name, metric[key], attributes)


def publish(
    db: ReportingDatabase, inputs: PublishInputs, telemetry: otel.Telemetry | None = None
) -> PublishSummary:
    """Read the run's outputs, check the database's schema version, replace the run's rows.

    Raises UsageError (what, where, what to do) for unreadable inputs or an outdated schema; nothing
    is written then. Database errors propagate after the transaction rolled back.
    """
    rows = collect_rows(inputs, datetime.now(UTC).replace(tzinfo=None))
    require_current(db)
    write_rows(db, inputs.run_id, rows)
    if telemetry is not None:
        emit_metrics(telemetry, inputs, rows)
    counts = {name: len(values) for name, values in rows.items()}
    return PublishSummary(inputs.run_id, inputs.pipeline, inputs.status, counts)


def record_failed_step(
    step: str,
    folders: Iterable[Path],
    detail: str,
    telemetry: otel.Telemetry | None = None,
    database: str | None = None,
) -> str | None:
    """Publish the pipeline run of a step that did not succeed as failed; what happened, in words.

    `folders` are the step's own output folder and its input folders (their `step_run.json` and a
    `data_quality.json` among them are published with the run). `database` is the step's
    `--reporting-database`, the pipeline's own reporting database (a release-validation run passes
    its validation schema there); unset, $REPORTING_DATABASE_URL. Does nothing (None) outside a
    pipeline (no DEMAND_FORECAST_PIPELINE, or no database either way) and for the publish step, whose
    failure is the pipeline's failure already. Never raises: the step's own failure is what the
    caller reports; a failure to record it is returned as a message.
    """
    pipeline = os.environ.get(PIPELINE_ENV)
    url = database or os.environ.get(REPORTING_DATABASE_ENV)
    if step == "publish" or not pipeline or not url:
        return None
    if pipeline not in ("training", "scoring"):
        return f"not recorded: {PIPELINE_ENV}={pipeline!r} is neither training nor scoring"
    from demand_forecast.reporting.database import open_database

    dirs = [folder for folder in folders if folder.is_dir()]
    conditioned = next((d for d in dirs if (d / "data_quality.json").exists()), None)
    try:
        inputs = PublishInputs(
            pipeline="training" if pipeline == "training" else "scoring",
            run_id=resolve_run_id(None),
            conditioned=conditioned,
            status="failed",
            detail=f"step {step} failed: {detail}",
            step_folders=tuple(d for d in dirs if d != conditioned),
        )
        summary = publish(open_database(url), inputs, telemetry)
    except Exception as exc:  # the step's failure matters more than its record
        return f"the failed run could not be recorded in the reporting database: {type(exc).__name__}: {exc}"
    return f"recorded {pipeline} run {summary.run_id} as failed in the reporting database"
