"""The registry calls Azure ML's MLflow server answers (review-aml findings 1 and 2).

Finding 1: `MlflowClient.search_registered_models` appends ``tag.`mlflow.prompt.is_prompt` != 'true'``
to any filter for a non-Databricks registry (mlflow/tracking/_model_registry/client.py,
`search_registered_models`: `add_prompt_filter_string`); azureml-mlflow does not override it and AML
answers 400 INVALID_PARAMETER_VALUE "Currently unsupported filter string format"
(https://github.com/Azure/azure-sdk-for-python/issues/42155). The store below answers the same way,
so a champion lookup that searches fails here as it fails in AML.

Finding 2: `mlflow.register_model("runs:/...")` lists the run's artifacts through the artifact
repository and, when MLmodel is not found at the depth it expects (azureml-mlflow's
AzureMLflowArtifactRepository.list_artifacts(None) returns the `model` directory, not its files),
falls back to MLflow 3's logged-models API (mlflow/tracking/_model_registry/fluent.py
`_register_model` -> `_get_logged_models_from_run`; https://github.com/mlflow/mlflow/issues/14487),
which AML does not serve (tests/model/aml_mlflow_routes.py). The store below refuses that API and the
artifact repository hides MLmodel, as AML's would.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from demand_forecast.cli import main
from demand_forecast.errors import RegistryError
from demand_forecast.registry import champion
from demand_forecast.settings import load_settings


@pytest.fixture(autouse=True)
def _aml_refuses_tag_filters_and_logged_models(monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore as TrackingStore

    real_search = RegistryStore.search_registered_models

    def search(self: Any, filter_string: Any = None, *args: Any, **kwargs: Any) -> Any:
        if filter_string and "tag." in filter_string:
            raise MlflowException(
                f"Currently unsupported filter string format. Provided filter string: {filter_string}",
                error_code=INVALID_PARAMETER_VALUE,
            )
        return real_search(self, filter_string, *args, **kwargs)

    def no_logged_models(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise MlflowException("404: /api/2.0/mlflow/logged-models/search is not served by Azure ML")

    monkeypatch.setattr(RegistryStore, "search_registered_models", search)
    monkeypatch.setattr(TrackingStore, "search_logged_models", no_logged_models)


def _aml_artifact_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    """list_artifacts(None) of a run answers its top-level directories only, as azureml-mlflow's
    repository does, so MLflow cannot find MLmodel where `_register_model` looks."""

    from mlflow.store.artifact.runs_artifact_repo import RunsArtifactRepository

    monkeypatch.setattr(RunsArtifactRepository, "_list_run_artifacts", lambda self: [])


@pytest.mark.parametrize("name", ["aml-never-registered", "aml.validation", "aml_x"])
def test_no_model_yet_is_none_against_a_registry_that_refuses_tag_filters(name: str) -> None:
    import mlflow

    mlflow.MlflowClient().search_experiments()  # the store exists
    assert champion(load_settings(), name) is None


@pytest.mark.parametrize("name", ["aml-registered-a", "aml.registered.b", "aml_registered_c"])
def test_register_then_champion_against_aml_semantics(
    sample_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    import mlflow

    _aml_artifact_listing(monkeypatch)
    model, metrics = sample_run / "model", sample_run / "eval" / "metrics.json"
    argv = [
        "register",
        "--model",
        str(model),
        "--metrics",
        str(metrics),
        "--out",
        str(tmp_path),
        "--name",
        name,
    ]
    assert main(argv) == 0
    decision = json.loads((tmp_path / "decision.json").read_text())
    assert decision["promoted"] is True
    found = champion(load_settings(), name)
    assert found is not None
    assert found.version == decision["registered_version"]
    client = mlflow.MlflowClient()
    version = client.get_model_version(name, found.version)
    assert version.source == f"{client.get_run(version.run_id).info.artifact_uri.rstrip('/')}/model"
    assert version.run_id


@pytest.mark.parametrize("code", ["INTERNAL_ERROR", "PERMISSION_DENIED", "INVALID_PARAMETER_VALUE"])
def test_a_lookup_that_fails_otherwise_is_a_registry_error(
    monkeypatch: pytest.MonkeyPatch, code: str
) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ErrorCode

    def broken(self: Any, name: str) -> Any:
        raise MlflowException(f"{code} from the registry", error_code=ErrorCode.Value(code))

    monkeypatch.setattr(mlflow.MlflowClient, "get_registered_model", broken)
    mlflow.MlflowClient().search_experiments()
    with pytest.raises(RegistryError, match="looking up the champion of demand-forecast"):
        champion(load_settings(), "demand-forecast")


@pytest.mark.parametrize("code", ["RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"])
def test_the_registrys_not_found_is_no_model_yet(monkeypatch: pytest.MonkeyPatch, code: str) -> None:
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ErrorCode

    def missing(self: Any, name: str) -> Any:
        raise MlflowException(
            f"Registered Model with name={name} not found", error_code=ErrorCode.Value(code)
        )

    monkeypatch.setattr(mlflow.MlflowClient, "get_registered_model", missing)
    mlflow.MlflowClient().search_experiments()
    assert champion(load_settings(), "demand-forecast") is None


def test_a_route_that_is_not_there_is_a_registry_error_not_no_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """A non-JSON 404 (wrong tracking URI, proxy) is ENDPOINT_NOT_FOUND: never "no champion"."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ErrorCode

    def no_route(self: Any, name: str) -> Any:
        raise MlflowException(
            "API request failed with error code 404 != 200", error_code=ErrorCode.Value("ENDPOINT_NOT_FOUND")
        )

    monkeypatch.setattr(mlflow.MlflowClient, "get_registered_model", no_route)
    mlflow.MlflowClient().search_experiments()
    with pytest.raises(RegistryError):
        champion(load_settings(), "demand-forecast")
