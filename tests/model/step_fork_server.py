"""A fork server for the model CLI's steps in tests: `python -m demand_forecast STEP ...` without the
interpreter's and torch's start-up in every step.

One process (`StepServer`, started with the environment and PYTHONPATH its steps need) imports the
model package once; each step is then a child forked from it: its own process, environment, working
directory and output, in its own session, so a SIGKILL ends the step and any training workers it
started, as `kill -9` ends a job. The same contract as stackctl's `ForkServerSteps` (what `make apply`
runs), but a server of the test's own: multiprocessing keeps one forkserver per process, started
with whatever sys.path the first user had, and the AML contract test needs the images' MLflow client
first on the path. With the start-up gone, a step's measured duration is its own work, so a kill at a
random fraction of it lands in the work and its writes, not in the imports.

Protocol: one JSON request per line on stdin ({"args", "env", "cwd", "kill_after"}), one JSON answer
per line on stdout ({"returncode": int, or null when killed, "seconds", "output"}).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

PRELOAD = (
    "demand_forecast.cli",
    "demand_forecast.pipeline",
    "demand_forecast.training",
    "demand_forecast.scoring",
    "demand_forecast.registry",
    "demand_forecast.publish",
    "demand_forecast.reporting.database",
    "mlflow",
    "torch",
)


@dataclass(frozen=True)
class StepOutcome:
    returncode: int | None  # None: killed before it finished
    seconds: float
    output: str  # stdout and stderr, interleaved


class StepServer:
    """The client: `run(args, env, cwd, kill_after)` runs one step in a fresh child of the server."""

    def __init__(self, env: dict[str, str]):
        self._process = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
        )
        assert self._process.stdin is not None
        assert self._process.stdout is not None
        self._requests, self._answers = self._process.stdin, self._process.stdout
        ready = self._answers.readline()
        if json.loads(ready or "{}").get("ready") is not True:
            self.close()
            raise RuntimeError("the step fork server did not start (its stderr is in the test output)")

    def run(
        self, args: list[str], env: dict[str, str], cwd: Path | None = None, kill_after: float | None = None
    ) -> StepOutcome:
        where = None if cwd is None else str(cwd)
        request = {"args": args, "env": env, "cwd": where, "kill_after": kill_after}
        self._requests.write(json.dumps(request) + "\n")
        self._requests.flush()
        answer = json.loads(self._answers.readline())
        return StepOutcome(answer["returncode"], answer["seconds"], answer["output"])

    def close(self) -> None:
        self._requests.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


# ---- the server side (this file run as a script) ------------------------------------------------------


def _child(request: dict[str, Any], output: str) -> None:
    """In the forked child: a session of its own, the step's environment, directory and output."""
    import atexit
    import traceback

    os.setsid()
    os.environ.clear()
    os.environ.update(request["env"])
    if request["cwd"]:
        os.chdir(str(request["cwd"]))
    sink = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(sink, 1)
    os.dup2(sink, 2)
    os.close(sink)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 (lives as long as the child)
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    code = 1
    try:
        from demand_forecast.cli import main

        code = int(main(list(request["args"])) or 0)
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:  # the step's crash is its output, as the interpreter prints it
        traceback.print_exc()
    finally:
        atexit._run_exitfuncs()  # what the end of an interpreter runs (telemetry flushes there)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def _wait(pid: int, kill_after: float | None) -> int | None:
    """The child's exit status, or None when it was still running after `kill_after` s and killed."""
    deadline = None if kill_after is None else time.monotonic() + kill_after
    while True:
        done, status = os.waitpid(pid, 0 if deadline is None else os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if deadline is not None and time.monotonic() >= deadline:
            os.killpg(pid, 9)  # the step and the training workers of its session
            os.waitpid(pid, 0)
            return None
        time.sleep(0.005)


def _serve(channel: IO[str]) -> None:
    import importlib
    import tempfile

    for name in PRELOAD:
        importlib.import_module(name)
    channel.write(json.dumps({"ready": True}) + "\n")
    channel.flush()
    for line in sys.stdin:
        request = json.loads(line)
        # A plain file, not a TemporaryDirectory: the child runs the atexit hooks it inherited, and
        # weakref.finalize's hook would remove a TemporaryDirectory (and the output) under the server.
        handle, output = tempfile.mkstemp(prefix="step-output-")
        os.close(handle)
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            _child(request, output)
        code = _wait(pid, request["kill_after"])
        seconds = time.perf_counter() - started
        written = Path(output)
        text = written.read_text(encoding="utf-8", errors="replace")
        written.unlink()
        channel.write(json.dumps({"returncode": code, "seconds": seconds, "output": text}) + "\n")
        channel.flush()


if __name__ == "__main__":
    # Answers go to a private copy of stdout; the preload's and anything else's prints go to stderr.
    _channel = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    _serve(_channel)
