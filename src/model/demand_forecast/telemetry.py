"""OpenTelemetry metrics of the pipeline steps: to Application Insights in Azure, to a file locally.

Every step emits its duration and outcome; `monitor` and `publish` emit the model metrics that the
alert rules in modules/monitoring/main.alerts.tf query (`METRIC_NAMES`; a test compares the two).

Where the metrics go:

* `APPLICATIONINSIGHTS_CONNECTION_STRING` set: Azure Monitor's OpenTelemetry distro
  (`azure-monitor-opentelemetry`, `configure_azure_monitor(connection_string=..., credential=...)`,
  https://learn.microsoft.com/azure/azure-monitor/app/opentelemetry-configuration?tabs=python), with
  Microsoft Entra authentication: our App Insights has local (key) authentication off, so ingestion
  only accepts a token, and the emitting identity (the compute cluster's) needs the
  "Monitoring Metrics Publisher" role on the App Insights resource
  (https://learn.microsoft.com/azure/azure-monitor/app/azure-ad-authentication). OpenTelemetry
  metrics land in the `customMetrics` table under their instrument name, attributes in
  `customDimensions`.
* otherwise: the OpenTelemetry SDK's own `ConsoleMetricExporter`, writing one JSON document per
  export to `<DEMAND_FORECAST_TELEMETRY_DIR or .local/telemetry>/metrics.jsonl`.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from demand_forecast.credentials import job_credential
from demand_forecast.project import project_root

CONNECTION_STRING_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"
TELEMETRY_DIR_ENV = "DEMAND_FORECAST_TELEMETRY_DIR"
DEFAULT_TELEMETRY_DIR = Path(".local") / "telemetry"
METRICS_FILE = "metrics.jsonl"
SERVICE_NAME = "demand-forecast"

# Instrument names: the contract with the alert rules (modules/monitoring) and dashboards.
STEP_DURATION = "step_duration_seconds"  # histogram, s; attributes step, outcome
STEP_RUNS = "step_runs"  # counter; attributes step, outcome
MODEL_MAPE = "model_mape"  # gauge, fraction; the model in use, recent weeks; model, segment, model_version
MODEL_HOLDOUT_MAPE = "model_holdout_mape"  # gauge, fraction; a candidate's holdout; model, segment
# Beside every MAPE, the volume metrics of demand_forecast.metrics (same attributes as their MAPE).
MODEL_WAPE = "model_wape"  # gauge, fraction; sum |error| / sum actual, recent weeks
MODEL_BIAS = "model_bias"  # gauge, fraction; sum forecast / sum actual - 1, recent weeks
MODEL_HOLDOUT_WAPE = "model_holdout_wape"  # gauge, fraction; a candidate's holdout
MODEL_HOLDOUT_BIAS = "model_holdout_bias"  # gauge, fraction; a candidate's holdout
MODEL_AGE_DAYS = "model_age_days"  # gauge, days; model_version
MODEL_DRIFT_MAX_PSI = "model_drift_max_psi"  # gauge, PSI; model_version
DATA_QUARANTINED_ROWS = "data_quarantined_rows"  # counter, rows; pipeline, file
FORECASTS_WRITTEN = "forecasts_written"  # counter, rows; model_version
# Partitions (regions) a distributed train could not train: their segments keep the champion's models
# (docs/scale.md); register emits it when it refuses a run, publish for every registered run.
# gauge, partitions; attributes model_version, registered_model
TRAINING_FAILED_PARTITIONS = "training_failed_partitions"

METRIC_NAMES = (
    STEP_DURATION,
    STEP_RUNS,
    MODEL_MAPE,
    MODEL_HOLDOUT_MAPE,
    MODEL_WAPE,
    MODEL_BIAS,
    MODEL_HOLDOUT_WAPE,
    MODEL_HOLDOUT_BIAS,
    MODEL_AGE_DAYS,
    MODEL_DRIFT_MAX_PSI,
    DATA_QUARANTINED_ROWS,
    FORECASTS_WRITTEN,
    TRAINING_FAILED_PARTITIONS,
)

Attributes = Mapping[str, str]


@dataclass
class Telemetry:
    """The meter provider of one step's process and its instruments; `shutdown()` flushes them."""

    provider: Any
    destination: str
    instruments: dict[str, Any] = field(default_factory=dict)
    _file: IO[str] | None = None

    def _instrument(self, name: str) -> Any:
        if name not in self.instruments:
            meter = self.provider.get_meter("demand_forecast")
            if name in (STEP_DURATION,):
                self.instruments[name] = meter.create_histogram(name, unit="s")
            elif name in (STEP_RUNS, DATA_QUARANTINED_ROWS, FORECASTS_WRITTEN):
                self.instruments[name] = meter.create_counter(name)
            else:
                self.instruments[name] = meter.create_gauge(name)
        return self.instruments[name]

    def gauge(self, name: str, value: float, attributes: Attributes) -> None:
        self._instrument(name).set(float(value), dict(attributes))

    def add(self, name: str, value: float, attributes: Attributes) -> None:
        self._instrument(name).add(value, dict(attributes))

    def histogram(self, name: str, value: float, attributes: Attributes) -> None:
        self._instrument(name).record(float(value), dict(attributes))

    def shutdown(self) -> None:
        self.provider.shutdown()
        if self._file is not None:
            self._file.close()


