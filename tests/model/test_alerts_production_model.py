"""The model alert rules read the production model's metrics only (review-aml finding 3).

A release's validation run registers and monitors its own model in the stack's App Insights
(stackctl/aml/model_validation.py); its MAPE or age must not page on-call. The monitor step gives
every model-health metric a `registered_model` attribute (demand_forecast/telemetry.py), and the
model rules in modules/monitoring/main.alerts.tf filter on it (App Insights puts metric attributes
in customMetrics.customDimensions:
https://learn.microsoft.com/azure/azure-monitor/app/opentelemetry-add-modify#add-custom-metrics).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from demand_forecast import telemetry
from demand_forecast.registry import registered_model_name

REPO = Path(__file__).resolve().parents[2]
ALERTS_TF = REPO / "modules" / "monitoring" / "main.alerts.tf"
MODEL_RULES = {"model-mape-high": telemetry.MODEL_MAPE, "model-stale": telemetry.MODEL_AGE_DAYS}


class _Recorder:
    def __init__(self) -> None:
        self.points: list[tuple[str, float, dict[str, Any]]] = []

    def gauge(self, name: str, value: float, attributes: Any) -> None:
        self.points.append((name, value, dict(attributes)))


@pytest.mark.parametrize(
    ("reference", "name"),
    [
        ("models:/demand-forecast/Production", "demand-forecast"),
        ("models:/demand-forecast-validation/7", "demand-forecast-validation"),
        ("models:/a.b_c@champion", "a.b_c"),
        ("/mnt/outputs/model", ""),
    ],
)
def test_the_registered_name_of_a_model_reference(reference: str, name: str) -> None:
    assert registered_model_name(reference) == name


@pytest.mark.parametrize("name", ["demand-forecast", "demand-forecast-validation", ""])
def test_every_model_health_metric_names_its_registered_model(name: str) -> None:
    report = {
        "model_version": "3",
        "age_days": 12.0,
        "drift": {"price": 0.1},
        "recent_mape": 0.3,
        "segments": [{"segment": "east|large|fast", "recent_mape": 0.2, "recent_wape": 0.1}],
    }
    recorder = _Recorder()
    telemetry.record_monitoring(recorder, report, name)  # type: ignore[arg-type]
    emitted = {point[0] for point in recorder.points}
    assert {telemetry.MODEL_MAPE, telemetry.MODEL_AGE_DAYS} <= emitted
    assert all(point[2]["registered_model"] == name for point in recorder.points)


@pytest.mark.parametrize("rule", sorted(MODEL_RULES))
def test_each_model_rule_filters_on_the_production_model(rule: str) -> None:
    source = ALERTS_TF.read_text(encoding="utf-8")
    line = next(line for line in source.splitlines() if f'name == \\"{MODEL_RULES[rule]}\\"' in line)
    assert 'tostring(customDimensions.registered_model) == \\"${var.alerts.model_name}\\"' in line, line
