"""Shared fixtures for the model tests: small generated panels and one trained sample model."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from demand_forecast.cli import main
from step_fork_server import StepServer

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "data" / "sample"
FEW_EPOCHS = "3"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "generate_sample_data", REPO / "scripts" / "generate_sample_data.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_sample_data"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def generator() -> ModuleType:
    return _generator()


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory, generator: ModuleType) -> Path:
    """Two regions, a few products, 60 weeks: enough for every step, fast to train."""
    out = tmp_path_factory.mktemp("tiny")
    generator.write(generator.generate(generator.PanelShape(2, 2, 6, 60), seed=3), out)
    return out


@pytest.fixture
def raw_copy(tmp_path: Path, tiny_data: Path) -> Path:
    """A writable copy of the tiny dataset to break in one way per test."""
    target = tmp_path / "raw"
    target.mkdir()
    for path in tiny_data.glob("*.csv"):
        (target / path.name).write_text(path.read_text())
    return target


@pytest.fixture(scope="session")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(autouse=True)
def _tracking(monkeypatch: pytest.MonkeyPatch, tracking_uri: str) -> None:
    """Every model test tracks into one throwaway store, never the developer's; undone after each test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    # mlflow.set_tracking_uri() in an earlier test on this worker (a stopped MLflow server, say) wins
    # over the variable: point mlflow's own setting back at the store too, where mlflow is loaded.
    mlflow = sys.modules.get("mlflow")
    if mlflow is not None:
        # set_registry_uri writes MLFLOW_REGISTRY_URI: set through monkeypatch first, so it is undone
        monkeypatch.setenv("MLFLOW_REGISTRY_URI", tracking_uri)
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)


@pytest.fixture(scope="session")
def model_steps() -> Iterator[StepServer]:
    """The model CLI's steps as processes of their own, each forked from one server that imported the
    model package, MLflow and torch once (tests/model/step_fork_server.py): a test that needs the
    process boundary (exit status, a clean environment, working directory, SIGKILL) without paying an
    interpreter's and torch's start-up for every step. One server per worker, shared by its tests."""
    server = StepServer(dict(os.environ))
    try:
        yield server
    finally:
        server.close()


@pytest.fixture(scope="session")
def sample_run(tmp_path_factory: pytest.TempPathFactory, tracking_uri: str) -> Path:
    """The checked-in sample taken through validate, train (few epochs) and evaluate once."""
    work = tmp_path_factory.mktemp("sample_run")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
        _run_sample(work)
    return work


def _run_sample(work: Path) -> None:
    assert main(["validate", "--data", str(SAMPLE), "--out", str(work / "conditioned")]) == 0
    # One network seed instead of the default 3 (a quarter of the fixture's cost): nothing asserted on
    # this run depends on the seed average (0.669 vs 0.674 of the baseline's MAPE on the sample);
    # test_training.py checks that every seed's network is written.
    config = work / "config.yaml"
    config.write_text("nn:\n  seeds: 1\n", encoding="utf-8")
    assert (
        main(
            [
                "--config",
                str(config),
                "train",
                "--data",
                str(work / "conditioned"),
                "--out",
                str(work / "model"),
                "--epochs",
                FEW_EPOCHS,
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(work / "model"),
                "--data",
                str(work / "conditioned"),
                "--out",
                str(work / "eval"),
                "--champion",
                "models:/demand-forecast/Production",
            ]
        )
        == 0
    )
