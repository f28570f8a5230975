"""Every AML spec deploy builds passes azure-ai-ml's own validation, as objects and as dumped YAML."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from stackctl.aml.environment import IMAGE_KINDS, ImageKind
from stackctl.aml.stack_output import StackOutput, load_stack_file
from stackctl.errors import ExitStatus, StackctlError
from stackctl.graph import PIPELINES, STEPS, aml_command

if TYPE_CHECKING:
    from stackctl.aml.specs import AmlAssets

pytestmark = pytest.mark.filterwarnings("ignore::marshmallow.warnings.RemovedInMarshmallow4Warning")

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


def loaders() -> dict[str, Any]:
    """azure-ai-ml's loader per asset folder (imported here: collecting the suite must not load it)."""
    from azure.ai.ml import load_component, load_environment
    from azure.ai.ml.entities._load_functions import (
        load_batch_endpoint,
        load_pipeline_component_batch_deployment,
        load_schedule,
    )

    return {
        "environment": load_environment,
        "components": load_component,
        "pipelines": load_component,
        "endpoints": load_batch_endpoint,
        "deployments": load_pipeline_component_batch_deployment,
        "schedules": load_schedule,
    }


@pytest.fixture(scope="module")
def stack() -> StackOutput:
    return load_stack_file(DATA / "stack_output_dev.json")


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> dict[ImageKind, Path]:
    contexts: dict[ImageKind, Path] = {}
    for kind in IMAGE_KINDS:
        folder = tmp_path_factory.mktemp(f"context-{kind}")
        (folder / "Dockerfile").write_text("FROM python:3.11-slim\n", encoding="utf-8")
        contexts[kind] = folder
    return contexts


@pytest.fixture(scope="module")
def assets(stack: StackOutput, context: dict[ImageKind, Path]) -> AmlAssets:
    from stackctl.aml.specs import build_assets

    return build_assets(stack, "env0123456789abc", context)


