"""Fixtures for stackctl tests: a throw-away repository root (FORECAST_STACK_ROOT) per test.

The local stack's steps run the fake model CLI in this process (`InProcessSteps`, the executor's
step-runner seam), and the dashboard is rendered only for tests marked `dashboard`, the ones that
read it: nine interpreter starts and a plotly render per apply were most of these tests' time.
`test_local_stack.py` keeps one apply through real subprocesses (`run_subprocess`).
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import fake_model_cli
import pytest
import yaml

from stackctl.local import apply as local_apply
from stackctl.local.executor import InProcessSteps
from stackctl.local.layout import LocalLayout

HERE = Path(__file__).resolve().parent
FAKE_MODEL_CLI = HERE / "fake_model_cli.py"


def write_sample(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shipments.csv").write_text(
        "week_start,store_id,product_id,units,returns\n"
        + "".join(f"2026-01-{day:02d},S{s},P1,{10 + s + day},0\n" for day in (5, 12, 19, 26) for s in (1, 2)),
        encoding="utf-8",
    )
    (folder / "stores.csv").write_text(
        "store_id,region,store_format\nS1,north,large\nS2,north,large\n", encoding="utf-8"
    )


@pytest.fixture(scope="session")
def mlflow_store_template(shared_artifact: Callable[[str, Callable[[Path], None]], Path]) -> Path:
    """An MLflow SQLite store provisioned once for all workers: its schema migrations take seconds,
    every test needs one (each copies it). Keyed by MLflow's version, which decides the schema."""
    from stackctl.local.provision import _provision_mlflow

    def provision(folder: Path) -> None:
        layout = LocalLayout(folder)
        layout.mlflow_dir.mkdir(parents=True)
        _provision_mlflow(layout)

    folder = shared_artifact(f"mlflow-store-{importlib.metadata.version('mlflow')}", provision)
    return LocalLayout(folder).mlflow_dir / "mlflow.db"


@pytest.fixture
def fake_root(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    mlflow_store_template: Path,
    request: pytest.FixtureRequest,
) -> Iterator[Path]:
    """A repository root whose local stack runs the fake model CLI on a tiny sample, in process."""
    root = tmp_path / "repo"
    (root / ".local" / "mlflow").mkdir(parents=True)
    shutil.copy(mlflow_store_template, root / ".local" / "mlflow" / "mlflow.db")
    write_sample(root / "data" / "sample")
    settings = {
        "sample_data": "data/sample",
        "step_command": [sys.executable, str(FAKE_MODEL_CLI)],
        "training": {"seed": 1, "margin": 0.0},
    }
    (root / "envs" / "local").mkdir(parents=True)
    (root / "envs" / "local" / "settings.yaml").write_text(yaml.safe_dump(settings), encoding="utf-8")
    (root / "src" / "model" / "demand_forecast").mkdir(parents=True)
    (root / "src" / "model" / "demand_forecast" / "cli.py").write_text("VERSION = 1\n", encoding="utf-8")
    monkeypatch.setenv("FORECAST_STACK_ROOT", str(root))
    monkeypatch.setenv("FAKE_CALLS", str(tmp_path / "calls.jsonl"))
    monkeypatch.delenv("FAKE_FAIL_STEP", raising=False)
    monkeypatch.setattr(local_apply, "step_runner", lambda settings: InProcessSteps(fake_model_cli.main))
    if request.node.get_closest_marker("dashboard") is None:
        monkeypatch.setattr(local_apply, "render_local_dashboard", _not_rendered)
    yield root
    shutil.rmtree(root / ".local", ignore_errors=True)


def _not_rendered(layout: LocalLayout, settings: object, conditioned: object) -> Path:
    """Stands in for the dashboard renderer where a test does not read the dashboard."""
    return layout.dashboard
