"""The local executor of the pipeline graph: each step is one `demand_forecast` CLI command.

It runs the nodes of a `stackctl.graph.Pipeline` in order, wiring each step's inputs to the
pipeline's inputs or to folders written by earlier steps, exactly as the AML pipeline component does.
Outputs that belong in the data lake go to `.local/lake/<file system>/<run id>/`; the rest to
`.local/runs/<run id>/<step>/`. A failing step stops the run: later steps (e.g. `register`, the only one
that moves the champion stage) never start; the failing step itself records the run as failed in the
reporting database (`demand_forecast.publish.record_failed_step`): the run's `reporting_database` input,
bound to every step's `--reporting-database` as in AML, and the pipeline and run id from the same
environment variables deploy sets on every AML job (`stackctl.aml.specs.job_environment`).

How a step's command runs is the executor's `StepRunner` (the same contract each way: argv, the
environment, the working directory in; exit status, stdout, stderr out):

* `run_subprocess` (the default): a new process per step, as AML runs each step as a command in
  its own container;
* `ForkServerSteps` (`make apply`): still a process per step, forked from one long-lived worker that
  imported the model package once, so no step pays the interpreter's and torch's start-up again;
* `InProcessSteps` (tests): the entry point called in this process, with the step's environment
  and working directory set around the call.

A distributed step (`Step.distributed`, e.g. train) with more than one worker runs under the engine AML
runs it with: `{python} -m torch.distributed.run --standalone --nproc-per-node N <the step's command>`
(`torchrun_command`), always as its own subprocess, since torchrun starts and watches the workers
itself. torchrun exits 1 whatever failed; the executor reads the rank that failed first, and its exit
status, from torchrun's failure summary (`torchrun_failures`), so a worker that refused its data still
reads as refused data and a killed worker names its rank and signal.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib
import io
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from demand_forecast.publish import PIPELINE_ENV, RUN_ID_ENV

from stackctl.errors import ExitStatus, StackctlError
from stackctl.graph import Pipeline, render_args

# What a step's exit status (one table for the model CLI and stackctl: demand_forecast.errors) says
# went wrong, what to do about it, and the status stackctl itself then exits with. Only DATA_REFUSED
# blames the data; anything outside the table (a signal, a crash of the interpreter) is internal.
_FAILURES: dict[ExitStatus, tuple[str, str]] = {
    ExitStatus.DATA_REFUSED: (
        "rejected its input data",
        "correct the data named above and run `make apply` again; nothing after this step ran",
    ),
    ExitStatus.SETUP_FAULT: (
        "stopped on an environment or setup fault (the data is not at fault)",
        "fix what the message above names (configuration, a missing output, the registry, the "
        "reporting database) and run `make apply` again; the champion model is unchanged",
    ),
    ExitStatus.INTERNAL_ERROR: (
        "failed unexpectedly (a bug)",
        "read the traceback in the step log; nothing after this step ran, the champion model is unchanged",
    ),
}


def step_exit_status(returncode: int) -> ExitStatus:
    """The table's status for a step's return code; a code outside the table is an internal error."""
    try:
        status = ExitStatus(returncode)
    except ValueError:
        return ExitStatus.INTERNAL_ERROR
    return status if status in _FAILURES else ExitStatus.INTERNAL_ERROR


StepCallback = Callable[[str, str, float], None]  # (step, status, seconds)


@dataclass(frozen=True)
class StepProcess:
    """What one step's command gave back: its exit status and its output."""

    returncode: int
    stdout: str
    stderr: str


class StepRunner(Protocol):
    """Runs one step: `command` (the model CLI, e.g. `python -m demand_forecast`) with `args`."""

    def __call__(
        self, command: Sequence[str], args: Sequence[str], *, env: Mapping[str, str], cwd: Path | None
    ) -> StepProcess: ...


def run_subprocess(
    command: Sequence[str], args: Sequence[str], *, env: Mapping[str, str], cwd: Path | None
) -> StepProcess:
    """The step as its own process (the default, and what AML does)."""
    proc = subprocess.run(
        [*command, *args], cwd=cwd, env=dict(env), capture_output=True, text=True, check=False
    )
    return StepProcess(proc.returncode, proc.stdout, proc.stderr)


EntryPoint = Callable[[list[str]], int]


