"""The local stack runs a distributed step with the engine AML runs it with (issue 20): torchrun.

With the model's `distributed.workers` > 1, `train` runs as
`{python} -m torch.distributed.run --standalone --nproc-per-node N <step command> train ...`; with 1 it
is the plain command through the configured step runner (in process in these tests). A worker killed
mid-step fails the run cleanly: the error names the rank and the signal, nothing is registered or
promoted, the local state keeps no half-trained model, no worker is left running, and the next apply
trains.

The stand-in model CLI (fake_model_cli.py) is rank-aware as the contract says (only rank 0 writes);
the real model is killed mid-training once, at the executor (no second apply: the stand-in shows the
recovery, and each real run costs three interpreters that import torch)."""

from __future__ import annotations

import importlib.util
import os
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from stackctl.errors import ExitStatus, StackctlError
from stackctl.graph import TRAIN, TRAINING, VALIDATE
from stackctl.local.apply import apply_local
from stackctl.local.executor import (
    InProcessSteps,
    LocalRunner,
    StepFailed,
    torchrun_command,
    torchrun_failures,
)
from stackctl.local.layout import LocalLayout
from stackctl.local.state import LocalState

ROOT = Path(__file__).resolve().parents[2]

# torch 2.13.0's summary when rank 1 exits 3 (copied from a real torchrun run): the agent stops rank 0.
SUMMARY = """torch.distributed.elastic.multiprocessing.errors.ChildFailedError:
============================================================
worker.py FAILED
------------------------------------------------------------
Failures:
[1]:
  time      : 2026-12-07_22:19:49
  host      : localhost
  rank      : 0 (local_rank: 0)
  exitcode  : -15 (pid: 8721)  (SIGTERM)
  error_file: <N/A>
  traceback : Signal 15 (SIGTERM) received by PID 8721
------------------------------------------------------------
Root Cause (first observed failure):
[0]:
  time      : 2026-12-07_22:19:49
  host      : localhost
  rank      : 1 (local_rank: 1)
  exitcode  : 3 (pid: 8722)
  error_file: <N/A>
  traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html
============================================================
"""


def test_torchrun_launches_a_module_or_a_script_and_refuses_anything_else() -> None:
    python = sys.executable
    launcher = [python, "-m", "torch.distributed.run", "--standalone"]
    assert torchrun_command([python, "-m", "demand_forecast"], 2) == [
        *launcher, "--nproc-per-node", "2", "-m", "demand_forecast",
    ]  # fmt: skip
    assert torchrun_command([python, "/x/cli.py"], 3)[-3:] == ["--nproc-per-node", "3", "/x/cli.py"]
    for command in (["demand-forecast"], [python], ["bash", "-c", "python -m demand_forecast"]):
        with pytest.raises(StackctlError, match="cannot run under torchrun"):
            torchrun_command(command, 2)


def test_the_failed_workers_and_their_own_status_are_read_from_torchruns_summary() -> None:
    root, other = torchrun_failures("worker output\n" + SUMMARY)
    assert (root.rank, root.returncode, root.pid) == (1, 3, 8722)  # the first observed failure first
    assert (other.rank, other.returncode, other.pid) == (0, -15, 8721)  # stopped by torchrun
    assert root.describe(2) == "worker rank 1 of 2 (pid 8722) exited with status 3"
    assert other.describe(2) == "worker rank 0 of 2 (pid 8721) was killed by signal 15 (SIGTERM)"
    no_others = "Failures:\n  <NO_OTHER_FAILURES>\n" + "-" * 60 + "\n"
    alone = re.sub(r"Failures:\n.*?-{60}\n", no_others, SUMMARY, flags=re.S)
    assert "SIGTERM" not in alone
    assert [failure.rank for failure in torchrun_failures(alone)] == [1]
    killed = SUMMARY.replace("exitcode  : 3 (pid: 8722)", "exitcode  : -9 (pid: 8722)")
    assert torchrun_failures(killed)[0].describe(2).endswith("was killed by signal 9 (SIGKILL)")
    assert torchrun_failures("Traceback ...\nModuleNotFoundError: No module named 'torch'\n") == []


