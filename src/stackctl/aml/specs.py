"""azure-ai-ml entities built from the pipeline graph and the `stack` output.

Everything deploy creates is built here, as objects, so that tests can validate them offline
(`_validate()`, dump + `load_*`) and `stackctl pipelines dump` can write them for review:

* one command component per step (train on the cluster the stack chooses, as a PyTorch distribution
  over the stack's node and process counts; the others on the CPU cluster);
* the training and scoring pipelines as pipeline components (`dsl.pipeline`);
* the batch endpoints Terraform named, each with one pipeline-component deployment per pipeline
  component version ("published pipeline"; deployer.py switches the default and keeps the previous);
* the weekly schedules of both pipelines.

Versions are content hashes of the specs, so an unchanged spec keeps its version.

No stale results: every step reads data or the registry that changes week to week under the same
input values (the same `weekly/` path, the same champion reference), so no component is deterministic
(`is_deterministic=False`: AML reuses a deterministic step's output when its inputs look unchanged,
https://learn.microsoft.com/azure/machine-learning/reference-yaml-component-command) and every job
forces a rerun (`settings.force_rerun`, https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-pipeline).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.ai.ml import Input, Output, PyTorchDistribution, dsl
from azure.ai.ml.entities import (
    BatchEndpoint,
    BuildContext,
    Command,
    CommandComponent,
    CronTrigger,
    Environment,
    JobResourceConfiguration,
    JobSchedule,
    PipelineComponent,
    PipelineComponentBatchDeployment,
    PipelineJob,
)
from demand_forecast.publish import PIPELINE_ENV
from demand_forecast.telemetry import CONNECTION_STRING_ENV

from stackctl.aml.environment import ENVIRONMENT_NAMES, ImageKind
from stackctl.aml.stack_output import CONNECTION_STRING_OUTPUT, StackOutput
from stackctl.errors import StackctlError
from stackctl.graph import PIPELINES, Compute, Pipeline, Step, StepInput, aml_command
from stackctl.hashing import hash_json

COMPONENT_PREFIX = "demand_forecast_"
CONTENT_HASH_TAG = "content_hash"
VERSION_LENGTH = 16
# Tag of a deployment naming the pipeline component version it serves (deployer.py reads it).
COMPONENT_TAG = "pipeline_component"

# Data Factory polls each endpoint job for at most this long (modules/data_factory/main.pipeline.tf,
# the `wait_<pipeline>` Until activity's timeout); a job must end before ADF stops waiting, so that a
# hung job fails ADF's run instead of outliving it. tests/stackctl/test_aml_specs.py reads the
# Terraform value and checks every pipeline's bound against it.
ADF_WAIT_SECONDS = 6 * 3600
# Per-step limits (`limits.timeout` of each command node, seconds). A pipeline's steps run in sequence,
# so its bound is the sum along its nodes: training 5 h, scoring 2.5 h, both < ADF_WAIT_SECONDS.
STEP_TIMEOUT_SECONDS: dict[str, int] = {
    "validate": 3600,
    "train": 3 * 3600,
    "evaluate": 1800,
    "register": 1800,
    "score": 3600,
    "monitor": 1800,
    # publish writes one run's rows in one transaction: minutes at most
    "publish_training": 900,
    "publish_scoring": 900,
}


@dataclass
class AmlAssets:
    environments: dict[ImageKind, Environment]
    components: dict[str, CommandComponent]
    pipelines: dict[str, PipelineComponent]
    endpoints: dict[str, BatchEndpoint]
    deployments: dict[str, PipelineComponentBatchDeployment]
    schedules: dict[str, JobSchedule]

    def all(self) -> list[tuple[str, str, Any]]:
        """(kind, name, entity) in the order deploy creates them."""
        items: list[tuple[str, str, Any]] = [
            ("environment", str(e.name), e) for e in self.environments.values()
        ]
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


@dataclass(frozen=True)
class DistributedRun:
    """How a distributed step runs in AML: on which cluster, over how many nodes, how many processes each."""

    compute: Compute
    instance_count: int
    process_count_per_instance: int
    # vCPUs of one node of the cluster (None: not known, a description derived before the stack exists)
    vcpus: int | None = None

    def threads_per_process(self) -> int | None:
        """OMP_NUM_THREADS of each process when several share a node: the node's vCPUs split between
        them, so P processes with torch's default thread count (every core) do not oversubscribe the
        node; torchrun sets 1 for the same reason when nproc > 1 and the variable is unset
        (torch/distributed/run.py, torch 2.13.0). None: one process per node, nothing to split."""
        if self.process_count_per_instance == 1:
            return None
        return max(1, (self.vcpus or 1) // self.process_count_per_instance)


_SIZE_FIX = (
    "change aml.{step}_instance_count / aml.{step}_processes_per_instance (or the cluster's size) in "
    "envs/<env>/terraform.tfvars, `make plan` and `make apply ENV=<env>`, then deploy again"
)


def distributed_run(stack: StackOutput, step: Step) -> DistributedRun | None:
    """The AML sizing of `step` from the stack (None: not a distributed step); StackctlError if it
    cannot run on the chosen cluster, so that nothing is published that AML would refuse.

    A stack applied before issue 20 says nothing: one process on one node of the step's own cluster.
    Rules (the same Terraform judges, infra/variables.tf and infra/outputs.tf):
    * `instance_count` <= the cluster's `max_node_count`: AML refuses a job that asks a cluster for
      more nodes than its maximum ("Requested <n> nodes but AzureMLCompute cluster only has <m>
      maximum nodes"), at run time, a week after the deploy;
    * on a GPU cluster, `process_count_per_instance` <= GPUs per node: AML starts that many processes
      per node (https://learn.microsoft.com/azure/machine-learning/how-to-train-distributed-gpu,
      "PyTorch") and nccl binds each to its own GPU (cuda:LOCAL_RANK).
    Unknown sizes (a VM size missing from modules/aml_compute's table) are not judged."""
    if not step.distributed:
        return None
    chosen = stack.aml.distributed.get(step.name)
    if chosen is None:
        return DistributedRun(step.compute, 1, 1)
    nodes = stack.aml.clusters.get(chosen.compute)
    run = DistributedRun(
        chosen.compute,
        chosen.instance_count,
        chosen.process_count_per_instance,
        nodes.vcpus if nodes is not None else None,
    )
    problems = []
    if nodes is not None and run.instance_count > nodes.max_node_count:
        problems.append(
            f"instance_count {run.instance_count} exceeds the {run.compute} cluster's max_node_count "
            f"{nodes.max_node_count} (AML refuses the job)"
        )
    gpus = nodes.gpus if nodes is not None and run.compute == "gpu" else None
    if gpus is not None and nodes is not None and run.process_count_per_instance > gpus:
        problems.append(
            f"process_count_per_instance {run.process_count_per_instance} exceeds the {gpus} "
            f"GPU(s) of one {nodes.vm_size} node (nccl runs one process per GPU)"
        )
    if problems:
        raise StackctlError(
            f"the distributed step `{step.name}` does not fit its cluster: " + "; ".join(problems),
            where=f"stack.aml.distributed.{step.name}",
            fix=_SIZE_FIX.format(step=step.name),
        )
    return run


def step_compute(stack: StackOutput, step: Step) -> Compute:
    """The cluster `step` runs on: the stack's choice for a distributed step, else the graph's."""
    run = distributed_run(stack, step)
    return run.compute if run is not None else step.compute


def build_component(step: Step, environment_ref: str, compute: Compute | None = None) -> CommandComponent:
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
        tags={"compute": compute or step.compute},
        is_deterministic=False,
    )
    component.version = spec_hash(component)
    return component


def _compute_ref(stack: StackOutput, step: Step) -> str:
    name = stack.aml.gpu_cluster_name if step_compute(stack, step) == "gpu" else stack.aml.cpu_cluster_name
    return f"azureml:{name}"


def stack_defaults(stack: StackOutput) -> dict[str, Any]:
    """Pipeline inputs whose default comes from the stack: the publish step's reporting database."""
    return {"reporting_database": f"mssql://{stack.sql.server_fqdn}/{stack.sql.database_name}"}


# azure-identity selects a user-assigned managed identity by this variable
# (DefaultAzureCredential's `managed_identity_client_id` defaults to it,
# https://learn.microsoft.com/python/api/azure-identity/azure.identity.defaultazurecredential), and
# demand_forecast.credentials passes it to ManagedIdentityCredential inside a job. A cluster with a
# system-assigned and a user-assigned identity otherwise hands out the system one
# (https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication).
CLIENT_ID_ENV = "AZURE_CLIENT_ID"
MISSING = "<not in this stack description: {}>"


def require_job_settings(stack: StackOutput, where: str) -> None:
    """Deploy refuses a stack whose jobs could not sign in as the job identity or reach App Insights."""
    missing = []
    if stack.job_identity is None:
        missing.append(
            "`stack.job_identity` (client_id, principal_id, id of the jobs' user-assigned identity)"
        )
    sid = stack.sql.aad_principal_sids.get("job")
    if stack.job_identity is not None and sid is not None and sid.id != stack.job_identity.client_id:
        missing.append(
            f"agreement between `stack.sql.aad_principal_sids.job` ({sid.id}) and the job identity's "
            f"client id ({stack.job_identity.client_id}): the jobs would sign in to SQL as a stranger"
        )
    if not stack.application_insights_connection_string:
        missing.append(f"the output `{CONNECTION_STRING_OUTPUT}` (App Insights, for the jobs' telemetry)")
    if missing:
        raise StackctlError(
            "the stack output lacks what every AML job needs: " + "; ".join(missing),
            where=where,
            fix="apply the current infra/ (it outputs both), then deploy again: `make apply ENV=<env>`",
        )


def job_environment(stack: StackOutput, pipeline: str) -> dict[str, str]:
    """The environment variables of every job of `pipeline` (set on each node by `pipeline_function`).

    * APPLICATIONINSIGHTS_CONNECTION_STRING: demand_forecast.telemetry exports to App Insights;
    * AZURE_CLIENT_ID: the job identity, for the Entra tokens of App Insights ingestion and Azure SQL;
    * DEMAND_FORECAST_PIPELINE: which pipeline a failing step records as failed
      (`demand_forecast.publish.record_failed_step`: a pipeline component cannot have an
      `on_finalize` job, so the step itself does it). Where it records it is the pipeline's
      `reporting_database` input, bound on every node, not a variable fixed here at deploy time:
      a release-validation run points that input at its own schema.

    Values the stack description lacks are visible placeholders (`pipelines dump` of an old stack);
    deploy never gets that far (`require_job_settings`)."""
    identity = stack.job_identity
    return {
        CONNECTION_STRING_ENV: stack.application_insights_connection_string
        or MISSING.format(CONNECTION_STRING_OUTPUT),
        CLIENT_ID_ENV: identity.client_id if identity is not None else MISSING.format("stack.job_identity"),
        PIPELINE_ENV: pipeline,
    }


# demand_forecast.distributed.EXPECTED_WORLD_SIZE_VARIABLE (stackctl does not import the model package).
EXPECTED_WORLD_SIZE = "DEMAND_FORECAST_EXPECTED_WORLD_SIZE"
# The interface gloo binds on a node of a multi-node CPU job (demand_forecast.distributed
# GLOO_INTERFACE_VARIABLE). Unset, gloo binds whatever the node's hostname resolves to, and a hostname
# that resolves to loopback leaves every other node unable to connect (pytorch/pytorch#15592; the model
# refuses that case up front). eth0 is an Azure Linux VM's synthetic NIC, the one holding its private IP
# (with accelerated networking the VF is enslaved to it and carries no IP: the kernel's Hyper-V
# tools/hv/bondvf.sh); Microsoft's AML distributed examples pin NCCL_SOCKET_IFNAME=eth0 for the same
# reason (review-r7 MAJOR-1). A wrong name makes gloo fail at once naming the device, never hang.
GLOO_SOCKET_IFNAME = ("GLOO_SOCKET_IFNAME", "eth0")


def _distribute(job: Command, run: DistributedRun | None) -> None:
    """Make a pipeline node a PyTorch distribution: AML starts `process_count_per_instance` copies of
    the step's command on each of `instance_count` nodes and sets MASTER_ADDR, MASTER_PORT,
    WORLD_SIZE, NODE_RANK, RANK and LOCAL_RANK for `init_process_group(init_method="env://")`
    (https://learn.microsoft.com/azure/machine-learning/how-to-train-distributed-gpu, "PyTorch";
    `distribution: {type: pytorch, process_count_per_instance}` with `resources.instance_count` as in
    Azure/azureml-examples cli/jobs/single-step/pytorch/cifar-distributed/job.yml). A pipeline node of
    a command component takes both (azure-ai-ml 1.35.2 `_schema/pipeline/component_job.py`
    CommandSchema inherits `resources` and `distribution` from ParameterizedCommandSchema; the SDK's
    own test pipeline tests/test_configs/dsl_pipeline/pytorch_hello_world/pipeline.py sets them on a
    node on a CPU cluster). The backend follows the device (gloo on CPU, nccl on CUDA:
    demand_forecast.distributed), so nothing here names it. Several processes on a node split its
    vCPUs (`DistributedRun.threads_per_process`)."""
    if run is None:
        return
    job.distribution = PyTorchDistribution(process_count_per_instance=run.process_count_per_instance)
    job.resources = JobResourceConfiguration(instance_count=run.instance_count)
    # The world the node was published for: the model refuses to run in another one, so a deployment
    # that drops the node's resources or distribution fails loudly instead of training silently on
    # fewer workers (demand_forecast.distributed.EXPECTED_WORLD_SIZE_VARIABLE; review-scale-wire MAJOR-1).
    variables = {EXPECTED_WORLD_SIZE: str(run.instance_count * run.process_count_per_instance)}
    threads = run.threads_per_process()
    if threads is not None:
        variables["OMP_NUM_THREADS"] = str(threads)
    if run.compute == "cpu" and run.instance_count > 1:  # gloo across nodes (GPU nodes use nccl)
        variables[GLOO_SOCKET_IFNAME[0]] = GLOO_SOCKET_IFNAME[1]
    job.environment_variables = {**(job.environment_variables or {}), **variables}


def pipeline_function(
    pipeline: Pipeline, components: dict[str, CommandComponent], stack: StackOutput
) -> Callable[..., PipelineJob]:
    """A `dsl.pipeline` function wiring the components as the graph says.

    dsl.pipeline reads the parameters and their annotations from the function, so the signature is
    generated from the graph's pipeline inputs rather than written out by hand a second time.
    """

    environment = job_environment(stack, pipeline.name)

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
            job.name = node.step.name  # node keys are the step names, not the component names
            job.compute = _compute_ref(stack, node.step)
            job.set_limits(timeout=STEP_TIMEOUT_SECONDS[node.step.name])
            job.environment_variables = dict(environment)
            _distribute(job, distributed_run(stack, node.step))
            nodes[node.step.name] = job
        return {out: nodes[step].outputs[output] for out, (step, output) in pipeline.outputs.items()}

    parameters = []
    from_stack = stack_defaults(stack)
    for name, spec in pipeline.inputs.items():
        default: Any = (
            spec.default if spec.default is not None else (None if spec.optional else inspect.Parameter.empty)
        )
        default = from_stack.get(name, default)
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
    assert job.settings is not None  # dsl.pipeline always gives a job its settings
    job.settings.force_rerun = True
    for out_name, (step_name, output) in pipeline.outputs.items():
        lake = pipeline.node(step_name).step.outputs[output].lake
        if lake is not None:
            datastore = getattr(stack.aml.datastores, lake)
            job.outputs[out_name] = Output(
                type="uri_folder",
                # One folder per job and output: two outputs of one job never share a path.
                path=f"azureml://datastores/{datastore}/paths/{pipeline.name}/${{{{name}}}}/${{{{output_name}}}}/",
            )
    return job


def build_environment(kind: ImageKind, version: str, build_context: Path) -> Environment:
    return Environment(
        name=ENVIRONMENT_NAMES[kind],
        version=version,
        description=f"demand_forecast model wheel on the pinned {kind} runtime (stackctl/aml/runtime.yaml)",
        build=BuildContext(path=str(build_context)),
        tags={"image": kind},
    )


def deployment_settings(pipeline: Pipeline, stack: StackOutput) -> dict[str, str]:
    """The run-time settings of the pipeline jobs a batch deployment starts.

    A deployment's settings are the pipeline job's settings
    (https://learn.microsoft.com/rest/api/azureml/batch-deployments/create-or-update, "Run-time
    settings for the pipeline job"), so `default_datastore`
    (https://learn.microsoft.com/azure/machine-learning/reference-yaml-job-pipeline#attributes-of-the-settings-key:
    a datastore reference, `azureml:<datastore-name>`) sends every output an invocation does not place
    itself into the lake: the scoring pipeline's into the `scored` file system (Data Factory places the
    pipeline outputs under a run-dated folder, modules/data_factory `OutputData`). It is the AzureBlob
    datastore on that file system (`stack.aml.output_datastores`), never the Gen2 one: "Batch endpoints
    only support writing outputs in Blob Storage data stores"
    (https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs).
    Step outputs that are no pipeline output (publish's `published`: publish.json, the rows written
    per table; the steps' intermediate folders) land there too, at the path AML gives an output without
    one (its job and output names), apart from Data Factory's `scoring/<date>/<run id>/` folders; the
    jobs' identity holds Storage Blob Data Contributor on that file system (infra/main.rbac.tf
    lake-scored-jobs), and nothing reads these copies but AML. The training pipeline has no lake
    output (its model and metrics reach MLflow and the reporting database), so its outputs stay in
    the workspace's default datastore."""
    settings = {
        "default_compute": stack.aml.cpu_cluster_name,
        "continue_on_step_failure": "False",
        "force_rerun": "True",
    }
    lakes = {pipeline.node(step).step.outputs[output].lake for step, output in pipeline.outputs.values()} - {
        None
    }
    if "scored" in lakes:
        settings["default_datastore"] = f"azureml:{stack.aml.output_datastores.scored}"
    return settings


def deployment_name(pipeline: str, component_version: str) -> str:
    """One batch deployment per pipeline component version (which covers the environment version):
    `<pipeline>-<version[:12]>`, within AML's 3-32 character deployment name rule."""
    return f"{pipeline}-{component_version[:12]}"


def build_assets(
    stack: StackOutput, environment_version: str, build_contexts: dict[ImageKind, Path]
) -> AmlAssets:
    environments = {
        kind: build_environment(kind, environment_version, context)
        for kind, context in build_contexts.items()
    }
    steps = {node.step.name: node.step for pipeline in PIPELINES for node in pipeline.nodes}
    # A step's image follows its cluster: a step trained on the CPU cluster runs the CPU image.
    computes = {name: step_compute(stack, step) for name, step in steps.items()}
    components = {
        name: build_component(
            step, f"azureml:{ENVIRONMENT_NAMES[computes[name]]}:{environment_version}", computes[name]
        )
        for name, step in steps.items()
    }
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
            name=deployment_name(pipeline.name, str(component.version)),
            endpoint_name=endpoint.name,
            component=f"azureml:{component.name}:{component.version}",
            settings=deployment_settings(pipeline, stack),
            description=f"{pipeline.description}; pipeline component {component.name}:{component.version}",
            tags={"pipeline": pipeline.name, COMPONENT_TAG: f"{component.name}:{component.version}"},
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
    return AmlAssets(environments, components, pipelines, endpoints, deployments, schedules)