def load_entry_point(spec: str) -> EntryPoint:
    """`module:function` -> the function (the console-script notation)."""
    module, _, name = spec.partition(":")
    entry: EntryPoint = getattr(importlib.import_module(module), name)
    return entry


def _call_entry(entry: EntryPoint, args: Sequence[str]) -> int:
    """What `sys.exit(entry(args))` leaves as exit status, an uncaught exception included."""
    try:
        return int(entry(list(args)) or 0)
    except SystemExit as stop:
        code = stop.code
        if code is None or isinstance(code, int):
            return code or 0
        print(code, file=sys.stderr)
        return 1
    except Exception:  # a step that crashes: its traceback on stderr, as the interpreter prints it
        traceback.print_exc()
        return 1


@contextlib.contextmanager
def _step_context(env: Mapping[str, str], cwd: Path | None) -> Iterator[None]:
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    os.environ.clear()
    os.environ.update(env)
    try:
        if cwd is not None:
            os.chdir(cwd)
        yield
    finally:
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)


class InProcessSteps:
    """Each step's entry point called in this process: the step's environment and working directory
    are set for the call and restored after it, its stdout and stderr captured. For tests, where a
    process per step costs more than the step; not for `make apply` (steps share this interpreter's
    modules and globals, which AML never does)."""

    def __init__(self, entry: EntryPoint):
        self.entry = entry

    def __call__(
        self, command: Sequence[str], args: Sequence[str], *, env: Mapping[str, str], cwd: Path | None
    ) -> StepProcess:
        out, err = io.StringIO(), io.StringIO()
        with _step_context(env, cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = _call_entry(self.entry, args)
        return StepProcess(code, out.getvalue(), err.getvalue())


def _forked_step(entry: str, args: list[str], env: dict[str, str], cwd: str | None, output: str) -> None:
    """In the forked child: the step's environment, working directory and output files, then the
    entry point; exit handlers run as at the end of an interpreter (telemetry flushes there)."""
    os.environ.clear()
    os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    for fd, name in ((1, "stdout"), (2, "stderr")):
        target = os.open(os.path.join(output, name), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(target, fd)
        os.close(target)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False)  # noqa: SIM115 (lives as long as the child)
    sys.stderr = open(2, "w", encoding="utf-8", closefd=False)  # noqa: SIM115
    code = _call_entry(load_entry_point(entry), args)
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


class ForkServerSteps:
    """A process per step, forked from one long-lived server that imported `preload` once.

    The process boundary stays where AML has it (each step its own process, environment and working
    directory; nothing of one step's state reaches the next), but no step pays the interpreter's
    and the model's imports again (python's multiprocessing forkserver; POSIX only: elsewhere use
    `run_subprocess`). https://docs.python.org/3/library/multiprocessing.html#contexts-and-start-methods
    """

    def __init__(self, entry: str, preload: Sequence[str] = ()):
        self.entry = entry
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload([entry.partition(":")[0], *preload])

    @staticmethod
    def available() -> bool:
        return "forkserver" in multiprocessing.get_all_start_methods()

    def __call__(
        self, command: Sequence[str], args: Sequence[str], *, env: Mapping[str, str], cwd: Path | None
    ) -> StepProcess:
        with tempfile.TemporaryDirectory(prefix="step-") as output:
            child = self._context.Process(
                target=_forked_step,
                args=(self.entry, list(args), dict(env), None if cwd is None else str(cwd), output),
            )
            child.start()
            child.join()
            stdout = Path(output, "stdout").read_text(encoding="utf-8", errors="replace")
            stderr = Path(output, "stderr").read_text(encoding="utf-8", errors="replace")
        return StepProcess(child.exitcode if child.exitcode is not None else 1, stdout, stderr)


# `python -m torch.distributed.run` is what the `torchrun` console script runs; `--standalone` is a
# single-node rendezvous on a free local port (no MASTER_ADDR to set); each worker gets RANK,
# LOCAL_RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT, the variables AML's PyTorch distribution sets.
# https://docs.pytorch.org/docs/stable/elastic/run.html
TORCHRUN = ("-m", "torch.distributed.run", "--standalone")


def torchrun_command(command: Sequence[str], workers: int) -> list[str]:
    """`command` (`<python> -m <module>` or `<python> <script.py>`) launched as `workers` local
    processes by torchrun; StackctlError for a command torchrun cannot launch."""
    if len(command) >= 3 and command[1] == "-m":
        target = ["-m", *command[2:]]
    elif len(command) >= 2 and command[1].endswith(".py"):
        target = list(command[1:])
    else:
        raise StackctlError(
            f"the step command {list(command)} cannot run under torchrun: it must be "
            "`{python} -m <module>` or `{python} <script.py>`",
            where="envs/local/settings.yaml: step_command",
            fix="restore the default step_command, or set the model's distributed.workers to 1",
        )
    return [command[0], *TORCHRUN, "--nproc-per-node", str(workers), *target]


# torchrun's failure summary (torch.distributed.elastic's ChildFailedError, printed on stderr before it
# exits 1): a "Failures:" section (the other workers, "<NO_OTHER_FAILURES>" when none) and a "Root
# Cause (first observed failure):" section, each worker as "rank : 1 (local_rank: 1)" ...
# "exitcode : -9 (pid: 42)" (torch 2.13.0, torch/distributed/elastic/multiprocessing/errors).
_ROOT_CAUSE = "Root Cause (first observed failure):"
_WORKER = re.compile(r"rank\s*:\s*(\d+).*?exitcode\s*:\s*(-?\d+) \(pid: (\d+)\)", re.S)


@dataclass(frozen=True)
class WorkerFailure:
    """A worker torchrun saw fail: its rank, exit status (negative: killed by that signal), pid."""

    rank: int
    returncode: int
    pid: int

    def describe(self, workers: int) -> str:
        if self.returncode < 0:
            how = f"was killed by signal {-self.returncode} ({signal.Signals(-self.returncode).name})"
        else:
            how = f"exited with status {self.returncode}"
        return f"worker rank {self.rank} of {workers} (pid {self.pid}) {how}"


def torchrun_failures(stderr: str) -> list[WorkerFailure]:
    """The failed workers of torchrun's summary on `stderr`, the first observed failure (the root
    cause) first; empty when it printed none (torchrun itself failed, e.g. torch is missing)."""
    summary = stderr.rfind(_ROOT_CAUSE)
    if summary < 0:
        return []
    root = [WorkerFailure(*(int(g) for g in m.groups())) for m in _WORKER.finditer(stderr[summary:])][:1]
    others_start = stderr.rfind("Failures:", 0, summary)
    others = stderr[others_start:summary] if others_start >= 0 else ""
    return root + [WorkerFailure(*(int(g) for g in m.groups())) for m in _WORKER.finditer(others)]


def _workers_output(stderr: str) -> str:
    """`stderr` without torchrun's own traceback and summary: what the workers printed."""
    cut = stderr.rfind("Traceback (most recent call last):")
    return stderr[:cut] if cut >= 0 and "ChildFailedError" in stderr[cut:] else stderr


@dataclass(frozen=True)
class StepRun:
    name: str
    seconds: float
    outputs: dict[str, Path]
    log: Path


@dataclass
class PipelineRun:
    pipeline: str
    run_id: str
    steps: list[StepRun] = field(default_factory=list)

    def output(self, step: str, name: str) -> Path:
        for run in self.steps:
            if run.name == step:
                return run.outputs[name]
        raise KeyError(f"{step}.{name}")


class StepFailed(StackctlError):
    """A step exited non-zero; `status` is the table's reading of its code, and stackctl exits with it."""

    def __init__(self, pipeline: str, step: str, returncode: int, log: Path, detail: str):
        status = step_exit_status(returncode)
        said, fix = _FAILURES[status]
        what = f"{pipeline} pipeline stopped: step `{step}` {said} (exit {returncode})"
        if detail:
            what += "\n  " + "\n  ".join(detail.splitlines()[-8:])
        super().__init__(what, where=str(log), fix=fix, exit_code=status)
        self.pipeline = pipeline
        self.step = step
        self.returncode = returncode
        self.status = status

    @property
    def data_refused(self) -> bool:
        """True only when the step refused its data: the one case the raw data is quarantined."""
        return self.status is ExitStatus.DATA_REFUSED


class LocalRunner:
    def __init__(
        self,
        command: Sequence[str],
        *,
        lake: Path,
        runs: Path,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
        config_file: Path | None = None,
        steps: StepRunner = run_subprocess,
        workers: int = 1,
    ):
        """`workers`: processes of each distributed step (the model's `distributed.workers`); with
        more than one such a step runs under torchrun as a subprocess, whatever `steps` is."""
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        self.command = list(command)
        self.steps = steps
        self.workers = workers
        self.lake = lake
        self.runs = runs
        self.env = dict(env or {})
        self.cwd = cwd
        self.config_file = config_file

    def _launch(self, distributed: bool) -> tuple[list[str], StepRunner, bool]:
        """The command and runner of a step, and whether torchrun launches it: torchrun as a subprocess
        for a distributed step with several workers, else the plain command with this runner's `steps`."""
        if distributed and self.workers > 1:
            return torchrun_command(self.command, self.workers), run_subprocess, True
        return self.command, self.steps, False

    def _failure(self, proc: StepProcess, *, torchrun: bool) -> tuple[int, str]:
        """The status a failed step is read by and what to show of its output. Under torchrun: the
        first failed worker's own status (torchrun's is 1 whatever failed), the workers' output and
        which workers failed how, the first observed one first."""
        failures = torchrun_failures(proc.stderr) if torchrun else []
        if not failures:
            return proc.returncode, proc.stderr.strip() or proc.stdout.strip()
        output = _workers_output(proc.stderr).strip() or proc.stdout.strip()
        first, *others = (failure.describe(self.workers) for failure in failures)
        said = f"{first} first" + (f"; then {'; '.join(others)}" if others else "")
        return failures[0].returncode, f"{output}\n{said}; torchrun stopped the step".strip()

    def _output_path(self, pipeline: Pipeline, run_id: str, step: str, output: str) -> Path:
        spec = pipeline.node(step).step.outputs[output]
        if spec.lake is not None:
            return self.lake / spec.lake / run_id / f"{step}.{output}"
        return self.runs / run_id / step / output

    def run(
        self,
        pipeline: Pipeline,
        inputs: Mapping[str, str | int | float | None],
        run_id: str,
        on_step: StepCallback | None = None,
    ) -> PipelineRun:
        unknown = set(inputs) - set(pipeline.inputs)
        if unknown:
            raise ValueError(f"{pipeline.name}: unknown pipeline inputs {sorted(unknown)}")
        result = PipelineRun(pipeline.name, run_id)
        produced: dict[tuple[str, str], Path] = {}
        env = {**os.environ, **self.env, PIPELINE_ENV: pipeline.name, RUN_ID_ENV: run_id}
        for node in pipeline.nodes:
            step = node.step
            values: dict[str, str | None] = {}
            for name, spec in step.inputs.items():
                binding = node.bindings.get(name)
                value: str | int | float | Path | None = spec.default
                if binding is not None and binding.pipeline_input is not None:
                    given = inputs.get(binding.pipeline_input)
                    value = given if given is not None else pipeline.inputs[binding.pipeline_input].default
                elif binding is not None and binding.step is not None and binding.output is not None:
                    value = produced[(binding.step, binding.output)]
                values[name] = None if value is None else str(value)
            outputs = {name: self._output_path(pipeline, run_id, step.name, name) for name in step.outputs}
            for name, path in outputs.items():
                path.mkdir(parents=True, exist_ok=True)
                values[name] = str(path)
            args = ["--config", str(self.config_file)] if self.config_file is not None else []
            args += render_args(step, values)
            command, launch, torchrun = self._launch(step.distributed)
            log = self.runs / run_id / f"{step.name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            if on_step:
                on_step(step.name, "start", 0.0)
            started = time.perf_counter()
            proc = launch(command, args, env=env, cwd=self.cwd)
            seconds = time.perf_counter() - started
            argv = " ".join([*command, *args])
            log.write_text(
                f"$ {argv}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}", encoding="utf-8"
            )
            if proc.returncode != 0:
                if on_step:
                    on_step(step.name, "failed", seconds)
                returncode, detail = self._failure(proc, torchrun=torchrun)
                raise StepFailed(pipeline.name, step.name, returncode, log, detail)
            for name, path in outputs.items():
                produced[(step.name, name)] = path
            result.steps.append(StepRun(step.name, seconds, outputs, log))
            if on_step:
                on_step(step.name, "done", seconds)
        return result
