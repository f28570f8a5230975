"""Model validation as the release runs it: after a deploy, one run of the stack's own Data Factory
pipeline (copy, then the training batch endpoint, then the scoring one, each waited for), with the
parameters of a validation run; a failure stops the release. (The case study's CD: a release is good
when the model trains and scores in the target environment, not merely when the infrastructure applies.)

Why through Data Factory (issue 22 item 7): batch endpoint jobs read and write their data as the
identity that invokes them ("the identity of the job (invoker) is used to read the underlying data",
https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs;
https://learn.microsoft.com/azure/machine-learning/how-to-authenticate-batch-endpoint). The factory's
managed identity already invokes the endpoints every week and holds exactly the data roles that
needs; the release identity only starts the factory's pipeline (Microsoft.DataFactory/factories/
pipelines/createRun/action, which its Contributor role on the stack's resource group carries,
envs/bootstrap/main.rbac.tf) and needs no role on the lake at all.

Why with validation parameters (issue 22 item 8): the run registers under `VALIDATION_MODEL_NAME`
(so the production champion never moves; its first model becomes its own champion, so this works
in a fresh subscription) and publishes into the `validation` schema (never the tables Power BI reads).

Data Factory run statuses: Queued, InProgress, Succeeded, Failed, Canceling, Cancelled
(https://learn.microsoft.com/azure/data-factory/monitor-programmatically#run-data);
create_run / pipeline_runs.get / cancel: azure-mgmt-datafactory
(https://learn.microsoft.com/rest/api/datafactory/pipelines/create-run).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from demand_forecast.reporting.schema import VALIDATION_SCHEMA

from stackctl.aml.stack_output import StackOutput
from stackctl.errors import StackctlError
from stackctl.graph import VALIDATION_MODEL_NAME

if TYPE_CHECKING:  # typing only: the Azure SDKs are imported where they are used
    from azure.core.credentials import TokenCredential
    from azure.mgmt.datafactory import DataFactoryManagementClient
    from azure.mgmt.datafactory.models import ActivityRun


class AmlJobs(Protocol):
    """What cancelling needs of azure-ai-ml's `MLClient.jobs` (JobOperations)."""

    def begin_cancel(self, name: str) -> object: ...


RUN_SUCCEEDED = {"Succeeded"}
RUN_ENDED_OTHERWISE = {"Failed", "Cancelled"}
POLL_SECONDS = 60.0
# Below the release jobs' limit (`timeout-minutes: 330` in .github/workflows/release.yml, the
# `timeoutInMinutes: "330"` of .azure-pipelines/release.yml), and never past what apply and deploy
# left of it (VALIDATION_ENDS_AT_ENV), so on a run that does not end this code, not the runner's
# kill, ends it: the factory run
# is cancelled (recursively), so it starts no further batch job, and then every AML job the run had
# already started is cancelled through azure-ai-ml (`cancel_started_jobs`). Cancelling the factory
# run does NOT cancel those jobs: it cancels the Until loop that waits on them, and the pipeline's
# own `cancel_<step>_after_wait` runs only when that loop *Failed* (a Cancelled activity is not
# Failed; modules/data_factory/main.pipeline.tf), so without this the job would run to its node
# limits and then register its model (review-22, open item 3).
# A job whose limit differs sets VALIDATION_TIMEOUT_ENV (seconds); src/stackctl/aml/README.md says
# how long a first release's validation takes (images built on first use) and what to set.
DEFAULT_TIMEOUT_S = 100 * 60.0
VALIDATION_TIMEOUT_ENV = "FORECAST_STACK_VALIDATION_TIMEOUT_S"
# The release job's own end, as Unix seconds, less the room to cancel (review-runtimefix F3): the job
# writes it in its first step (`date +%s` + its timeout-minutes, less ten minutes), because apply,
# deploy and the smoke tests run before validation in the same job and take what they take, so a
# duration alone cannot know how much of the job is left.
VALIDATION_ENDS_AT_ENV = "FORECAST_STACK_VALIDATION_ENDS_AT"


@dataclass(frozen=True)
class ValidationRun:
    """One run of the stack's Data Factory pipeline with the validation parameters."""

    factory: str
    pipeline: str
    run_id: str
    status: str
    seconds: float
    parameters: dict[str, str]


def validation_timeout_s(
    environ: Mapping[str, str] | None = None, now: Callable[[], float] = time.time
) -> float:
    """Seconds the validation run may take: VALIDATION_TIMEOUT_ENV when set, else DEFAULT_TIMEOUT_S,
    and never past VALIDATION_ENDS_AT_ENV (the job's own end, Unix seconds) when that is set.

    Raises StackctlError for a value that is not a positive number of seconds, or a job end already
    passed (say which variable and what it held), rather than waiting for a CI runner to kill the job."""
    env = os.environ if environ is None else environ
    timeout = _positive_seconds(env, VALIDATION_TIMEOUT_ENV) or DEFAULT_TIMEOUT_S
    ends_at = _positive_seconds(env, VALIDATION_ENDS_AT_ENV)
    if ends_at is None:
        return timeout
    left = ends_at - now()
    if left <= 0:
        raise StackctlError(
            f"no time is left for the model validation: the job's end less the room to cancel "
            f"({VALIDATION_ENDS_AT_ENV}={env[VALIDATION_ENDS_AT_ENV]}) passed {-left:.0f} s ago",
            where=VALIDATION_ENDS_AT_ENV,
            fix="re-run the job (apply and deploy are idempotent: docs/runbooks/rerun-apply.md), or raise "
            "the job's timeout-minutes and the first step that writes the variable together",
        )
    return min(timeout, left)


