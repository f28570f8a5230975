"""What every AML job needs in Azure: App Insights, the job identity, a place in the lake, a failure record.

Faults from the Azure review (each test failed on the code before the fix):
* jobs had no APPLICATIONINSIGHTS_CONNECTION_STRING (telemetry never left the job) and no
  AZURE_CLIENT_ID (azure-identity picked the cluster's system identity, which has no SQL user);
* the scoring endpoint's outputs went to the workspace's default store, not the lake's `scored`;
* Data Factory's invoke body named no outputs.
"""

from __future__ import annotations

import json
from pathlib import Path

import hcl2
import pytest
import yaml

from stackctl.aml.environment import IMAGE_KINDS, ImageKind
from stackctl.aml.stack_output import StackOutput, load_stack_file
from stackctl.errors import StackctlError
from stackctl.graph import PIPELINES, SCORING

pytestmark = pytest.mark.filterwarnings("ignore::marshmallow.warnings.RemovedInMarshmallow4Warning")

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]
# The variables' names are Azure's: azure-monitor-opentelemetry and azure-identity read them.
CONNECTION_STRING_ENV = "APPLICATIONINSIGHTS_CONNECTION_STRING"
CLIENT_ID_ENV = "AZURE_CLIENT_ID"


@pytest.fixture(scope="module")
def stack() -> StackOutput:
    return load_stack_file(DATA / "stack_output_dev.json")


@pytest.fixture(scope="module")
def dumped(stack: StackOutput, tmp_path_factory: pytest.TempPathFactory) -> Path:
    contexts: dict[ImageKind, Path] = {}
    for kind in IMAGE_KINDS:
        folder = tmp_path_factory.mktemp(f"context-{kind}")
        (folder / "Dockerfile").write_text("FROM python:3.11-slim\n", encoding="utf-8")
        contexts[kind] = folder
    out = tmp_path_factory.mktemp("dump")
    # azure-ai-ml (under specs and dump) is imported here, not when the suite is collected.
    from stackctl.aml.dump import dump_assets
    from stackctl.aml.specs import build_assets

    dump_assets(build_assets(stack, "env0123456789abc", contexts), out)
    return out


def _pipeline_yamls(out: Path) -> list[Path]:
    files = [out / "pipelines" / f"demand_forecast_{p.name}.yaml" for p in PIPELINES]
    files += [out / "schedules" / f"demand-forecast-{p.name}-weekly.job.yaml" for p in PIPELINES]
    return files


def _jobs(spec: dict[str, object]) -> dict[str, dict[str, object]]:
    jobs = spec.get("jobs")
    if jobs is None:  # a schedule's job: the pipeline component is inline
        component = spec["component"]
        assert isinstance(component, dict)
        jobs = component["jobs"]
    assert isinstance(jobs, dict)
    return jobs


def test_every_job_of_every_dumped_pipeline_carries_app_insights_and_the_job_identity(
    dumped: Path, stack: StackOutput
) -> None:
    assert stack.job_identity is not None
    seen = 0
    for path in _pipeline_yamls(dumped):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        jobs = _jobs(spec)
        assert jobs, path
        for name, job in jobs.items():
            variables = job.get("environment_variables") or {}
            assert isinstance(variables, dict)
            where = f"{path.name}: job {name}"
            assert variables.get(CONNECTION_STRING_ENV) == stack.application_insights_connection_string, where
            assert variables.get(CLIENT_ID_ENV) == stack.job_identity.client_id, where
            seen += 1
    assert seen == 2 * sum(len(p.nodes) for p in PIPELINES)


def test_every_job_records_a_failure_in_its_pipelines_reporting_database_not_a_deploy_time_one(
    dumped: Path,
) -> None:
    """Review finding (issue 22): a failed release-validation step wrote into the production tables
    Power BI reads, because the failure record's database was an environment variable fixed at deploy.
    Now every node binds its `reporting_database` to the pipeline input and no job carries the URL."""
    seen = 0
    for path in _pipeline_yamls(dumped):
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        for name, job in _jobs(spec).items():
            where = f"{path.name}: job {name}"
            variables = job.get("environment_variables") or {}
            assert isinstance(variables, dict)
            assert "REPORTING_DATABASE_URL" not in variables, where
            inputs = job.get("inputs") or {}
            assert isinstance(inputs, dict)
            binding = inputs.get("reporting_database")
            bound = binding.get("path") if isinstance(binding, dict) else binding
            assert bound == "${{parent.inputs.reporting_database}}", where
            seen += 1
    assert seen == 2 * sum(len(p.nodes) for p in PIPELINES)