def test_only_distributed_steps_with_several_workers_leave_the_configured_runner(tmp_path: Path) -> None:
    def never(*args: object, **kwargs: object) -> object:
        raise AssertionError("the configured runner must not run a torchrun step")

    runner = LocalRunner([sys.executable, "-m", "demand_forecast"], lake=tmp_path, runs=tmp_path, workers=2)
    command, _, torchrun = runner._launch(TRAIN.distributed)
    assert torchrun
    assert command[1:4] == ["-m", "torch.distributed.run", "--standalone"]
    single = LocalRunner(["x"], lake=tmp_path, runs=tmp_path, steps=never, workers=1)  # type: ignore[arg-type]
    assert single._launch(TRAIN.distributed) == (["x"], never, False)
    assert runner._launch(VALIDATE.distributed)[2] is False
    with pytest.raises(ValueError, match="workers must be >= 1"):
        LocalRunner(["x"], lake=tmp_path, runs=tmp_path, workers=0)


def _workers(root: Path, count: int) -> None:
    """The model setting `distributed.workers` through the local stack's `model_config` overlay."""
    (root / "model.yaml").write_text(f"distributed:\n  workers: {count}\n", encoding="utf-8")
    settings_file = root / "envs" / "local" / "settings.yaml"
    settings = yaml.safe_load(settings_file.read_text(encoding="utf-8"))
    settings["model_config"] = "model.yaml"
    settings_file.write_text(yaml.safe_dump(settings), encoding="utf-8")


def _rank_pid(rank: int, deadline: float) -> int:
    """The pid of the torchrun worker of `rank`, found among this process's children (psutil)."""
    import psutil

    while time.monotonic() < deadline:
        for child in psutil.Process().children(recursive=True):
            try:
                if (
                    child.environ().get("RANK") == str(rank)
                    and "torch.distributed.run" not in child.cmdline()
                ):
                    return int(child.pid)
            except psutil.Error:  # a process that ended while listed
                continue
        time.sleep(0.1)
    raise AssertionError(f"no torchrun worker of rank {rank} appeared")


def _still_running(before: set[int]) -> list[object]:
    """This process's descendants that started after `before` was taken and have not ended: what a
    step left running (a long-lived helper of the test session, such as the model CLI's fork server
    of tests/model, started earlier and is not the step's)."""
    import psutil

    return [
        child
        for child in psutil.Process().children(recursive=True)
        if child.pid not in before and child.status() != psutil.STATUS_ZOMBIE
    ]


def _descendants() -> set[int]:
    import psutil

    return {child.pid for child in psutil.Process().children(recursive=True)}


