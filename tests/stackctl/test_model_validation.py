"""Release model validation (issue 22 items 7 and 8): one run of the stack's own Data Factory
pipeline (training, then scoring) with validation parameters.

Item 7: batch jobs read and write data as their invoker
(https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs), and the
release identity has no data role on the lake; the factory's managed identity invokes instead, so
nothing in stackctl or the release's tests invokes a batch endpoint itself.
Item 8: the run never promotes the production champion (its own registered model name) and never
writes the tables Power BI reads (the `validation` schema).

Offline with a stand-in for DataFactoryManagementClient; the ADF pipeline's invoke bodies evaluated by
real Terraform (`terraform console`, provider-free harness); against Azure (marked `azure`) on the
stack FORECAST_STACK_ENV names, as the release pipeline runs it.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stackctl.aml.model_validation import run_model_validation, validation_parameters, wait_for_pipeline_run
from stackctl.aml.stack_output import parse_stack_output
from stackctl.errors import StackctlError
from stackctl.graph import MODEL_NAME, SCORING, TRAINING, VALIDATION_MODEL_NAME

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


def stack() -> Any:
    outputs = json.loads((DATA / "stack_output_dev.json").read_text(encoding="utf-8"))
    return parse_stack_output(outputs, where="stack_output_dev.json")


@dataclass
class _Run:
    run_id: str = ""
    status: str = ""


@dataclass
class _Activity:
    activity_name: str
    status: str
    output: Any = None
    error: Any = None


@dataclass
class _Page:
    value: list[_Activity]
    continuation_token: str | None


def _http_error(status: int, reason: str) -> Exception:
    from azure.core.exceptions import HttpResponseError

    error = HttpResponseError(message=reason)
    error.status_code, error.reason = status, reason
    return error


@dataclass
class FakeJobs:
    """MLClient.jobs: begin_cancel records the name; a name in `refuse` answers an HTTP error."""

    refuse: dict[str, int] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)

    def begin_cancel(self, name: str) -> None:
        if name in self.refuse:
            raise _http_error(self.refuse[name], "Conflict")
        self.cancelled.append(name)


@dataclass
class FakeFactory:
    """pipelines.create_run starts a run; pipeline_runs.get walks it through `statuses`."""

    statuses: list[str]
    created: list[tuple[str, str, str, dict[str, str]]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)
    # activity_runs.query_by_pipeline_run: one page per list (with a continuation token between pages)
    activity_pages: list[list[_Activity]] = field(default_factory=lambda: [[]])
    query_error: int | None = None
    tokens_seen: list[str | None] = field(default_factory=list)
    queried_after_cancel: list[bool] = field(default_factory=list)

    @property
    def pipelines(self) -> FakeFactory:
        return self

    @property
    def pipeline_runs(self) -> FakeFactory:
        return self

    def create_run(self, group: str, factory: str, pipeline: str, *, parameters: dict[str, str]) -> _Run:
        self.created.append((group, factory, pipeline, parameters))
        return _Run(run_id="run-1")

    def get(self, group: str, factory: str, run_id: str) -> _Run:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return _Run(run_id, status)

    def cancel(self, group: str, factory: str, run_id: str, *, is_recursive: bool) -> None:
        assert is_recursive
        self.cancelled.append(run_id)

    @property
    def activity_runs(self) -> FakeFactory:
        return self

    def query_by_pipeline_run(self, group: str, factory: str, run_id: str, filters: Any) -> _Page:
        self.queried_after_cancel.append(bool(self.cancelled))
        assert filters.last_updated_after < filters.last_updated_before
        if self.query_error:
            raise _http_error(self.query_error, "Forbidden")
        self.tokens_seen.append(filters.continuation_token)
        index = len(self.tokens_seen) - 1
        last = index == len(self.activity_pages) - 1
        return _Page(self.activity_pages[index], None if last else f"page-{index + 1}")


def _no_wait(seconds: float) -> None:
    return None


def test_validation_is_one_factory_run_with_the_validation_parameters() -> None:
    target = stack()
    factory = FakeFactory(["Queued", "InProgress", "Succeeded"])
    log: list[str] = []
    run = run_model_validation(factory, target, aml_jobs=FakeJobs(), log=log.append, sleep=_no_wait)
    assert factory.created == [
        (
            target.resource_group_name,
            target.data_factory.name,
            target.data_factory.pipeline_name,
            validation_parameters(target),
        )
    ]
    assert run.status == "Succeeded"
    assert run.run_id == "run-1"
    assert "validation: InProgress" in log


def test_validation_never_promotes_the_production_model_nor_writes_power_bis_tables() -> None:
    parameters = validation_parameters(stack())
    assert parameters["registered_model"] == VALIDATION_MODEL_NAME
    assert parameters["registered_model"] != MODEL_NAME
    assert parameters["reporting_database"].endswith("?schema=validation")


def test_a_failed_run_names_the_activity_that_failed_and_why() -> None:
    # review-23 B6: an empty lake fails the run in the pipeline's own guard, whose message says
    # what to do; the release log shows it instead of a bare "ended Failed".
    no_input = "the lake has no raw/weekly folder: nothing to train on; upload the week's files"
    factory = FakeFactory(
        ["InProgress", "Failed"],
        activity_pages=[
            [
                _Activity("raw_exists", "Succeeded", {"exists": False}),
                _Activity(
                    "fail_no_raw_folder", "Failed", error={"errorCode": "NoInputData", "message": no_input}
                ),
                _Activity("check_raw_exists", "Failed", error={"message": ""}),
            ]
        ],
    )
    with pytest.raises(StackctlError) as caught:
        run_model_validation(factory, stack(), aml_jobs=FakeJobs(), log=lambda line: None, sleep=_no_wait)
    assert f"ended Failed; fail_no_raw_folder: {no_input}" in caught.value.what


@pytest.mark.parametrize("ending", ["Failed", "Cancelled"])
def test_a_failed_run_stops_the_release(ending: str) -> None:
    factory = FakeFactory(["InProgress", ending])
    with pytest.raises(StackctlError, match=rf"Data Factory run run-1 ended {ending}") as caught:
        run_model_validation(factory, stack(), aml_jobs=FakeJobs(), log=lambda line: None, sleep=_no_wait)
    assert "release stops here" in str(caught.value.fix)


def test_a_run_that_never_ends_is_cancelled_and_fails() -> None:
    ticks = iter(range(0, 100_000, 60))
    factory = FakeFactory(["InProgress"])
    with pytest.raises(StackctlError, match=r"did not finish within 0.1 h \(last status InProgress\)"):
        wait_for_pipeline_run(
            factory,
            stack(),
            "run-1",
            aml_jobs=FakeJobs(),
            timeout_s=300,
            sleep=_no_wait,
            clock=lambda: float(next(ticks)),
        )
    assert factory.cancelled == ["run-1"]


# Review-22 open item 3 (kind: *a timed-out validation leaves an AML job running*): cancelling the
# factory run cancels its Until loop, not the batch job; each job the run's invoke activities started
# is cancelled through azure-ai-ml, and what could not be cancelled is named in the error.
def _time_out(factory: FakeFactory, jobs: FakeJobs) -> str:
    ticks = iter(range(0, 100_000, 60))
    with pytest.raises(StackctlError) as caught:
        wait_for_pipeline_run(
            factory,
            stack(),
            "run-1",
            aml_jobs=jobs,
            timeout_s=300,
            sleep=_no_wait,
            clock=lambda: float(next(ticks)),
        )
    assert factory.cancelled == ["run-1"]
    # the factory run is cancelled before its jobs are looked up (it starts no job after the lookup)
    assert all(factory.queried_after_cancel)
    return str(caught.value)


def _invoke(step: str, status: str, name: str | None) -> _Activity:
    output = {"id": f"/subscriptions/s/jobs/{name}", "name": name, "properties": {}} if name else None
    return _Activity(f"invoke_{step}", status, output)


def test_a_timed_out_training_job_is_cancelled_in_aml() -> None:
    factory = FakeFactory(
        ["InProgress"],
        activity_pages=[
            [
                _Activity("copy_raw_to_conditioned", "Succeeded", {"filesWritten": 5}),
                _invoke("training", "Succeeded", "batchjob-train-1"),
                _Activity("wait_training", "InProgress"),
            ]
        ],
    )
    jobs = FakeJobs()
    message = _time_out(factory, jobs)
    assert jobs.cancelled == ["batchjob-train-1"]
    assert "AML jobs cancelled: batchjob-train-1" in message
    assert "NOT cancelled" not in message


def test_jobs_on_every_page_are_cancelled_and_a_refusal_is_named() -> None:
    factory = FakeFactory(
        ["InProgress"],
        activity_pages=[
            [_invoke("training", "Succeeded", "batchjob-train-2")],
            [_invoke("scoring", "Succeeded", "batchjob-score-2")],
        ],
    )
    jobs = FakeJobs(refuse={"batchjob-train-2": 409})
    message = _time_out(factory, jobs)
    assert factory.tokens_seen == [None, "page-1"]
    assert jobs.cancelled == ["batchjob-score-2"]
    assert "NOT cancelled: AML job batchjob-train-2: cancel refused (409 Conflict)" in message


def test_an_invoke_cancelled_mid_post_is_named_not_dropped() -> None:
    factory = FakeFactory(
        ["InProgress"],
        activity_pages=[[_invoke("training", "Failed", None), _invoke("scoring", "Cancelled", None)]],
    )
    message = _time_out(factory, FakeJobs())
    assert "AML jobs cancelled: none started" in message
    assert "NOT cancelled: invoke_scoring ended Cancelled without a job name" in message
    assert "invoke_training" not in message  # a failed POST started no job


def test_a_failed_activity_query_still_reports_the_timeout() -> None:
    factory = FakeFactory(["InProgress"], query_error=403)
    message = _time_out(factory, FakeJobs())
    assert "did not finish within" in message
    assert "NOT cancelled: could not list the run's activities (403 Forbidden)" in message


def test_the_validation_schema_is_what_the_publish_url_opens(monkeypatch: pytest.MonkeyPatch) -> None:
    from demand_forecast.reporting import database as reporting_db

    from stackctl.aml.specs import stack_defaults

    monkeypatch.setattr(reporting_db, "azure_sql_engine", lambda server, database, credential: None)
    url = validation_parameters(stack())["reporting_database"]
    assert reporting_db.open_database(url, credential=object()).tables.schema == "validation"
    weekly = stack_defaults(stack())["reporting_database"]
    assert reporting_db.open_database(weekly, credential=object()).tables.schema == "reporting"


@pytest.mark.parametrize("query", ["?schema=dbo", "?schema=", "?schema=validation&user=x", "?database=x"])
def test_an_unknown_schema_or_option_is_refused(monkeypatch: pytest.MonkeyPatch, query: str) -> None:
    from demand_forecast.errors import UsageError
    from demand_forecast.reporting import database as reporting_db

    monkeypatch.setattr(reporting_db, "azure_sql_engine", lambda server, database, credential: None)
    with pytest.raises(UsageError, match="the only option is"):
        reporting_db.open_database(f"mssql://s.database.windows.net/db{query}", credential=object())


def test_deploy_creates_the_validation_schema_and_only_the_jobs_write_it() -> None:
    from demand_forecast.reporting.migration import offline_sql

    from stackctl.cloud_stack import sql_users
    from stackctl.sql.users import users_statements

    ddl = offline_sql("mssql", "validation")  # what deploy's Alembic upgrade runs on an empty schema
    assert "IF SCHEMA_ID(N'validation') IS NULL EXEC(N'CREATE SCHEMA validation')" in ddl
    assert "CREATE TABLE validation.forecasts (" in ddl
    statements = users_statements(sql_users(stack()))
    grants = [s for s in statements if s.startswith("GRANT") and "validation" in s]
    assert grants == ["GRANT SELECT, INSERT, DELETE ON SCHEMA::validation TO [id-forecast-dev-jobs]"]


# --- the factory's pipeline: its parameters reach the batch endpoints (judged by Terraform) ---


def terraform_console(work: Path, files: dict[str, str], expression: str) -> tuple[bool, str]:
    """Evaluate `expression` with real `terraform console` in a provider-free root made of `files`."""
    work.mkdir(parents=True)
    for name, text in files.items():
        (work / name).write_text(text, encoding="utf-8")
    terraform = shutil.which("terraform")
    assert terraform, "terraform >= 1.9 must be on PATH (make setup)"
    for args, stdin in (
        (["init", "-backend=false", "-input=false", "-no-color"], None),
        (["console", "-no-color"], expression + "\n"),
    ):
        result = subprocess.run(
            [terraform, *args],
            cwd=work,
            input=stdin,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0 or "Error:" in result.stdout + result.stderr:
            return False, result.stdout + result.stderr
    return True, result.stdout.strip()


def _locals_block(text: str) -> str:
    match = re.search(r"^locals \{\n.*?^\}\n", text, flags=re.MULTILINE | re.DOTALL)
    assert match, "modules/data_factory/main.pipeline.tf has no locals block"
    # The one resource the locals read (the managed-VNet runtime) has no provider-free stand-in.
    return match.group(0).replace("azurerm_data_factory_integration_runtime_azure.this[*].name", "[]")


@pytest.fixture(scope="module")
def factory_pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The weekly pipeline's parameters and endpoint activities as Terraform evaluates them."""
    text = (REPO / "modules" / "data_factory" / "main.pipeline.tf").read_text(encoding="utf-8")
    assert re.search(r"^\s*parameters\s*=\s*local\.pipeline_parameters$", text, flags=re.MULTILINE), (
        "azurerm_data_factory_pipeline.weekly must declare parameters = local.pipeline_parameters"
    )
    target = stack()
    harness = (
        'variable "aml" { type = any }\nvariable "sql" { type = any }\n'
        'variable "managed_virtual_network_enabled" { type = bool }\n' + _locals_block(text)
    )
    tfvars = json.dumps(
        {
            "managed_virtual_network_enabled": False,
            "sql": {
                "server_id": "/x",
                "server_fqdn": target.sql.server_fqdn,
                "database_name": target.sql.database_name,
            },
            "aml": {
                "workspace_id": "/subscriptions/s/resourceGroups/g/workspaces/w",
                "training_invoke_uri": "https://t/jobs",
                "scoring_invoke_uri": "https://s/jobs",
                "input_data_uri": "azureml://datastores/lake_conditioned/paths/weekly/",
                "datastores": {"conditioned": "lake_conditioned_blob", "scored": "lake_scored_blob"},
            },
        }
    )
    work = tmp_path_factory.mktemp("adf") / "module"
    ok, output = terraform_console(
        work,
        {"main.tf": harness, "stack.auto.tfvars.json": tfvars},
        "jsonencode({ parameters = local.pipeline_parameters, activities = local.endpoint_activities })",
    )
    assert ok, output
    return dict(json.loads(json.loads(output)))