@pytest.mark.parametrize("missing", ["job_identity", "application_insights_connection_string"])
def test_deploy_refuses_a_stack_output_without_them(
    tmp_path: Path, missing: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from stackctl.cloud_stack import deploy_assets

    data = json.loads((DATA / "stack_output_dev.json").read_text(encoding="utf-8"))
    data.pop(missing, None)
    data["stack"]["value"].pop(missing, None)
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    stack = load_stack_file(path)

    class Untouchable:
        def __getattr__(self, name: str) -> object:
            raise AssertionError(f"deploy reached Azure ({name}) with an incomplete stack output")

    with pytest.raises(StackctlError, match=missing) as caught:
        deploy_assets(stack, "dev", REPO, _quiet_console(), client=Untouchable(), sql_executor=lambda _: None)
    assert "make apply" in str(caught.value.fix)


def test_the_sql_user_of_the_jobs_is_the_job_identity(stack: StackOutput) -> None:
    from stackctl.aml.specs import require_job_settings

    assert stack.job_identity is not None
    require_job_settings(stack, "fixture")
    wrong_sid = stack.model_copy(
        update={
            "job_identity": stack.job_identity.model_copy(
                update={"client_id": "99999999-9999-9999-9999-999999999999"}
            )
        }
    )
    with pytest.raises(StackctlError, match=r"aad_principal_sids\.job"):
        require_job_settings(wrong_sid, "fixture")


def test_the_connection_string_is_never_saved_with_the_stack_description(tmp_path: Path) -> None:
    from stackctl.cloud_stack import read_stack

    class Outputs:
        def output_json(self) -> dict[str, object]:
            return dict(json.loads((DATA / "stack_output_dev.json").read_text(encoding="utf-8")))

    parsed = read_stack("dev", tmp_path, _quiet_console(), Outputs())  # type: ignore[arg-type]
    assert parsed.application_insights_connection_string
    saved = (tmp_path / "build" / "dev" / "stack.json").read_text(encoding="utf-8")
    assert "InstrumentationKey" not in saved
    assert load_stack_file(tmp_path / "build" / "dev" / "stack.json").job_identity == parsed.job_identity


def test_scoring_outputs_default_to_the_lakes_scored_datastore(dumped: Path, stack: StackOutput) -> None:
    (path,) = (dumped / "deployments").glob(f"{stack.endpoints.scoring.name}--*.yaml")
    deployment = yaml.safe_load(path.read_text(encoding="utf-8"))
    # A datastore reference (azureml:<name>) to the AzureBlob datastore: batch endpoints write only
    # to Blob Storage datastores (how-to-access-data-batch-endpoints-jobs).
    assert deployment["settings"]["default_datastore"] == f"azureml:{stack.aml.output_datastores.scored}"
    assert deployment["settings"]["default_datastore"] == "azureml:lake_scored_blob"
    schedule_job = yaml.safe_load(
        (dumped / "schedules" / "demand-forecast-scoring-weekly.job.yaml").read_text(encoding="utf-8")
    )
    for name in ("scored", "monitoring"):
        path = schedule_job["outputs"][name]["path"]
        assert path.startswith(f"azureml://datastores/{stack.aml.datastores.scored}/paths/"), path


def _data_factory_locals() -> dict[str, object]:
    text = (REPO / "modules" / "data_factory" / "main.pipeline.tf").read_text(encoding="utf-8")
    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
    merged: dict[str, object] = {}
    for block in hcl2.loads(text, serialization_options=options)["locals"]:
        merged.update(block)
    return merged


def test_data_factory_names_exactly_the_scoring_pipelines_outputs_in_their_lake_file_systems() -> None:
    """ADF's invoke body (OutputData) must match the pipeline's output names, or AML rejects the job
    (an unknown output) or writes the output to the workspace's default store (a missing one)."""
    local = _data_factory_locals()
    outputs = local["scoring_outputs"]
    assert isinstance(outputs, dict)
    assert set(outputs) == set(SCORING.outputs)
    for name, file_system in outputs.items():
        step, output = SCORING.outputs[name]
        assert file_system == SCORING.node(step).step.outputs[output].lake, name
    properties = local["invoke_properties"]
    assert isinstance(properties, dict)
    scoring = properties["scoring"]
    assert isinstance(scoring, dict)
    output_data = str(scoring["OutputData"])
    assert "local.scoring_outputs" in output_data
    assert "var.aml.datastores[fs]" in output_data
    assert "local.run_folder" in output_data
    assert "formatDateTime(pipeline().TriggerTime" in str(local["run_folder"])
    text = (REPO / "modules" / "data_factory" / "main.pipeline.tf").read_text(encoding="utf-8")
    assert "body           = { properties = local.invoke_properties[step] }" in text


def _quiet_console() -> object:
    from rich.console import Console

    return Console(quiet=True)