@pytest.fixture(scope="module")
def dumped(assets: AmlAssets, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
    from stackctl.aml.dump import dump_assets

    out = tmp_path_factory.mktemp("dump")
    return out, dump_assets(assets, out)


def test_every_built_asset_passes_azure_ai_ml_validation(assets: AmlAssets) -> None:
    kinds = set()
    for kind, name, entity in assets.all():
        kinds.add(kind)
        if hasattr(entity, "_validate"):
            result = entity._validate()
            if result is not None:
                assert result.passed, f"{kind} {name}: {result}"
    assert kinds == {"environment", "component", "pipeline", "endpoint", "deployment", "schedule"}


def test_dumped_yaml_loads_back_with_azure_ai_ml_loaders(dumped: tuple[Path, list[Path]]) -> None:
    from azure.ai.ml import load_job

    out, files = dumped
    # two environments, one component per step;
    # per pipeline: component, endpoint, deployment, schedule, its job
    assert len(files) == len(IMAGE_KINDS) + len(STEPS) + 5 * len(PIPELINES)
    for path in files:
        loader = load_job if path.name.endswith(".job.yaml") else loaders()[path.parent.name]
        entity = loader(path)
        result = entity._validate() if hasattr(entity, "_validate") else None
        assert result is None or result.passed, f"{path.relative_to(out)}: {result}"


def test_one_component_per_step_with_the_graph_command_line(assets: AmlAssets) -> None:
    assert sorted(assets.components) == sorted(step.name for step in STEPS)
    for step in STEPS:
        component = assets.components[step.name]
        assert component.command == aml_command(step)
        assert set(component.inputs) == set(step.inputs)
        assert set(component.outputs) == set(step.outputs)
    # optional inputs become AML optional flags, so an unset input drops out of the command line
    assert "$[[--epochs ${{inputs.epochs}}]]" in assets.components["train"].command


def test_training_runs_on_the_cluster_the_stack_chooses_and_every_other_step_on_the_cpu_cluster(
    dumped: tuple[Path, list[Path]], stack: StackOutput
) -> None:
    """The fixture's stack trains on the CPU cluster (stack.aml.distributed.train.compute); the GPU
    choice and a stack without the setting: tests/stackctl/test_aml_distributed.py."""
    out, _ = dumped
    seen = {}
    for name in ("training", "scoring"):
        spec = yaml.safe_load(
            (out / "pipelines" / f"demand_forecast_{name}.yaml").read_text(encoding="utf-8")
        )
        for job in spec["jobs"].values():
            step = job["component"]["name"].removeprefix("demand_forecast_")
            seen[step] = job["compute"]
    assert stack.aml.distributed["train"].compute == "cpu"
    assert seen["train"] == f"azureml:{stack.aml.cpu_cluster_name}"
    for step in ("validate", "evaluate", "register", "score", "monitor"):
        assert seen[step] == f"azureml:{stack.aml.cpu_cluster_name}", step


def test_pipelines_are_published_under_the_endpoint_names_terraform_wrote(
    assets: AmlAssets, stack: StackOutput
) -> None:
    assert assets.endpoints["training"].name == stack.endpoints.training.name
    assert assets.endpoints["scoring"].name == stack.endpoints.scoring.name
    for name, deployment in assets.deployments.items():
        pipeline = assets.pipelines[name]
        assert deployment.endpoint_name == assets.endpoints[name].name
        assert deployment.component == f"azureml:{pipeline.name}:{pipeline.version}"


def test_schedules_use_the_cron_and_time_zone_from_the_stack(assets: AmlAssets, stack: StackOutput) -> None:
    training, scoring = assets.schedules["training"], assets.schedules["scoring"]
    assert training.trigger.expression == stack.schedules.training_cron
    assert scoring.trigger.expression == stack.schedules.scoring_cron
    assert training.trigger.time_zone == stack.schedules.time_zone
    raw_path = training.create_job.inputs["raw_data"]._data.path
    assert raw_path == f"azureml://datastores/{stack.aml.datastores.raw}/paths/weekly/"
    scored = scoring.create_job.outputs["scored"].path
    assert scored == (
        f"azureml://datastores/{stack.aml.datastores.scored}/paths/scoring/${{{{name}}}}/${{{{output_name}}}}/"
    )


def test_versions_are_content_hashes_stable_across_builds_and_moved_by_content(
    assets: AmlAssets, stack: StackOutput, context: dict[ImageKind, Path]
) -> None:
    from stackctl.aml.specs import build_assets

    again = build_assets(stack, "env0123456789abc", context)
    assert [
        (k, n, getattr(e, "version", None), (e.tags or {}).get("content_hash")) for k, n, e in again.all()
    ] == [(k, n, getattr(e, "version", None), (e.tags or {}).get("content_hash")) for k, n, e in assets.all()]
    other_env = build_assets(stack, "another-env-vers", context)
    assert other_env.components["train"].version != assets.components["train"].version
    assert other_env.pipelines["training"].version != assets.pipelines["training"].version
    assert re.fullmatch(r"[0-9a-f]{16}", str(assets.components["train"].version))


def test_stack_output_missing_a_key_names_it(tmp_path: Path) -> None:
    data = yaml.safe_load((DATA / "stack_output_dev.json").read_text(encoding="utf-8"))
    del data["stack"]["value"]["endpoints"]["scoring"]
    broken = tmp_path / "stack.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(StackctlError, match=r"stack\.endpoints\.scoring"):
        load_stack_file(broken)


def test_a_sensitive_stack_output_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((DATA / "stack_output_dev.json").read_text(encoding="utf-8"))
    data["stack"]["sensitive"] = True
    path = tmp_path / "stack.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(StackctlError, match="never a secret"):
        load_stack_file(path)


def test_pipelines_dump_cli_writes_loadable_yaml_for_review(tmp_path: Path) -> None:
    from azure.ai.ml import load_component
    from azure.ai.ml.entities._load_functions import load_schedule

    from stackctl.cli import main

    out = tmp_path / "dump"
    assert (
        main(
            [
                "pipelines",
                "dump",
                "--env",
                "dev",
                "--out",
                str(out),
                "--stack-json",
                str(DATA / "stack_output_dev.json"),
            ]
        )
        == 0
    )
    for kind in IMAGE_KINDS:
        assert len(list((out / "environment" / f"build-{kind}").glob("demand_forecast_model-*.whl"))) == 1
    training = load_component(out / "pipelines" / "demand_forecast_training.yaml")
    assert training._validate().passed
    assert load_schedule(out / "schedules" / "demand-forecast-scoring-weekly.yaml")._validate().passed
    assert (
        main(
            [
                "pipelines",
                "dump",
                "--env",
                "prod",
                "--out",
                str(out),
                "--stack-json",
                str(DATA / "stack_output_dev.json"),
            ]
        )
        == ExitStatus.SETUP_FAULT
    )  # a dev stack description is not prod's


def test_schedules_are_disabled_where_data_factory_runs_the_week(
    stack: StackOutput, context: dict[ImageKind, Path]
) -> None:
    from stackctl.aml.specs import build_assets

    # One weekly trigger per stack: with ADF's trigger started, the AML schedules exist but stay off.
    adf_driven = stack.model_copy(
        update={"schedules": stack.schedules.model_copy(update={"aml_schedules_enabled": False})}
    )
    off = build_assets(adf_driven, "env0123456789abc", context)
    on = build_assets(stack, "env0123456789abc", context)
    assert all(s.is_enabled for s in on.schedules.values())
    assert not any(s.is_enabled for s in off.schedules.values())
    # the flag is part of the spec hash, so deploy notices the change and updates the schedule
    assert off.schedules["training"].tags["content_hash"] != on.schedules["training"].tags["content_hash"]


def test_no_step_is_deterministic_and_every_job_forces_a_rerun(
    assets: AmlAssets, dumped: tuple[Path, list[Path]]
) -> None:
    """Fault kind: AML reuses a deterministic step's last output when its inputs look the same, and the
    weekly inputs are the same `weekly/` path and the same champion reference every week."""
    for name, component in assets.components.items():
        assert component.is_deterministic is False, name
    out, _ = dumped
    for pipeline in PIPELINES:
        job = yaml.safe_load(
            (out / "schedules" / f"demand-forecast-{pipeline.name}-weekly.job.yaml").read_text(
                encoding="utf-8"
            )
        )
        assert job["settings"]["force_rerun"] is True
    for deployment in assets.deployments.values():
        assert deployment.settings["force_rerun"] == "True"


def test_each_lake_output_gets_its_own_folder_per_job(assets: AmlAssets) -> None:
    """Fault kind: scored and monitoring shared one path template, so one overwrote the other."""
    paths = []
    for schedule in assets.schedules.values():
        for output in schedule.create_job.outputs.values():
            if getattr(output, "path", None):
                # ${{output_name}} keeps scored/ and monitoring/ (same datastore) apart within a job
                assert output.path.endswith("/${{name}}/${{output_name}}/"), output.path
                paths.append(output.path)
    assert len(paths) >= 3


def _adf_wait_seconds() -> int:
    import hcl2

    text = (REPO / "modules" / "data_factory" / "main.pipeline.tf").read_text(encoding="utf-8")
    match = re.search(
        r'name\s*=\s*"wait_\$\{step\}".*?timeout\s*=\s*"(\d+)\.(\d\d):(\d\d):(\d\d)"', text, re.S
    )
    assert match, "the wait_<pipeline> Until activity of modules/data_factory has no timeout"
    assert hcl2.loads(text)  # the file is valid HCL: the value above is the one Terraform reads
    days, hours, minutes, seconds = (int(part) for part in match.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def test_every_step_has_a_timeout_and_each_pipeline_ends_before_data_factory_stops_waiting(
    dumped: tuple[Path, list[Path]],
) -> None:
    """Fault kind: without limits a hung job outlives ADF's wait and the week's run hangs unseen."""
    from stackctl.aml.specs import ADF_WAIT_SECONDS, STEP_TIMEOUT_SECONDS

    assert _adf_wait_seconds() == ADF_WAIT_SECONDS
    out, _ = dumped
    for pipeline in PIPELINES:
        spec = yaml.safe_load(
            (out / "pipelines" / f"demand_forecast_{pipeline.name}.yaml").read_text(encoding="utf-8")
        )
        total = 0
        for job in spec["jobs"].values():
            name = job["component"]["name"].removeprefix("demand_forecast_")
            timeout = job.get("limits", {}).get("timeout")
            assert timeout == STEP_TIMEOUT_SECONDS[name], f"{pipeline.name}.{name} has no timeout"
            total += int(timeout)
        assert total < ADF_WAIT_SECONDS, f"{pipeline.name} may run {total}s, ADF waits {ADF_WAIT_SECONDS}s"


def test_one_batch_deployment_per_pipeline_component_version(
    assets: AmlAssets, stack: StackOutput, context: dict[ImageKind, Path]
) -> None:
    from stackctl.aml.specs import build_assets

    other = build_assets(stack, "another-env-vers", context)
    for name in ("training", "scoring"):
        assert assets.deployments[name].name != other.deployments[name].name
        assert str(assets.pipelines[name].version)[:12] in str(assets.deployments[name].name)
        assert re.fullmatch(r"[a-zA-Z][a-zA-Z0-9-]{2,31}", str(assets.deployments[name].name))


def test_every_step_runs_in_the_image_of_its_cluster(assets: AmlAssets, stack: StackOutput) -> None:
    """The fixture trains on the CPU cluster, so every step runs the CPU image; the CUDA image for a
    GPU-trained stack: tests/stackctl/test_aml_distributed.py."""
    assert stack.aml.distributed["train"].compute == "cpu"
    for name, component in assets.components.items():
        assert str(component.environment).startswith("azureml:demand-forecast-cpu:"), (
            name,
            component.environment,
        )


def test_pipelines_dump_without_terraform_state_derives_the_names_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`make pipelines ENV=dev` on a fresh clone: no state, no build/dev/stack.json."""
    from azure.ai.ml import load_job
    from azure.ai.ml.entities._load_functions import load_batch_endpoint

    from stackctl.cli import main

    root = tmp_path / "clone"
    root.mkdir()
    for part in ("infra", "modules", "envs", "src", "requirements"):
        (root / part).symlink_to(REPO / part)
    monkeypatch.setenv("FORECAST_STACK_ROOT", str(root))
    out = tmp_path / "dump"
    assert main(["pipelines", "dump", "--env", "dev", "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "naming convention" in printed.out
    assert "experimental class" not in printed.out + printed.err
    assert load_batch_endpoint(out / "endpoints" / "fcst-dev-train-d01.yaml").name == "fcst-dev-train-d01"
    validated = []
    for path in out.rglob("*.yaml"):
        if "build-" in str(path):
            continue
        loader = load_job if path.name.endswith(".job.yaml") else loaders()[path.parent.name]
        entity = loader(path)
        result = entity._validate() if hasattr(entity, "_validate") else None
        assert result is None or result.passed, f"{path}: {result}"
        validated.append(path.parent.name)
    # every kind of spec the dump writes went through azure-ai-ml's loader, none skipped by a path change
    assert set(validated) == set(loaders()), sorted(set(validated))
    training = yaml.safe_load(
        (out / "pipelines" / "demand_forecast_training.yaml").read_text(encoding="utf-8")
    )
    computes = {job["component"]["name"]: job["compute"] for job in training["jobs"].values()}
    # envs/dev/terraform.tfvars: aml.train_compute = "cpu", 1 node x 2 processes
    assert computes["demand_forecast_train"] == "azureml:cluster-cpu"
    assert training["jobs"]["train"]["distribution"] == {"type": "pytorch", "process_count_per_instance": 2}
    assert training["jobs"]["train"]["resources"] == {"instance_count": 1}