def _input_data(pipeline: dict[str, Any], step: str) -> dict[str, Any]:
    (invoke,) = [a for a in pipeline["activities"] if a["name"] == f"invoke_{step}"]
    return dict(invoke["typeProperties"]["body"]["properties"]["InputData"])


@pytest.mark.slow
def test_the_factory_declares_exactly_the_validation_parameters_with_the_weekly_defaults(
    factory_pipeline: dict[str, Any],
) -> None:
    from stackctl.aml.specs import stack_defaults

    parameters = factory_pipeline["parameters"]
    assert set(parameters) == set(validation_parameters(stack()))
    assert parameters["registered_model"] == MODEL_NAME
    assert parameters["reporting_database"] == stack_defaults(stack())["reporting_database"]


@pytest.mark.slow
def test_the_factory_passes_its_parameters_to_both_endpoints(factory_pipeline: dict[str, Any]) -> None:
    def literal(name: str) -> dict[str, str]:
        return {"JobInputType": "Literal", "Value": f"@{{pipeline().parameters.{name}}}"}

    champion = {
        "JobInputType": "Literal",
        "Value": "models:/@{pipeline().parameters.registered_model}/Production",
    }
    training = _input_data(factory_pipeline, "training")
    assert training["registered_model"] == literal("registered_model")
    assert training["reporting_database"] == literal("reporting_database")
    assert training["champion"] == champion
    scoring = _input_data(factory_pipeline, "scoring")
    assert scoring["model"] == champion
    assert scoring["reporting_database"] == literal("reporting_database")
    # Every input named in a body is an input of the pipeline it invokes (a typo is a job error).
    assert set(training) <= set(TRAINING.inputs)
    assert set(scoring) <= set(SCORING.inputs)


