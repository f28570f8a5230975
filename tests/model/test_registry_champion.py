"""The champion and the tracking store, as a user outside the repository and a broken registry see them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml
from demand_forecast.errors import ExitStatus, RegistryError
from demand_forecast.registry import champion, project_root, tracking_uri
from demand_forecast.settings import load_settings
from step_fork_server import StepServer

REPO = Path(__file__).resolve().parents[2]


def test_a_relative_store_path_is_the_projects_not_the_working_directorys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(tmp_path)
    assert project_root() == REPO
    uri = tracking_uri(load_settings().tracking, create=False)
    assert uri == f"sqlite:///{REPO / '.local' / 'mlflow' / 'mlflow.db'}"
    assert not (tmp_path / ".local").exists()


def test_score_outside_the_repository_names_the_store_it_looked_in_and_creates_none(
    tmp_path: Path, tiny_data: Path, model_steps: StepServer
) -> None:
    """Was: a stray ./.local/mlflow/mlflow.db in the working directory and a bare "no model"."""
    store = tmp_path / "elsewhere" / "mlflow.db"
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"tracking": {"sqlite_path": str(store)}}), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    args = ["--config", str(config), "score", "--model", "models:/demand-forecast/Production"]
    # a process of its own in `work`, with only this environment (forked from the model CLI's server)
    proc = model_steps.run([*args, "--data", str(tiny_data), "--out", str(work / "scored")], env, cwd=work)
    assert proc.returncode == ExitStatus.SETUP_FAULT, proc.output
    assert str(store) in proc.output.replace("\n", "")
    assert not (work / ".local").exists()
    assert not store.exists()


def test_a_registry_that_fails_is_an_error_not_no_champion(monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: every MlflowException read as "no champion yet", so register promoted any model."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with pytest.raises(RegistryError, match=r"looking up the champion of demand-forecast failed at"):
        champion(load_settings(), "demand-forecast")


def test_score_against_a_failing_registry_is_a_setup_fault_with_the_store_named(
    tmp_path: Path, tiny_data: Path, model_steps: StepServer
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env.update(
        {
            "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "5",
        }
    )
    args = ["score", "--model", "models:/demand-forecast/Production", "--data", str(tiny_data)]
    proc = model_steps.run([*args, "--out", str(tmp_path / "scored")], env, cwd=tmp_path)
    assert proc.returncode == ExitStatus.SETUP_FAULT, proc.output
    printed = proc.output.replace("\n", "")
    assert "MLflow registry error in score" in printed
    assert "http://127.0.0.1:9" in printed
    assert "Traceback" not in proc.output


def test_no_model_registered_yet_means_no_champion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    import mlflow

    mlflow.MlflowClient(tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}").search_experiments()
    assert champion(load_settings(), "demand-forecast") is None