def _positive_seconds(env: Mapping[str, str], name: str) -> float | None:
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not math.isfinite(value) or value <= 0:
        raise StackctlError(
            f"{name}={raw!r} is not a positive number of seconds",
            where=name,
            fix="set it from the CI job's own limit (the release workflows' first step does), or unset it",
        )
    return value


def validation_parameters(stack: StackOutput) -> dict[str, str]:
    """The factory pipeline's parameters for a validation run (modules/data_factory declares them)."""
    sql = stack.sql
    return {
        "registered_model": VALIDATION_MODEL_NAME,
        "reporting_database": f"mssql://{sql.server_fqdn}/{sql.database_name}?schema={VALIDATION_SCHEMA}",
    }


def data_factory_client(stack: StackOutput, credential: TokenCredential) -> DataFactoryManagementClient:
    """The real Data Factory management client for the stack's subscription."""
    from azure.mgmt.datafactory import DataFactoryManagementClient

    return DataFactoryManagementClient(credential, stack.subscription_id)


def activity_runs(
    client: DataFactoryManagementClient, stack: StackOutput, run_id: str, *, window_s: float
) -> Iterator[ActivityRun]:
    """Every activity run of factory run `run_id`, from `activity_runs.query_by_pipeline_run`, which
    needs a window of last-updated times (`window_s` seconds back from now) and pages by
    continuation token (https://learn.microsoft.com/rest/api/datafactory/activity-runs/query-by-pipeline-run)."""
    from azure.mgmt.datafactory.models import RunFilterParameters

    now = datetime.now(UTC)
    token: str | None = None
    while True:
        filters = RunFilterParameters(
            last_updated_after=now - timedelta(seconds=window_s),
            last_updated_before=now + timedelta(hours=1),
            continuation_token=token,
        )
        page = client.activity_runs.query_by_pipeline_run(
            stack.resource_group_name, stack.data_factory.name, run_id, filters
        )
        yield from page.value or []
        token = page.continuation_token
        if not token:
            return


def started_aml_jobs(
    client: DataFactoryManagementClient, stack: StackOutput, run_id: str, *, window_s: float
) -> tuple[list[str], list[str]]:
    """(job names, problems): the AML jobs that factory run `run_id` started.

    Each `invoke_<step>` Web activity's output is the batch endpoint's answer, the created job
    resource, whose `name` is the job's name (the pipeline polls and cancels it by that name:
    modules/data_factory/main.pipeline.tf, arm_job_url). A problem names an invoke that may have
    started a job without saying which (cancelled while its POST was out): nothing is dropped."""
    names: list[str] = []
    problems: list[str] = []
    for activity in activity_runs(client, stack, run_id, window_s=window_s):
        if not str(activity.activity_name).startswith("invoke_"):
            continue
        output = activity.output if isinstance(activity.output, Mapping) else {}
        if output.get("name"):
            names.append(str(output["name"]))
        elif activity.status != "Failed":  # a failed POST started no job
            problems.append(f"{activity.activity_name} ended {activity.status} without a job name")
    return names, problems


def failed_activities(
    client: DataFactoryManagementClient, stack: StackOutput, run_id: str, *, window_s: float
) -> list[str]:
    """`name: message` of each failed activity of run `run_id` (the pipeline's own Fail activities
    say what to do, e.g. an empty raw/weekly); empty when the activities cannot be read."""
    from azure.core.exceptions import HttpResponseError

    try:
        runs = list(activity_runs(client, stack, run_id, window_s=window_s))
    except HttpResponseError:
        return []
    found = []
    for activity in runs:
        error = activity.error if isinstance(activity.error, Mapping) else {}
        if activity.status == "Failed" and error.get("message"):
            found.append(f"{activity.activity_name}: {error['message']}")
    return found


