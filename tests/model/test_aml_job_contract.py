"""The model CLI run the way an Azure ML job runs it, against a real MLflow tracking server.

What an AML command job gives the code (https://learn.microsoft.com/azure/machine-learning/how-to-use-mlflow-configure-tracking:
"jobs running on Azure Machine Learning compute clusters ... [the tracking URI is] automatically
configured for you"): MLFLOW_TRACKING_URI pointing at the workspace, MLFLOW_RUN_ID and
MLFLOW_EXPERIMENT_ID of the run AML created for the job in the job's experiment (not ours), and the
AZUREML_* variables. Here the workspace is a real `mlflow server` on 127.0.0.1 with a SQLite
backend, started by the fixture; its access log records every REST route the steps call, and every
route must be one AML serves (tests/model/aml_mlflow_routes.py, each cited to its AML page).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aml_mlflow_routes import ALLOWED_ROUTES, outside_allow_list
from step_fork_server import StepServer

# uvicorn's access log line: INFO:     127.0.0.1:53412 - "POST /api/2.0/mlflow/runs/create HTTP/1.1" 200 OK
ACCESS_LINE = re.compile(r'"(GET|POST|PATCH|DELETE|PUT) (/[^ ?"]*)[^"]* HTTP/[0-9.]+" (\d{3})')
CHAMPION = "models:/demand-forecast/Production"

# A module fixture runs the real model CLI end to end: minutes, so not in `make unit-fast`.
pytestmark = pytest.mark.slow


@dataclass
class TrackingServer:
    url: str
    log: Path

    def offset(self) -> int:
        return self.log.stat().st_size

    def routes_since(self, offset: int) -> list[tuple[str, str, int]]:
        text = self.log.read_bytes()[offset:].decode("utf-8", "replace")
        return [(m[1], m[2], int(m[3])) for m in ACCESS_LINE.finditer(text)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrackingServer]:
    """`mlflow server` with a SQLite backend; artifacts in a folder the client writes directly
    (--no-serve-artifacts), as AML's clients write to the workspace storage, not through the server."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = _free_port()
    log = folder / "server.log"
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
        "--backend-store-uri",
        f"sqlite:///{folder / 'mlflow.db'}",
        "--default-artifact-root",
        (folder / "artifacts").as_uri(),
        "--no-serve-artifacts",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AZUREML_"))}
    # No background job runner (huey consumers): AML has none, and they would outlive the server.
    env["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] = "false"
    with log.open("wb") as sink:
        # its own process group, so teardown ends the server and every worker it spawned (uvicorn)
        process = subprocess.Popen(
            command, stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600  # a loaded CI runner takes minutes to migrate the database
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:  # noqa: S310 (local)
                if response.status == 200:
                    break
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"mlflow server did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.5)
    try:
        yield TrackingServer(url, log)
    finally:
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """End the server's process group (the server and its workers), by the group id it was given."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def job_environment(server: TrackingServer, step: str) -> dict[str, str]:
    """The variables an AML job of `step` sees: its own run, in the job's experiment (not ours)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=server.url, registry_uri=server.url)
    experiment_name = f"demand_forecast_training-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(experiment_name)
    run = client.create_run(experiment_id, run_name=step)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AZUREML_"))}
    env.update(
        {
            "MLFLOW_TRACKING_URI": server.url,
            "MLFLOW_RUN_ID": run.info.run_id,
            "MLFLOW_EXPERIMENT_ID": experiment_id,
            "MLFLOW_EXPERIMENT_NAME": experiment_name,
            "AZUREML_RUN_ID": run.info.run_id,
            "AZUREML_ARM_SUBSCRIPTION": "00000000-0000-0000-0000-000000000001",
            "AZUREML_ARM_RESOURCEGROUP": "rg-fcst-dev-weu",
            "AZUREML_ARM_WORKSPACE_NAME": "mlw-fcst-dev-weu",
            "AZUREML_ARM_PROJECT_NAME": experiment_name,
            "AZUREML_EXPERIMENT_ID": experiment_id,
        }
    )
    return env


@dataclass
class StepResult:
    returncode: int
    output: str
    routes: list[tuple[str, str, int]]


REPO = Path(__file__).resolve().parents[2]


def _pins(path: Path) -> dict[str, str]:
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return pins


def image_only_pins() -> dict[str, str]:
    """The packages whose version the AML images hold instead of the tests' (requirements/
    aml-runtime.txt against requirements/constraints.txt): mlflow-skinny, azureml-mlflow, ..."""
    runtime = _pins(REPO / "requirements" / "aml-runtime.txt")
    tests = _pins(REPO / "requirements" / "constraints.txt")
    return {
        name: version
        for name, version in runtime.items()
        if tests.get(name) != version and name != "setuptools"
    }


@pytest.fixture(scope="session")
def image_packages() -> Path:
    """A folder with the images' own versions of those packages (pip install --target, no deps),
    put first on the steps' PYTHONPATH: the steps run the MLflow client the images run (review m4),
    everything else is the tests' (the same pins). Cached per pin set under build/."""
    pins = image_only_pins()
    key = hashlib.sha256(json.dumps(pins, sort_keys=True).encode()).hexdigest()[:12]
    target = REPO / "build" / "aml-job-packages" / key
    if not (target / ".complete").exists():
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
            + [f"{name}=={version}" for name, version in sorted(pins.items())],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert proc.returncode == 0, (
            f"could not install the images' MLflow client (needs PyPI):\n{proc.stderr}"
        )
        (target / ".complete").write_text(json.dumps(pins), encoding="utf-8")
    return target


def run_step(
    server: TrackingServer, cwd: Path, step: str, *args: str, packages: Path, steps: StepServer | None
) -> StepResult:
    """One step as one AML job: its own process with the job's variables. `steps` None: a new
    interpreter (`python -m demand_forecast`, the job's command); else forked from the step server,
    which imported the same packages once (the variables are set before the step runs any code)."""
    env = job_environment(server, step)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(packages), env.get("PYTHONPATH", "")) if p)
    start = server.offset()
    if steps is None:
        proc = subprocess.run(
            [sys.executable, "-m", "demand_forecast", step, *args],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=900,
        )
        returncode, output = proc.returncode, proc.stdout + proc.stderr
    else:
        outcome = steps.run([step, *args], env, cwd=cwd)
        returncode, output = (1 if outcome.returncode is None else outcome.returncode), outcome.output
    time.sleep(0.3)  # the access log line is written after the response
    return StepResult(returncode, output, server.routes_since(start))