# --- nothing the release runs invokes a batch endpoint as its own identity (item 7's kind) ---


def endpoint_invocations(source: str, filename: str) -> list[str]:
    """Calls of `<x>.batch_endpoints.invoke(...)` / `<x>.batch_deployments.invoke(...)`, and reads of
    an endpoint's `invoke_uri` or `scoring_uri` (a REST POST as the caller) in `source`."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "invoke"
            and isinstance(node.value, ast.Attribute)
            and node.value.attr in ("batch_endpoints", "batch_deployments")
        ):
            found.append(f"{filename}:{node.lineno} {node.value.attr}.invoke")
        if isinstance(node, ast.Attribute) and node.attr in ("invoke_uri", "scoring_uri"):
            found.append(f"{filename}:{node.lineno} .{node.attr}")
    return found


def test_nothing_in_the_release_invokes_a_batch_endpoint_as_its_caller() -> None:
    sites: list[str] = []
    scanned: set[str] = set()
    for folder in ("src", "tests", "scripts"):
        for path in sorted((REPO / folder).rglob("*.py")):
            relative = path.relative_to(REPO).as_posix()
            if relative == "tests/stackctl/test_model_validation.py":
                continue
            scanned.add(relative.split("/")[0])
            sites += endpoint_invocations(path.read_text(encoding="utf-8"), relative)
    assert scanned == {"src", "tests", "scripts"}, f"a folder with nothing to scan: {scanned}"
    assert not sites, (
        "the release would invoke a batch endpoint as its own identity, which has no data role on "
        f"the lake (batch jobs read and write as their invoker); run the factory's pipeline: {sites}"
    )


@pytest.mark.parametrize(
    "snippet",
    [
        "job = client.batch_endpoints.invoke(endpoint_name='e', inputs={})\n",
        "def go(ml):\n    return ml.batch_deployments.invoke(endpoint_name='e', deployment_name='d')\n",
        "import requests\nrequests.post(stack.endpoints.scoring.invoke_uri, json={})\n",
        "endpoint = ml.batch_endpoints.get('e')\npost(endpoint.scoring_uri)\n",
    ],
)
def test_the_invocation_check_finds_each_way_of_invoking(snippet: str) -> None:
    assert endpoint_invocations(snippet, "x.py")


@pytest.mark.azure
def test_model_validation_trains_then_scores_on_the_deployed_stack() -> None:
    """Release pipeline, after apply: one factory run trains and scores on the stack's own data, and
    both pipelines' rows land in the validation schema (never in Power BI's)."""
    import sqlalchemy as sa
    from azure_target import target_environment
    from demand_forecast.reporting.database import open_database
    from rich.console import Console

    from stackctl.aml.azure import azure_credential, ml_client
    from stackctl.aml.model_validation import data_factory_client
    from stackctl.cloud_stack import read_stack

    env = target_environment()
    stack_output = read_stack(env, REPO, Console())
    credential = azure_credential()
    started = datetime.now(UTC).replace(tzinfo=None)
    run = run_model_validation(
        data_factory_client(stack_output, credential),
        stack_output,
        aml_jobs=ml_client(stack_output, credential).jobs,
    )
    assert run.status == "Succeeded"
    db = open_database(run.parameters["reporting_database"], credential)
    runs = db.tables["pipeline_runs"]
    with db.engine.connect() as conn:
        rows = conn.execute(
            sa.select(runs.c.pipeline, runs.c.status).where(runs.c.started_at >= started)
        ).all()
    assert {(pipeline, status) for pipeline, status in rows} >= {
        ("training", "succeeded"),
        ("scoring", "succeeded"),
    }
    # The scoring run's forecasts are in the validation schema's view (where CI writes, review-23 B4).
    forecasts = db.tables["forecasts"]
    with db.engine.connect() as conn:
        this_run = sa.select(runs.c.run_id).where(runs.c.pipeline == "scoring", runs.c.started_at >= started)
        scored = conn.execute(
            sa.select(sa.func.count()).select_from(forecasts).where(forecasts.c.run_id.in_(this_run))
        ).scalar_one()
    assert scored > 0


# Review-aml finding 4: the validation deadline ends before the CI job's own limit (330 minutes).
def test_the_default_deadline_is_below_the_release_jobs_limit() -> None:
    from stackctl.aml.model_validation import DEFAULT_TIMEOUT_S, validation_timeout_s

    assert validation_timeout_s({}) == DEFAULT_TIMEOUT_S
    assert DEFAULT_TIMEOUT_S < 170 * 60


@pytest.mark.parametrize(("raw", "seconds"), [("6000", 6000.0), (" 900.5 ", 900.5), ("", None)])
def test_the_deadline_comes_from_the_environment(raw: str, seconds: float | None) -> None:
    from stackctl.aml.model_validation import DEFAULT_TIMEOUT_S, VALIDATION_TIMEOUT_ENV, validation_timeout_s

    assert validation_timeout_s({VALIDATION_TIMEOUT_ENV: raw}) == (seconds or DEFAULT_TIMEOUT_S)


@pytest.mark.parametrize("raw", ["0", "-5", "ninety minutes", "nan", "inf"])
def test_a_deadline_that_is_not_positive_seconds_is_a_clear_error(raw: str) -> None:
    from stackctl.aml.model_validation import VALIDATION_TIMEOUT_ENV, validation_timeout_s

    with pytest.raises(StackctlError, match=VALIDATION_TIMEOUT_ENV) as caught:
        validation_timeout_s({VALIDATION_TIMEOUT_ENV: raw})
    assert "CI job" in str(caught.value.fix)


# Review-22 U1: whichever job runs the validation sets (or inherits) a deadline that ends before the
# job's own limit, with ten minutes to cancel the factory run and its AML jobs (src/stackctl/aml/README.md).
CANCEL_ROOM_S = 600


def _dicts(node: Any) -> list[dict[str, Any]]:
    """Every mapping in a parsed YAML document, depth first."""
    if isinstance(node, dict):
        return [node, *(d for value in node.values() for d in _dicts(value))]
    if isinstance(node, list):
        return [d for item in node for d in _dicts(item)]
    return []


_ENDS_AT = re.compile(r"FORECAST_STACK_VALIDATION_ENDS_AT\S*\$\(\( \$\(date \+%s\) \+ (\d+) \* 60 \)\)")


def _script(step: dict[str, Any]) -> str:
    return str(step.get("run") or step.get("script") or (step.get("inputs") or {}).get("inlineScript") or "")


def validation_deadlines(workflow: dict[str, Any]) -> list[tuple[str, float | None, float]]:
    """(job, seconds from the job's start to validation's end, job limit seconds) of each job whose
    steps run the azure tests that include model validation: a GitHub job (`timeout-minutes`, `steps`)
    or an Azure Pipelines job or deployment (`timeoutInMinutes`, steps under `strategy.runOnce.deploy`
    too). The end is what a step before any of our commands (make, scripts/, terraform) writes into
    FORECAST_STACK_VALIDATION_ENDS_AT (the job's start + N minutes); None when no such step writes
    it: then nothing bounds validation by what is left of the job after apply and deploy
    (review-runtimefix F3)."""
    found: list[tuple[str, float | None, float]] = []
    for job in _dicts(workflow):
        minutes = job.get("timeout-minutes") or job.get("timeoutInMinutes")
        if minutes is None:
            continue
        steps = [
            d
            for d in _dicts(job)
            if "run" in d
            or "inputs" in d
            or "script" in d
            or "uses" in d
            or "checkout" in d
            or "task" in d
            or "download" in d
        ]
        if not any("-m azure" in _script(s) and "not model_validation" not in _script(s) for s in steps):
            continue
        ours = [i for i, step in enumerate(steps) if re.search(r"\bmake |scripts/|terraform ", _script(step))]
        written = [(i, m) for i, step in enumerate(steps) if (m := _ENDS_AT.search(_script(step)))]
        in_time = [m for i, m in written if not ours or i < ours[0]]
        name = str(job.get("deployment") or job.get("job") or job.get("name") or "job")
        found.append((name, float(in_time[0].group(1)) * 60 if in_time else None, float(minutes) * 60))
    return found


@pytest.mark.parametrize("path", [".github/workflows/release.yml", ".azure-pipelines/release.yml"])
def test_the_validation_deadline_fits_the_job_that_runs_it(path: str) -> None:
    import yaml

    workflow = yaml.safe_load((REPO / path).read_text(encoding="utf-8"))
    deadlines = validation_deadlines(workflow)
    assert deadlines, f"no job of {path} runs the model validation tests"
    for job, deadline, limit in deadlines:
        assert deadline is not None, (
            path,
            job,
            "its first step must write FORECAST_STACK_VALIDATION_ENDS_AT",
        )
        assert deadline <= limit - CANCEL_ROOM_S, (path, job, deadline, limit)


VALIDATE = {"run": 'make unit ARGS="-m azure -k model_validation"'}


def _ends_at(minutes: int) -> dict[str, str]:
    return {
        "run": f'echo "FORECAST_STACK_VALIDATION_ENDS_AT=$(( $(date +%s) + {minutes} * 60 ))" >> $GITHUB_ENV'
    }


@pytest.mark.parametrize(
    ("timeout_minutes", "steps", "fits"),
    [
        (330, [_ends_at(320), {"uses": "actions/checkout"}, VALIDATE], True),
        (330, [_ends_at(325), VALIDATE], False),  # no room to cancel
        (170, [_ends_at(320), VALIDATE], False),  # the job's limit was lowered, the step not
        (330, [{"uses": "actions/checkout"}, _ends_at(320), VALIDATE], True),  # checkout takes no time
        (330, [{"run": "make apply ENV=dev"}, _ends_at(320), VALIDATE], False),  # the clock starts late
        (330, [VALIDATE], False),  # nothing bounds it by what apply left
    ],
)
def test_a_deadline_past_the_job_limit_is_caught(
    timeout_minutes: int, steps: list[dict[str, str]], fits: bool
) -> None:
    workflow = {"jobs": {"validate": {"timeout-minutes": timeout_minutes, "steps": steps}}}
    ((_, seconds, limit),) = validation_deadlines(workflow)
    assert (seconds is not None and seconds <= limit - CANCEL_ROOM_S) is fits


def test_the_deadline_is_what_is_left_of_the_job() -> None:
    from stackctl.aml.model_validation import VALIDATION_ENDS_AT_ENV, validation_timeout_s

    env = {VALIDATION_ENDS_AT_ENV: "10000"}
    assert validation_timeout_s(env, now=lambda: 9000.0) == 1000.0  # less than the 100-minute default
    assert validation_timeout_s(env, now=lambda: 0.0) == 6000.0  # the default when more is left
    with pytest.raises(StackctlError, match="no time is left"):
        validation_timeout_s(env, now=lambda: 10001.0)
