"""Model validation as the release runs it: after a deploy, invoke the published training pipeline
on the stack's own data, wait for it, then the scoring pipeline, and wait for that; a failure stops
the release. (The case study's CD: a release is good when the model trains and scores in the
target environment, not merely when the infrastructure applies.)

Both pipelines are the batch endpoints `deploy` created (pipeline-component deployments); they are
invoked with the week's raw folder, as the schedules and Data Factory invoke them.
https://learn.microsoft.com/azure/machine-learning/how-to-use-batch-pipeline-deployments
Job states: https://learn.microsoft.com/python/api/azure-ai-ml/azure.ai.ml.entities.job (status)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stackctl.aml.specs import LANDING_FOLDER
from stackctl.aml.stack_output import StackOutput
from stackctl.errors import StackctlError

TERMINAL_OK = {"Completed"}
TERMINAL_FAILED = {"Failed", "Canceled", "NotResponding"}
POLL_SECONDS = 30.0
DEFAULT_TIMEOUT_S = 3 * 3600.0


@dataclass(frozen=True)
class PipelineJobResult:
    pipeline: str  # "training" or "scoring"
    endpoint: str
    job_name: str
    status: str
    seconds: float


def wait_for_job(
    client: Any,
    job_name: str,
    *,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_status: Callable[[str], None] | None = None,
) -> str:
    """Poll `client.jobs.get(job_name)` until the job ends; returns its final status.
    Raises StackctlError when it does not end within `timeout_s`."""
    started = clock()
    last = None
    while True:
        status = str(client.jobs.get(job_name).status)
        if status != last and on_status:
            on_status(status)
        last = status
        if status in TERMINAL_OK | TERMINAL_FAILED:
            return status
        if clock() - started > timeout_s:
            raise StackctlError(
                f"AML job {job_name} did not finish within {timeout_s / 60:.0f} minutes "
                f"(last status {status})",
                where=f"AML job {job_name}",
                fix="look at the job in AML studio; cancel it or raise the timeout",
            )
        sleep(poll_s)


def _prefixed(log: Callable[[str], None], prefix: str) -> Callable[[str], None]:
    def write(message: str) -> None:
        log(f"{prefix}: {message}")

    return write


def run_model_validation(
    client: Any,
    stack: StackOutput,
    *,
    log: Callable[[str], None] = print,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[PipelineJobResult]:
    """Training, then scoring, each waited for. Raises StackctlError naming the job that failed;
    scoring is not started when training failed."""
    from azure.ai.ml import Input

    raw = Input(
        type="uri_folder", path=f"azureml://datastores/{stack.aml.datastores.raw}/paths/{LANDING_FOLDER}/"
    )
    runs: list[PipelineJobResult] = []
    for pipeline, endpoint in (
        ("training", stack.endpoints.training.name),
        ("scoring", stack.endpoints.scoring.name),
    ):
        started = clock()
        job = client.batch_endpoints.invoke(
            endpoint_name=endpoint, inputs={"raw_data": raw}, experiment_name=f"release-validation-{pipeline}"
        )
        log(f"{pipeline}: started job {job.name} on endpoint {endpoint}")
        status = wait_for_job(
            client,
            job.name,
            timeout_s=timeout_s,
            poll_s=poll_s,
            sleep=sleep,
            clock=clock,
            on_status=_prefixed(log, pipeline),
        )
        runs.append(PipelineJobResult(pipeline, endpoint, job.name, status, clock() - started))
        if status not in TERMINAL_OK:
            raise StackctlError(
                f"model validation failed: the {pipeline} pipeline job {job.name} ended {status}",
                where=f"batch endpoint {endpoint} ({stack.environment})",
                fix="read the failed step's logs in AML studio; the release stops here",
            )
    return runs