@pytest.mark.slow
def test_a_killed_worker_fails_the_run_cleanly_and_the_next_apply_trains(
    fake_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    _workers(fake_root, 2)
    flags = tmp_path / "workers"
    flags.mkdir()
    monkeypatch.setenv("FAKE_WORKERS", str(flags))
    monkeypatch.setenv("FAKE_WORKER_WAIT", "60")
    failures: list[BaseException] = []

    def apply() -> None:
        try:
            apply_local(fake_root, Console(quiet=True))
        except BaseException as exc:  # the thread hands the failure to the test
            failures.append(exc)

    thread = threading.Thread(target=apply)
    before = _descendants()
    thread.start()
    try:
        victim = _rank_pid(1, time.monotonic() + 120)
        os.kill(victim, signal.SIGKILL)
    finally:
        (flags / "go").touch()
        thread.join(120)
    assert not thread.is_alive()
    (failure,) = failures
    assert isinstance(failure, StepFailed), failure
    assert (failure.step, failure.status, failure.returncode) == ("train", ExitStatus.INTERNAL_ERROR, -9)
    assert f"worker rank 1 of 2 (pid {victim}) was killed by signal 9 (SIGKILL) first" in failure.what
    assert "torchrun stopped the step" in failure.what
    assert not failure.data_refused
    # nothing published: no registration, no champion; the state holds no half-trained model
    layout = LocalLayout(fake_root)
    assert not (layout.mlflow_dir / "champion.json").exists()
    assert LocalState.load(layout.state_file).champion is None
    assert [p for p in layout.quarantine.rglob("*") if p.is_file()] == []
    # torchrun stopped the other worker: nothing of the step is left running
    assert _still_running(before) == []
    assert str(failure.where).endswith("train.log")

    # the next apply (nobody kills a worker) trains with 2 workers and promotes
    monkeypatch.delenv("FAKE_WORKER_WAIT")
    result = apply_local(fake_root, Console(quiet=True))
    assert result is not None
    assert LocalState.load(layout.state_file).champion is not None
    train_log = next(layout.runs.rglob("train.log")).read_text(encoding="utf-8")
    assert "-m torch.distributed.run --standalone --nproc-per-node 2" in train_log
    assert sorted(p.name for p in flags.glob("rank-*")) == ["rank-0", "rank-1"]


def test_the_local_stack_reads_the_workers_from_the_models_settings(tmp_path: Path) -> None:
    from stackctl.local.settings import LocalSettings

    assert LocalSettings().distributed_workers(tmp_path) == 1  # defaults.yaml
    (tmp_path / "model.yaml").write_text("distributed:\n  workers: 3\n", encoding="utf-8")
    assert LocalSettings(model_config=Path("model.yaml")).distributed_workers(tmp_path) == 3
    (tmp_path / "model.yaml").write_text("distributed:\n  workers: 0\n", encoding="utf-8")
    with pytest.raises(StackctlError, match=r"distributed\.workers") as caught:
        LocalSettings(model_config=Path("model.yaml")).distributed_workers(tmp_path)
    assert str(caught.value.where).endswith("model.yaml")


def _tiny_panel(folder: Path) -> Path:
    """Two regions, 2 stores x 6 products, 60 weeks (scripts/generate_sample_data.py): fast to train."""
    path = ROOT / "scripts" / "generate_sample_data.py"
    spec = importlib.util.spec_from_file_location("generate_sample_data", path)
    assert spec is not None
    assert spec.loader is not None
    generator = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("generate_sample_data", generator)
    spec.loader.exec_module(generator)
    generator.write(generator.generate(generator.PanelShape(2, 2, 6, 60), seed=3), folder)
    return folder


@pytest.mark.slow
def test_a_worker_of_the_real_distributed_training_killed_mid_training_stops_the_run_cleanly(
    tmp_path: Path,
) -> None:
    """The real model under torchrun (2 workers, gloo): rank 1 is killed once both workers are
    training (each has its shard folder), rank 0 is stopped by torchrun instead of hanging in a
    collective, the step fails naming the rank and the signal, and register never runs."""
    from demand_forecast.cli import main as model_cli

    raw = _tiny_panel(tmp_path / "raw")
    scratch = tmp_path / "tmp"  # the workers' shard folders (demand-forecast-shards-*) land here
    scratch.mkdir()
    runner = LocalRunner(
        [sys.executable, "-m", "demand_forecast"],
        lake=tmp_path / "lake",
        runs=tmp_path / "runs",
        cwd=tmp_path,
        env={"TMPDIR": str(scratch), "MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'mlflow.db'}"},
        steps=InProcessSteps(model_cli),
        workers=2,
    )
    failures: list[BaseException] = []

    def train() -> None:
        try:
            runner.run(TRAINING, {"raw_data": str(raw), "epochs": 2}, "killed")
        except BaseException as exc:  # the thread hands the failure to the test
            failures.append(exc)

    thread = threading.Thread(target=train)
    before = _descendants()
    thread.start()
    deadline = time.monotonic() + 240
    while len(list(scratch.glob("demand-forecast-shards-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    victim = _rank_pid(1, deadline)
    os.kill(victim, signal.SIGKILL)
    thread.join(240)
    assert not thread.is_alive()
    (failure,) = failures
    assert isinstance(failure, StepFailed), failure
    assert (failure.step, failure.status, failure.returncode) == ("train", ExitStatus.INTERNAL_ERROR, -9)
    assert f"worker rank 1 of 2 (pid {victim}) was killed by signal 9 (SIGKILL) first" in failure.what
    assert not (tmp_path / "runs" / "killed" / "register").exists()
    assert not (tmp_path / "runs" / "killed" / "train" / "model" / "model.json").exists()
    assert _still_running(before) == []