def cancel_started_jobs(
    client: DataFactoryManagementClient,
    aml_jobs: AmlJobs,
    stack: StackOutput,
    run_id: str,
    *,
    window_s: float,
) -> tuple[list[str], list[str]]:
    """(cancelled job names, problems): cancel every AML job factory run `run_id` started.

    `aml_jobs`: azure-ai-ml's `MLClient.jobs` (`begin_cancel(name)`, the ARM Jobs - Cancel call,
    https://learn.microsoft.com/python/api/azure-ai-ml/azure.ai.ml.operations.joboperations#azure-ai-ml-operations-joboperations-begin-cancel).
    A job already over may refuse the cancel; each refusal becomes a problem line, never a traceback,
    so the timeout's own error still reaches the release log."""
    from azure.core.exceptions import AzureError, HttpResponseError

    try:
        names, problems = started_aml_jobs(client, stack, run_id, window_s=window_s)
    except HttpResponseError as exc:
        return [], [f"could not list the run's activities ({exc.status_code} {exc.reason})"]
    except AzureError as exc:  # a network fault must not hide the timeout's own error
        return [], [f"could not list the run's activities ({type(exc).__name__}: {exc})"]
    cancelled = []
    for name in names:
        try:
            aml_jobs.begin_cancel(name)
        except HttpResponseError as exc:
            problems.append(f"AML job {name}: cancel refused ({exc.status_code} {exc.reason})")
        except AzureError as exc:  # e.g. ServiceRequestError: the cancel never reached AML
            problems.append(f"AML job {name}: cancel not sent ({type(exc).__name__}: {exc})")
        else:
            cancelled.append(name)
    return cancelled, problems


def wait_for_pipeline_run(
    client: DataFactoryManagementClient,
    stack: StackOutput,
    run_id: str,
    *,
    aml_jobs: AmlJobs,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    poll_s: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_status: Callable[[str], None] | None = None,
) -> str:
    """Poll `pipeline_runs.get` until the run ends; returns its final status. On timeout the run is
    cancelled (with its child pipeline runs), so it invokes no further endpoint, then every AML job
    it started is cancelled through `aml_jobs` (MLClient.jobs), and StackctlError is raised naming
    the run, the jobs cancelled and any that could not be."""
    factory = stack.data_factory.name
    started, last = clock(), None
    while True:
        status = str(client.pipeline_runs.get(stack.resource_group_name, factory, run_id).status)
        if status != last and on_status:
            on_status(status)
        last = status
        if status in RUN_SUCCEEDED | RUN_ENDED_OTHERWISE:
            return status
        if clock() - started > timeout_s:
            client.pipeline_runs.cancel(stack.resource_group_name, factory, run_id, is_recursive=True)
            cancelled, problems = cancel_started_jobs(
                client, aml_jobs, stack, run_id, window_s=clock() - started + 3600
            )
            jobs = f"AML jobs cancelled: {', '.join(cancelled) or 'none started'}"
            raise StackctlError(
                f"Data Factory run {run_id} did not finish within {timeout_s / 3600:.1f} h "
                f"(last status {status}); it was cancelled. {jobs}"
                + "".join(f"; NOT cancelled: {problem}" for problem in problems),
                where=f"factory {factory}, pipeline {stack.data_factory.pipeline_name}",
                fix="read the run's activities in Data Factory Studio (Monitor); cancel any job listed "
                "as not cancelled in AML studio (Jobs) before it registers a model",
            )
        sleep(poll_s)


def run_model_validation(
    client: DataFactoryManagementClient,
    stack: StackOutput,
    *,
    aml_jobs: AmlJobs,
    log: Callable[[str], None] = print,
    timeout_s: float | None = None,
    poll_s: float = POLL_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> ValidationRun:
    """One factory run (training, then scoring) with `validation_parameters`, waited for.

    `client`: a `DataFactoryManagementClient` (`data_factory_client`); `aml_jobs`: the workspace's
    `MLClient.jobs` (stackctl.aml.azure.ml_client), which cancels the AML jobs of a run that times
    out; `timeout_s` defaults to
    `validation_timeout_s()`. Raises StackctlError naming the run when it does not succeed; the
    factory itself never starts scoring after a failed training."""
    factory, pipeline = stack.data_factory.name, stack.data_factory.pipeline_name
    timeout_s = validation_timeout_s() if timeout_s is None else timeout_s
    parameters = validation_parameters(stack)
    started = clock()
    created = client.pipelines.create_run(stack.resource_group_name, factory, pipeline, parameters=parameters)
    run_id = str(created.run_id)
    log(f"validation: started run {run_id} of {factory}/{pipeline} ({parameters['registered_model']})")
    status = wait_for_pipeline_run(
        client,
        stack,
        run_id,
        aml_jobs=aml_jobs,
        timeout_s=timeout_s,
        poll_s=poll_s,
        sleep=sleep,
        clock=clock,
        on_status=lambda s: log(f"validation: {s}"),
    )
    if status not in RUN_SUCCEEDED:
        reasons = failed_activities(client, stack, run_id, window_s=clock() - started + 3600)
        raise StackctlError(
            f"model validation failed: Data Factory run {run_id} ended {status}"
            + "".join(f"; {reason}" for reason in reasons),
            where=f"factory {factory}, pipeline {pipeline} ({stack.environment})",
            fix="read the failed activity in Data Factory Studio (Monitor) and the AML job it names; "
            "the release stops here",
        )
    return ValidationRun(factory, pipeline, run_id, status, clock() - started, parameters)
