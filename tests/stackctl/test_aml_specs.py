"""Every AML spec deploy builds passes azure-ai-ml's own validation, as objects and as dumped YAML."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from azure.ai.ml import load_component, load_environment, load_job
from azure.ai.ml.entities._load_functions import (
    load_batch_endpoint,
    load_pipeline_component_batch_deployment,
    load_schedule,
)

from stackctl.aml.dump import dump_assets
from stackctl.aml.environment import load_runtime
from stackctl.aml.graph import PIPELINES, STEPS, aml_command
from stackctl.aml.specs import AmlAssets, build_assets
from stackctl.aml.stack_output import StackOutput, load_stack_file
from stackctl.errors import StackctlError

pytestmark = pytest.mark.filterwarnings("ignore::marshmallow.warnings.RemovedInMarshmallow4Warning")

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]

LOADERS: dict[str, Any] = {
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
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("context")
    (folder / "Dockerfile").write_text("FROM python:3.11-slim\n", encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def assets(stack: StackOutput, context: Path) -> AmlAssets:
    return build_assets(stack, "env0123456789abc", context)


@pytest.fixture(scope="module")
def dumped(assets: AmlAssets, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Path]]:
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
    out, files = dumped
    # environment, one component per step; per pipeline: component, endpoint, deployment, schedule, its job
    assert len(files) == 1 + len(STEPS) + 5 * len(PIPELINES)
    for path in files:
        loader = load_job if path.name.endswith(".job.yaml") else LOADERS[path.parent.name]
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


def test_training_runs_on_the_gpu_cluster_and_every_other_step_on_the_cpu_cluster(
    dumped: tuple[Path, list[Path]], stack: StackOutput
) -> None:
    out, _ = dumped
    seen = {}
    for name in ("training", "scoring"):
        spec = yaml.safe_load(
            (out / "pipelines" / f"demand_forecast_{name}.yaml").read_text(encoding="utf-8")
        )
        for job in spec["jobs"].values():
            step = job["component"]["name"].removeprefix("demand_forecast_")
            seen[step] = job["compute"]
    assert seen["train"] == f"azureml:{stack.aml.gpu_cluster_name}"
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
    assert scored.startswith(f"azureml://datastores/{stack.aml.datastores.scored}/paths/")


def test_versions_are_content_hashes_stable_across_builds_and_moved_by_content(
    assets: AmlAssets, stack: StackOutput, context: Path
) -> None:
    again = build_assets(stack, "env0123456789abc", context)
    assert [
        (k, n, getattr(e, "version", None), (e.tags or {}).get("content_hash")) for k, n, e in again.all()
    ] == [(k, n, getattr(e, "version", None), (e.tags or {}).get("content_hash")) for k, n, e in assets.all()]
    other_env = build_assets(stack, "another-env-vers", context)
    assert other_env.components["train"].version != assets.components["train"].version
    assert other_env.pipelines["training"].version != assets.pipelines["training"].version
    assert re.fullmatch(r"[0-9a-f]{16}", str(assets.components["train"].version))


def test_runtime_pins_match_the_tested_constraints() -> None:
    constraints = {}
    for line in (REPO / "requirements" / "constraints.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            constraints[name.strip().lower()] = version.strip()
    runtime = load_runtime()
    checked = 0
    for pin in runtime.python_packages:
        name, version = pin.split("==", 1)
        if name.lower() in constraints:
            assert constraints[name.lower()] == version, f"{pin} differs from requirements/constraints.txt"
            checked += 1
    assert checked >= 8


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
    assert len(list((out / "environment" / "build").glob("demand_forecast_model-*.whl"))) == 1
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
        == 2
    )  # a dev stack description is not prod's


def test_schedules_are_disabled_where_data_factory_runs_the_week(stack: StackOutput, context: Path) -> None:
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
