"""The local executor's step runners keep one contract: argv, environment and working directory in;
exit status, stdout and stderr out; nothing of a step's environment or directory left behind.

`run_subprocess` (a process per step, the default), `ForkServerSteps` (a process per step forked
from one worker that imported the model once: `make apply`) and `InProcessSteps` (tests) must give
the same answer for the same step.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from stackctl.local.executor import (
    ForkServerSteps,
    InProcessSteps,
    StepProcess,
    StepRunner,
    load_entry_point,
    run_subprocess,
)

HERE = Path(__file__).resolve().parent
ENTRY = "step_entry_point:main"  # tests/stackctl/step_entry_point.py
COMMAND = [sys.executable, str(HERE / "step_entry_point.py")]


def runners() -> dict[str, StepRunner]:
    found: dict[str, StepRunner] = {
        "subprocess": run_subprocess,
        "in-process": InProcessSteps(load_entry_point(ENTRY)),
    }
    if ForkServerSteps.available():
        found["forkserver"] = ForkServerSteps(ENTRY)
    return found


@pytest.fixture(params=["subprocess", "in-process", "forkserver"])
def runner(request: pytest.FixtureRequest) -> StepRunner:
    available = runners()
    if request.param not in available:
        pytest.skip(f"{request.param} is not available on this platform")
    return available[request.param]


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, **extra}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")])
    return env


def test_a_step_sees_its_environment_and_directory_and_its_output_comes_back(
    runner: StepRunner, tmp_path: Path
) -> None:
    result = runner(COMMAND, ["echo", "hello"], env=_env(STEP_VALUE="42"), cwd=tmp_path)
    assert result == StepProcess(0, f"hello 42 {tmp_path}\n", "to stderr\n")


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        (["exit", "2"], 2, "bad input\n"),  # the model CLI's BAD_INPUT
        (["raise"], 1, "RuntimeError: the step broke"),
        (["sys-exit", "3"], 3, ""),
    ],
)
def test_a_failing_step_gives_its_exit_status_and_error(
    runner: StepRunner, tmp_path: Path, args: list[str], code: int, stderr: str
) -> None:
    result = runner(COMMAND, args, env=_env(), cwd=tmp_path)
    assert result.returncode == code
    assert stderr in result.stderr


def test_nothing_of_a_step_stays_in_the_caller(runner: StepRunner, tmp_path: Path) -> None:
    before_env, before_cwd = dict(os.environ), os.getcwd()
    runner(COMMAND, ["echo", "x"], env=_env(STEP_VALUE="leak"), cwd=tmp_path)
    assert os.environ.get("STEP_VALUE") == before_env.get("STEP_VALUE")
    assert os.getcwd() == before_cwd
    # and nothing of one step reaches the next: the second sees its own value only
    second = runner(COMMAND, ["echo", "y"], env=_env(STEP_VALUE="own"), cwd=tmp_path)
    assert second.stdout == f"y own {tmp_path}\n"


def test_the_step_worker_preloads_modules_that_exist() -> None:
    # multiprocessing's forkserver skips a preload that fails to import, silently: a renamed module
    # would only make every step slower again. find_spec finds without importing (torch stays out).
    from importlib.util import find_spec

    from stackctl.local.apply import MODEL_ENTRY_POINT, MODEL_STEP_MODULES

    missing = [
        name for name in (MODEL_ENTRY_POINT.partition(":")[0], *MODEL_STEP_MODULES) if find_spec(name) is None
    ]
    assert missing == []