def telemetry_dir() -> Path:
    """DEMAND_FORECAST_TELEMETRY_DIR, else `.local/telemetry` of the project (`project_root()`),
    never of the working directory: a step run elsewhere leaves no stray `.local/` behind."""
    from_env = os.environ.get(TELEMETRY_DIR_ENV)
    if from_env:
        return Path(from_env)
    root = project_root()
    return root / DEFAULT_TELEMETRY_DIR if root is not None else DEFAULT_TELEMETRY_DIR


def _azure(connection_string: str) -> Telemetry:
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry import metrics
    from opentelemetry.sdk.resources import Resource

    configure_azure_monitor(
        connection_string=connection_string,
        # The job identity (AZURE_CLIENT_ID), the one holding Monitoring Metrics Publisher.
        credential=job_credential(),
        resource=Resource.create({"service.name": SERVICE_NAME}),
        disable_tracing=True,
        disable_logging=True,
        enable_live_metrics=False,
    )
    return Telemetry(metrics.get_meter_provider(), "Application Insights")


def _local(folder: Path) -> Telemetry:
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / METRICS_FILE
    handle = path.open("a", encoding="utf-8")
    exporter = ConsoleMetricExporter(out=handle, formatter=lambda data: data.to_json(indent=None) + "\n")
    # One export at shutdown is enough for a step that runs minutes; the interval only bounds a hang.
    reader = PeriodicExportingMetricReader(exporter, export_interval_millis=600_000)
    provider = MeterProvider(
        metric_readers=[reader], resource=Resource.create({"service.name": SERVICE_NAME})
    )
    return Telemetry(provider, str(path), _file=handle)


def configure() -> Telemetry:
    """Telemetry for this process: App Insights when its connection string is set, else the local file."""
    connection_string = os.environ.get(CONNECTION_STRING_ENV)
    if connection_string:
        return _azure(connection_string)
    return _local(telemetry_dir())


@contextmanager
def step_metrics(telemetry: Telemetry, step: str) -> Iterator[dict[str, str]]:
    """Time the block and emit `step_duration_seconds` and `step_runs` with its outcome.

    The yielded dict's "outcome" starts as "failed"; the caller sets "succeeded" or
    "rejected_input" (exit status 2, data refused) before leaving the block.
    """
    state = {"outcome": "failed"}
    started = time.perf_counter()
    try:
        yield state
    finally:
        attributes = {"step": step, "outcome": state["outcome"]}
        telemetry.histogram(STEP_DURATION, time.perf_counter() - started, attributes)
        telemetry.add(STEP_RUNS, 1, attributes)


def record_monitoring(telemetry: Telemetry, report: Mapping[str, Any], registered_model: str = "") -> None:
    """The model-health metrics of a monitoring.json: age, max drift, recent MAPE, WAPE and bias
    overall and per segment. Each carries `registered_model` (the registry name the monitored model
    was loaded under, "" for a model folder) so the alert rules page on the production model only,
    not on a release's validation model (modules/monitoring/main.alerts.tf; review-aml finding 3)."""
    version = str(report.get("model_version"))
    health = {"model_version": version, "registered_model": registered_model}
    if report.get("age_days") is not None:
        telemetry.gauge(MODEL_AGE_DAYS, float(report["age_days"]), health)
    drift = [float(v) for v in (report.get("drift") or {}).values() if v is not None]
    if drift:
        telemetry.gauge(MODEL_DRIFT_MAX_PSI, max(drift), health)
    recent = (("recent_mape", MODEL_MAPE), ("recent_wape", MODEL_WAPE), ("recent_bias", MODEL_BIAS))
    scopes = [("overall", report), *((str(s["segment"]), s) for s in report.get("segments") or [])]
    for segment, values in scopes:
        attributes = {"model": "ensemble", "segment": segment, **health}
        for key, name in recent:
            if values.get(key) is not None:
                telemetry.gauge(name, float(values[key]), attributes)


def record_failed_partitions(
    telemetry: Telemetry, failed: Mapping[str, str], model_version: str, registered_model: str
) -> None:
    """`training_failed_partitions`: how many partitions of the run failed in training (0 included, so
    a dashboard sees every run), with the run's model version and registered model name."""
    attributes = {"model_version": model_version, "registered_model": registered_model}
    telemetry.gauge(TRAINING_FAILED_PARTITIONS, float(len(failed)), attributes)


def read_local_metrics(folder: Path) -> list[dict[str, Any]]:
    """Every metric the local exporter wrote under `folder`: {name, attributes, value} per data point."""
    path = folder / METRICS_FILE
    points: list[dict[str, Any]] = []
    if not path.exists():
        return points
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        document = json.loads(line)
        for resource in document.get("resource_metrics", []):
            for scope in resource.get("scope_metrics", []):
                for metric in scope.get("metrics", []):
                    for point in metric.get("data", {}).get("data_points", []):
                        value = point.get("value", point.get("sum"))
                        points.append(
                            {
                                "name": metric["name"],
                                "attributes": point.get("attributes", {}),
                                "value": value,
                            }
                        )
    return points
