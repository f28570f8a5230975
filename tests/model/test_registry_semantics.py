"""Registration and "no model yet" as Azure ML documents them (issue 22 item 14, review S1/S2).

S1: register with `mlflow.register_model("runs:/<run>/model", name)` semantics: MLflow resolves the
`runs:/` URI to the run's artifact location on the client, so the registry stores a location it can
serve (https://learn.microsoft.com/azure/machine-learning/how-to-manage-models-mlflow#create-models-from-existing-run;
mlflow/tracking/_model_registry/fluent.py `_register_model`).
S2: "no model registered yet" is `get_registered_model` answering RESOURCE_DOES_NOT_EXIST; the
champion's stage lookup must not be what decides it (an INTERNAL_ERROR there must not stop the
first training run). Not `search_registered_models`: MLflow adds a `tag.` filter AML refuses
(review-aml finding 1, tests/model/test_registry_aml_filters.py).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from demand_forecast.cli import main
from demand_forecast.errors import RegistryError, UsageError
from demand_forecast.registry import champion
from demand_forecast.settings import load_settings


def _register(sample_run: Path, out: Path, name: str) -> dict[str, Any]:
    model, metrics = sample_run / "model", sample_run / "eval" / "metrics.json"
    argv = ["register", "--model", str(model), "--metrics", str(metrics), "--out", str(out), "--name", name]
    assert main(argv) == 0
    return dict(json.loads((out / "decision.json").read_text()))


@pytest.mark.parametrize("name", ["ds-semantics-a", "ds-semantics.b", "ds_semantics_c"])
def test_a_registered_version_stores_the_runs_artifact_location_not_a_runs_uri(
    sample_run: Path, tmp_path: Path, name: str
) -> None:
    import mlflow

    decision = _register(sample_run, tmp_path / "r", name)
    client = mlflow.MlflowClient()
    version = client.get_model_version(name, decision["registered_version"])
    assert not str(version.source).startswith("runs:/"), version.source
    run_artifacts = client.get_run(version.run_id).info.artifact_uri.rstrip("/")
    assert version.source == f"{run_artifacts}/model"
    assert client.get_model_version_download_uri(name, version.version) == version.source


def _aml_like_missing_model(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """get_latest_versions of an unregistered name answers INTERNAL_ERROR, as MLflow reports a
    non-MLflow error body; records the names it was asked about."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INTERNAL_ERROR

    asked: list[str] = []
    real = mlflow.MlflowClient.get_latest_versions

    def get_latest_versions(self: Any, name: str, stages: Any = None) -> Any:
        asked.append(name)
        if not self.search_registered_models(filter_string=f"name = '{name}'"):
            raise MlflowException("Model not found (AML error body)", error_code=INTERNAL_ERROR)
        return real(self, name, stages)

    monkeypatch.setattr(mlflow.MlflowClient, "get_latest_versions", get_latest_versions)
    return asked


@pytest.mark.parametrize("name", ["never-registered", "demand-forecast-validation", "x"])
def test_no_model_yet_is_none_whatever_error_code_the_registry_would_answer(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    import mlflow

    _aml_like_missing_model(monkeypatch)
    mlflow.MlflowClient().search_experiments()  # the store exists
    assert champion(load_settings(), name) is None


def test_a_registered_model_without_a_champion_is_none_and_with_one_is_found(
    sample_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked = _aml_like_missing_model(monkeypatch)
    decision = _register(sample_run, tmp_path / "r", "ds-semantics-champion")
    assert decision["promoted"] is True  # the first model becomes champion
    found = champion(load_settings(), "ds-semantics-champion")
    assert found is not None
    assert found.version == decision["registered_version"]
    assert "ds-semantics-champion" in asked


def test_a_failing_lookup_is_a_registry_error_not_no_champion(monkeypatch: pytest.MonkeyPatch) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INTERNAL_ERROR

    def broken(self: Any, name: str) -> Any:
        raise MlflowException("503 from the registry", error_code=INTERNAL_ERROR)

    monkeypatch.setattr(mlflow.MlflowClient, "get_registered_model", broken)
    mlflow.MlflowClient().search_experiments()
    with pytest.raises(RegistryError, match="looking up the champion of demand-forecast"):
        champion(load_settings(), "demand-forecast")


@pytest.mark.parametrize("name", ["a' OR name LIKE '%", "-leading-dash", "name with space"])
def test_a_name_that_cannot_be_searched_exactly_is_refused(name: str) -> None:
    import mlflow

    mlflow.MlflowClient().search_experiments()
    with pytest.raises(UsageError, match="registered model name"):
        champion(load_settings(), name)


def test_score_and_monitor_of_one_run_use_one_champion_though_a_promotion_lands_between(
    sample_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review m6: score and monitor each resolved the champion, so a promotion between them gave one
    scoring run forecasts from vN and monitoring of vN+1. Score pins the version; monitor uses it."""
    from demand_forecast import pipeline
    from demand_forecast.registry import MODEL_REF_FILE, promote

    name = "ds-semantics-once"
    first = _register(sample_run, tmp_path / "r1", name)
    second = _register(sample_run, tmp_path / "r2", name)
    assert second["promoted"] is False  # an equal model does not beat the champion
    reference = f"models:/{name}/Production"
    data, scored = str(sample_run / "conditioned"), tmp_path / "scored"
    assert main(["score", "--model", reference, "--data", data, "--out", str(scored)]) == 0
    pinned = json.loads((scored / MODEL_REF_FILE).read_text())
    assert pinned == {"requested": reference, "resolved": f"models:/{name}/{first['registered_version']}"}

    promote(load_settings(), name, second["registered_version"])  # a promotion lands mid-run
    loaded: list[str] = []
    real_load = pipeline.load_model

    def spy(ref: str, settings: Any) -> Any:
        loaded.append(ref)
        return real_load(ref, settings)

    monkeypatch.setattr(pipeline, "load_model", spy)
    argv = ["monitor", "--model", reference, "--data", data, "--out", str(tmp_path / "monitoring")]
    assert main([*argv, "--forecasts", str(scored / "forecasts.csv")]) == 0
    assert loaded == [pinned["resolved"]]
    # Forecasts without a pinned reference (scored before this change): monitor resolves as told.
    unpinned = tmp_path / "unpinned"
    shutil.copytree(scored, unpinned)
    (unpinned / MODEL_REF_FILE).unlink()
    loaded.clear()
    assert main([*argv, "--forecasts", str(unpinned / "forecasts.csv")]) == 0
    assert loaded == [reference]
