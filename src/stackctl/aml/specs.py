"""azure-ai-ml entities built from the pipeline graph and the `stack` output.

Everything deploy creates is built here, as objects, so that tests can validate them offline
(`_validate()`, dump + `load_*`) and `stackctl pipelines dump` can write them for review:

* one command component per step (train on the GPU cluster, the others on the CPU cluster);
* the training and scoring pipelines as pipeline components (`dsl.pipeline`);
* the batch endpoints Terraform named, each with a pipeline-component deployment ("published pipeline");
* the weekly schedules of both pipelines.

Versions are content hashes of the specs, so an unchanged spec keeps its version.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.ai.ml import Input, Output, dsl
from azure.ai.ml.entities import (
    BatchEndpoint,
    BuildContext,
    CommandComponent,
    CronTrigger,
    Environment,
    JobSchedule,
    PipelineComponent,
    PipelineComponentBatchDeployment,
    PipelineJob,
)

from stackctl.aml.environment import ENVIRONMENT_NAME
from stackctl.aml.graph import PIPELINES, Pipeline, Step, StepInput, aml_command
from stackctl.aml.stack_output import StackOutput
from stackctl.hashing import hash_json

COMPONENT_PREFIX = "demand_forecast_"
DEPLOYMENT_NAME = "weekly"
CONTENT_HASH_TAG = "content_hash"
VERSION_LENGTH = 16


@dataclass
class AmlAssets:
    environment: Environment
    components: dict[str, CommandComponent]
    pipelines: dict[str, PipelineComponent]
    endpoints: dict[str, BatchEndpoint]
    deployments: dict[str, PipelineComponentBatchDeployment]
    schedules: dict[str, JobSchedule]

    def all(self) -> list[tuple[str, str, Any]]:
        """(kind, name, entity) in the order deploy creates them."""
        items: list[tuple[str, str, Any]] = [("environment", ENVIRONMENT_NAME, self.environment)]
        items += [("component", str(c.name), c) for c in self.components.values()]
        items += [("pipeline", str(p.name), p) for p in self.pipelines.values()]
        items += [("endpoint", str(e.name), e) for e in self.endpoints.values()]
        items += [("deployment", f"{d.endpoint_name}/{d.name}", d) for d in self.deployments.values()]
        items += [("schedule", str(s.name), s) for s in self.schedules.values()]
        return items


def spec_hash(entity: Any) -> str:
    """A version from the entity's own serialised spec (without its version and volatile fields)."""
    spec = dict(entity._to_dict())
    for volatile in ("version", "id", "creation_context", "latest_version"):
        spec.pop(volatile, None)
    return hash_json(spec)[:VERSION_LENGTH]


def _stamp(entity: Any) -> None:
    """Tag an unversioned entity (endpoint, deployment, schedule) with the hash of its spec."""
    entity.tags = {**(entity.tags or {}), CONTENT_HASH_TAG: spec_hash(entity)}


def _input(spec: StepInput) -> Input:
    return Input(
        type=spec.kind,
        default=spec.default,
        optional=True if spec.optional else None,
        description=spec.description,
    )


def build_component(step: Step, environment_ref: str) -> CommandComponent:
    component = CommandComponent(
        name=COMPONENT_PREFIX + step.name,
        display_name=f"demand-forecast {step.name}",
        description=step.description,
        inputs={name: _input(spec) for name, spec in step.inputs.items()},
        outputs={
            name: Output(type="uri_folder", description=spec.description)
            for name, spec in step.outputs.items()
        },
        command=aml_command(step),
        environment=environment_ref,
        tags={"compute": step.compute},
    )
    component.version = spec_hash(component)
    return component


def _compute_ref(stack: StackOutput, step: Step) -> str:
    name = stack.aml.gpu_cluster_name if step.compute == "gpu" else stack.aml.cpu_cluster_name
    return f"azureml:{name}"


def pipeline_function(
    pipeline: Pipeline, components: dict[str, CommandComponent], stack: StackOutput
) -> Callable[..., PipelineJob]:
    """A `dsl.pipeline` function wiring the components as the graph says.

    dsl.pipeline reads the parameters and their annotations from the function, so the signature is
    generated from the graph's pipeline inputs rather than written out by hand a second time.
    """

    def body(**kwargs: Any) -> dict[str, Any]:
        nodes: dict[str, Any] = {}
        for node in pipeline.nodes:
            arguments: dict[str, Any] = {}
            for name, binding in node.bindings.items():
                if binding.pipeline_input is not None:
                    arguments[name] = kwargs[binding.pipeline_input]
                else:
                    arguments[name] = nodes[str(binding.step)].outputs[str(binding.output)]
            job = components[node.step.name](**arguments)
            job.compute = _compute_ref(stack, node.step)
            nodes[node.step.name] = job
        return {out: nodes[step].outputs[output] for out, (step, output) in pipeline.outputs.items()}

    parameters = []
    for name, spec in pipeline.inputs.items():
        default: Any = (
            spec.default if spec.default is not None else (None if spec.optional else inspect.Parameter.empty)
        )
        parameters.append(
            inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=_input(spec), default=default)
        )
    body.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    body.__annotations__ = {p.name: p.annotation for p in parameters}
    body.__name__ = COMPONENT_PREFIX + pipeline.name
    decorated: Callable[..., PipelineJob] = dsl.pipeline(
        body,
        name=COMPONENT_PREFIX + pipeline.name,
        display_name=f"demand-forecast {pipeline.name}",
        description=pipeline.description,
        default_compute=f"azureml:{stack.aml.cpu_cluster_name}",
    )
    return decorated


