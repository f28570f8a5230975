"""The local executor of the pipeline graph: each step is one `demand_forecast` CLI subprocess.

It runs the nodes of a `stackctl.graph.Pipeline` in order, wiring each step's inputs to the
pipeline's inputs or to folders written by earlier steps, exactly as the AML pipeline component does.
Outputs that belong in the data lake go to `.local/lake/<file system>/<run id>/`; the rest to
`.local/runs/<run id>/<step>/`. A failing step stops the run: later steps (e.g. `register`, the only one
that moves the champion stage) never start; the failing step itself records the run as failed in the
reporting database (`demand_forecast.publish.record_failed_step`), from the same environment variables
deploy sets on every AML job (`stackctl.aml.specs.job_environment`): the pipeline, the reporting
database (the run's `reporting_database` input) and the run id.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from demand_forecast.publish import PIPELINE_ENV, REPORTING_DATABASE_ENV, RUN_ID_ENV

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
    ):
        self.command = list(command)
        self.lake = lake
        self.runs = runs
        self.env = dict(env or {})
        self.cwd = cwd
        self.config_file = config_file

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
        database = inputs.get("reporting_database")
        if database is not None:
            env[REPORTING_DATABASE_ENV] = str(database)
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
            argv = [*self.command]
            if self.config_file is not None:
                argv += ["--config", str(self.config_file)]
            argv += render_args(step, values)
            log = self.runs / run_id / f"{step.name}.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            if on_step:
                on_step(step.name, "start", 0.0)
            started = time.perf_counter()
            proc = subprocess.run(argv, cwd=self.cwd, env=env, capture_output=True, text=True, check=False)
            seconds = time.perf_counter() - started
            log.write_text(
                f"$ {' '.join(argv)}\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}",
                encoding="utf-8",
            )
            if proc.returncode != 0:
                if on_step:
                    on_step(step.name, "failed", seconds)
                detail = proc.stderr.strip() or proc.stdout.strip()
                raise StepFailed(pipeline.name, step.name, proc.returncode, log, detail)
            for name, path in outputs.items():
                produced[(step.name, name)] = path
            result.steps.append(StepRun(step.name, seconds, outputs, log))
            if on_step:
                on_step(step.name, "done", seconds)
        return result