@pytest.fixture(scope="module")
def step_server(image_packages: Path) -> Iterator[StepServer]:
    """The steps' fork server, on the images' MLflow client as each job is, with no job's variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "AZUREML_"))}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(image_packages), env.get("PYTHONPATH", "")) if p)
    server = StepServer(env)
    try:
        yield server
    finally:
        server.close()


def assert_job_contract(result: StepResult, step: str) -> None:
    assert result.returncode == 0, f"{step} failed inside the AML job contract:\n{result.output[-4000:]}"
    outside = outside_allow_list(result.routes)
    assert not outside, (
        f"{step} called MLflow routes Azure ML does not serve "
        f"(see tests/model/aml_mlflow_routes.py): {outside}"
    )
    # 4xx are answers the code handles (404 "no model registered yet", 400 "already exists"); 5xx never
    crashed = [route for route in result.routes if route[2] >= 500]
    assert not crashed, f"{step}: the tracking server failed on {crashed}"


@pytest.fixture(scope="module")
def pipeline_run(
    tracking_server: TrackingServer,
    tiny_data: Path,
    tmp_path_factory: pytest.TempPathFactory,
    image_packages: Path,
    step_server: StepServer,
) -> dict[str, StepResult]:
    """validate -> train -> evaluate -> register -> score -> monitor, then a second evaluate + register
    against the champion the first one made; each step in its own job run, from a folder outside the repo.
    `train` runs as the job's own command in a new interpreter; the others are forked from the step
    server (the same process boundary, without an interpreter's and torch's start-up each)."""
    work = tmp_path_factory.mktemp("job")
    run = functools.partial(run_step, packages=image_packages, steps=step_server)
    results: dict[str, StepResult] = {}
    conditioned, model = work / "conditioned", work / "model"
    results["validate"] = run(
        tracking_server, work, "validate", "--data", str(tiny_data), "--out", str(conditioned)
    )
    results["train"] = run_step(
        tracking_server,
        work,
        "train",
        *("--data", str(conditioned), "--out", str(model), "--epochs", "1"),
        packages=image_packages,
        steps=None,
    )
    results["evaluate"] = run(
        tracking_server,
        work,
        "evaluate",
        "--model",
        str(model),
        "--data",
        str(conditioned),
        "--out",
        str(work / "evaluation"),
        "--champion",
        CHAMPION,
    )
    results["register"] = run(
        tracking_server,
        work,
        "register",
        "--model",
        str(model),
        "--metrics",
        str(work / "evaluation" / "metrics.json"),
        "--out",
        str(work / "decision"),
    )
    results["score"] = run(
        tracking_server,
        work,
        "score",
        "--model",
        CHAMPION,
        "--data",
        str(conditioned),
        "--out",
        str(work / "scored"),
    )
    results["monitor"] = run(
        tracking_server,
        work,
        "monitor",
        "--model",
        CHAMPION,
        "--data",
        str(conditioned),
        "--out",
        str(work / "monitoring"),
        "--forecasts",
        str(work / "scored" / "forecasts.csv"),
    )
    results["evaluate-again"] = run(
        tracking_server,
        work,
        "evaluate",
        "--model",
        str(model),
        "--data",
        str(conditioned),
        "--out",
        str(work / "evaluation2"),
        "--champion",
        CHAMPION,
    )
    results["register-again"] = run(
        tracking_server,
        work,
        "register",
        "--model",
        str(model),
        "--metrics",
        str(work / "evaluation2" / "metrics.json"),
        "--out",
        str(work / "decision2"),
    )
    results["work"] = StepResult(0, str(work), [])
    return results


@pytest.mark.parametrize(
    "step",
    ["validate", "train", "evaluate", "register", "score", "monitor", "evaluate-again", "register-again"],
)
def test_every_step_succeeds_inside_the_aml_job_contract_using_only_routes_aml_serves(
    pipeline_run: dict[str, StepResult], step: str
) -> None:
    assert_job_contract(pipeline_run[step], step)


def test_the_steps_log_into_the_jobs_own_runs_and_register_from_them(
    pipeline_run: dict[str, StepResult], tracking_server: TrackingServer
) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_server.url, registry_uri=tracking_server.url)
    work = Path(pipeline_run["work"].output)
    info = json.loads((work / "model" / "model_info.json").read_text(encoding="utf-8"))
    train_run = client.get_run(info["mlflow_run_id"])
    assert train_run.data.tags["step"] == "train"
    assert train_run.info.experiment_id != "0"  # the job's experiment, not a default or our own
    decision = json.loads((work / "decision" / "decision.json").read_text(encoding="utf-8"))
    assert decision["promoted"] is True
    version = client.get_model_version("demand-forecast", decision["registered_version"])
    assert version.source.startswith("runs:/") or version.run_id
    # the second register compared against the champion the first made, and said so
    second = json.loads((work / "decision2" / "decision.json").read_text(encoding="utf-8"))
    assert second["champion_version"] == decision["registered_version"]
    forecasts = (work / "scored" / "forecasts.csv").read_text(encoding="utf-8").splitlines()
    assert len(forecasts) > 1


def test_the_registered_pyfunc_has_a_signature_and_pinned_requirements(
    pipeline_run: dict[str, StepResult], tracking_server: TrackingServer
) -> None:
    import mlflow

    work = Path(pipeline_run["work"].output)
    decision = json.loads((work / "decision" / "decision.json").read_text(encoding="utf-8"))
    mlflow.set_tracking_uri(tracking_server.url)
    mlflow.set_registry_uri(tracking_server.url)
    local = Path(
        mlflow.artifacts.download_artifacts(
            f"models:/demand-forecast/{decision['registered_version']}", tracking_uri=tracking_server.url
        )
    )
    mlmodel = (local / "MLmodel").read_text(encoding="utf-8")
    assert "signature:" in mlmodel
    assert "data_dir" in mlmodel
    assert "forecast_units" in mlmodel
    requirements = (local / "requirements.txt").read_text(encoding="utf-8").split()
    assert "demand-forecast-model" not in requirements  # unpublished: pip cannot install it
    assert all("==" in line or line.startswith("wheels/") for line in requirements), requirements
    assert any(line.startswith("pandas==") for line in requirements)


def test_the_allow_list_cites_an_aml_page_for_every_route() -> None:
    for route, (page, capability) in ALLOWED_ROUTES.items():
        assert page, route
        assert capability, route
        assert "logged-models" not in route[1]
        assert "alias" not in route[1]


def test_the_steps_run_the_mlflow_client_the_images_run(image_packages: Path) -> None:
    """Review m4: the contract rests on the client's routes, so it is the images' client that runs."""
    wanted = image_only_pins()["mlflow-skinny"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(image_packages), os.environ.get("PYTHONPATH")))),
    }
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            "import mlflow, importlib.metadata as m; print(mlflow.__version__, m.version('mlflow-skinny'))",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert proc.stdout.split() == [wanted, wanted]