# The folder of each lake file system that holds the current week's files (modules/data_factory
# copies raw/weekly -> conditioned/weekly).
LANDING_FOLDER = "weekly"


def scheduled_job(
    pipeline: Pipeline, function: Callable[..., PipelineJob], stack: StackOutput
) -> PipelineJob:
    """The job a schedule submits: the week's files from the raw datastore's `weekly/` folder (where
    the sources land them, and what Data Factory snapshots into conditioned/weekly/ before it invokes
    the endpoints), lake outputs to their datastores."""
    job = function(
        raw_data=Input(
            type="uri_folder", path=f"azureml://datastores/{stack.aml.datastores.raw}/paths/{LANDING_FOLDER}/"
        )
    )
    job.display_name = f"demand-forecast {pipeline.name} (scheduled)"
    job.experiment_name = f"demand-forecast-{pipeline.name}"
    for out_name, (step_name, output) in pipeline.outputs.items():
        lake = pipeline.node(step_name).step.outputs[output].lake
        if lake is not None:
            datastore = getattr(stack.aml.datastores, lake)
            job.outputs[out_name] = Output(
                type="uri_folder",
                path=f"azureml://datastores/{datastore}/paths/{pipeline.name}/${{{{name}}}}/",
            )
    return job


def build_environment(version: str, build_context: Path) -> Environment:
    return Environment(
        name=ENVIRONMENT_NAME,
        version=version,
        description="demand_forecast model wheel on the pinned runtime (stackctl/aml/runtime.yaml)",
        build=BuildContext(path=str(build_context)),
    )


def build_assets(stack: StackOutput, environment_version: str, build_context: Path) -> AmlAssets:
    environment = build_environment(environment_version, build_context)
    environment_ref = f"azureml:{ENVIRONMENT_NAME}:{environment_version}"
    steps = {node.step.name: node.step for pipeline in PIPELINES for node in pipeline.nodes}
    components = {name: build_component(step, environment_ref) for name, step in steps.items()}
    endpoint_names = {"training": stack.endpoints.training.name, "scoring": stack.endpoints.scoring.name}
    crons = {"training": stack.schedules.training_cron, "scoring": stack.schedules.scoring_cron}

    pipelines: dict[str, PipelineComponent] = {}
    endpoints: dict[str, BatchEndpoint] = {}
    deployments: dict[str, PipelineComponentBatchDeployment] = {}
    schedules: dict[str, JobSchedule] = {}
    for pipeline in PIPELINES:
        function = pipeline_function(pipeline, components, stack)
        job = scheduled_job(pipeline, function, stack)
        component = job.component
        assert isinstance(component, PipelineComponent)
        component.version = spec_hash(component)
        pipelines[pipeline.name] = component
        endpoint = BatchEndpoint(
            name=endpoint_names[pipeline.name],
            description=f"published {pipeline.name} pipeline of demand-forecast ({stack.environment})",
            tags={"environment": stack.environment, "pipeline": pipeline.name},
        )
        _stamp(endpoint)
        endpoints[pipeline.name] = endpoint
        deployment = PipelineComponentBatchDeployment(
            name=DEPLOYMENT_NAME,
            endpoint_name=endpoint.name,
            component=f"azureml:{component.name}:{component.version}",
            settings={"default_compute": stack.aml.cpu_cluster_name, "continue_on_step_failure": "False"},
            description=f"{pipeline.description}; pipeline component {component.name}:{component.version}",
            tags={"pipeline": pipeline.name},
        )
        _stamp(deployment)
        deployments[pipeline.name] = deployment
        schedule = JobSchedule(
            name=f"demand-forecast-{pipeline.name}-weekly",
            display_name=f"weekly {pipeline.name}",
            trigger=CronTrigger(expression=crons[pipeline.name], time_zone=stack.schedules.time_zone),
            create_job=job,
            tags={"pipeline": pipeline.name},
            # disabled where Data Factory's weekly trigger runs the pipelines (see infra/outputs.tf)
            is_enabled=stack.schedules.aml_schedules_enabled,
        )
        _stamp(schedule)
        schedules[pipeline.name] = schedule
    return AmlAssets(environment, components, pipelines, endpoints, deployments, schedules)
