"""The distributed train step in AML (issue 20): a PyTorch distribution over the stack's node and process
counts, on the cluster the stack chooses, checked against that cluster before anything is published.

Everything is judged by azure-ai-ml itself: the built pipeline component passes `_validate()`, and its
dumped YAML loads back (`load_component`, `load_job` for the scheduled job) with the node's
distribution, instance count and compute intact."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from stackctl.aml.environment import IMAGE_KINDS, ImageKind
from stackctl.aml.stack_output import ClusterNodes, DistributedStepSettings, StackOutput, load_stack_file
from stackctl.errors import StackctlError
from stackctl.graph import STEPS, TRAIN

if TYPE_CHECKING:
    from stackctl.aml.specs import AmlAssets

pytestmark = pytest.mark.filterwarnings("ignore::marshmallow.warnings.RemovedInMarshmallow4Warning")

DATA = Path(__file__).parent / "data"
VERSION = "env0123456789abc"


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


def sized(
    stack: StackOutput,
    *,
    compute: str = "cpu",
    instance_count: int = 1,
    processes: int = 1,
    clusters: dict[str, ClusterNodes] | None = None,
) -> StackOutput:
    """`stack` with the train step sized as given (and, optionally, other cluster limits)."""
    train = DistributedStepSettings(
        compute=compute, instance_count=instance_count, process_count_per_instance=processes
    )
    update: dict[str, Any] = {"distributed": {**stack.aml.distributed, "train": train}}
    if clusters is not None:
        update["clusters"] = clusters
    return stack.model_copy(update={"aml": stack.aml.model_copy(update=update)})


def build(stack: StackOutput, context: dict[ImageKind, Path]) -> AmlAssets:
    from stackctl.aml.specs import build_assets

    return build_assets(stack, VERSION, context)


def _train_node(job: Any) -> Any:
    return job.jobs["train"]


def test_train_and_score_are_the_distributed_steps_of_the_graph() -> None:
    assert TRAIN.distributed
    assert [step.name for step in STEPS if step.distributed] == ["train", "score"]


def test_the_score_node_runs_its_processes_on_one_cpu_node(
    stack: StackOutput, context: dict[ImageKind, Path], tmp_path: Path
) -> None:
    """Rank 0 merges the parts the other ranks write into its output folder: one node's file system."""
    from azure.ai.ml import load_component

    from stackctl.aml.dump import dump_assets

    assets = build(stack, context)
    dump_assets(assets, tmp_path)
    scoring = load_component(tmp_path / "pipelines" / "demand_forecast_scoring.yaml")
    assert scoring._validate().passed
    node = scoring.jobs["score"]
    assert node.distribution.process_count_per_instance == 2  # the fixture's stack.aml.distributed.score
    assert node.resources.instance_count == 1
    assert node.compute.removeprefix("azureml:") == stack.aml.cpu_cluster_name
    assert str(assets.components["score"].environment).startswith("azureml:demand-forecast-cpu:")


def test_the_rendered_pipeline_keeps_distribution_instance_count_and_compute_through_azure_ai_ml(
    stack: StackOutput, context: dict[ImageKind, Path], tmp_path: Path
) -> None:
    """The fixture's stack: train on the CPU cluster, 2 nodes x 2 processes. Built, validated, dumped,
    loaded back with azure-ai-ml's own loaders and validated again: the three survive every hop."""
    from azure.ai.ml import load_component, load_job

    from stackctl.aml.dump import dump_assets

    assets = build(stack, context)
    pipeline = assets.pipelines["training"]
    assert pipeline._validate().passed
    node = _train_node(pipeline)
    assert node.distribution.type == "pytorch"
    assert node.distribution.process_count_per_instance == 2
    assert node.resources.instance_count == 2
    assert node.compute == f"azureml:{stack.aml.cpu_cluster_name}"

    dump_assets(assets, tmp_path)
    loaded = load_component(tmp_path / "pipelines" / "demand_forecast_training.yaml")
    assert loaded._validate().passed
    job = load_job(tmp_path / "schedules" / "demand-forecast-training-weekly.job.yaml")
    assert job._validate().passed
    for entity in (loaded, job):
        node = _train_node(entity)
        assert node.distribution.type == "pytorch", entity
        assert node.distribution.process_count_per_instance == 2
        assert node.resources.instance_count == 2
        # the loaders drop the `azureml:` prefix of a compute reference
        assert node.compute.removeprefix("azureml:") == stack.aml.cpu_cluster_name
    # no other node of the training pipeline is distributed or sized
    for name, other in loaded.jobs.items():
        if name != "train":
            assert other.distribution is None, name
            assert other.resources is None or other.resources.instance_count is None, name


def test_training_on_the_gpu_cluster_runs_the_cuda_image_there(
    stack: StackOutput, context: dict[ImageKind, Path]
) -> None:
    assets = build(sized(stack, compute="gpu", instance_count=2, processes=1), context)
    node = _train_node(assets.pipelines["training"])
    assert node.compute == f"azureml:{stack.aml.gpu_cluster_name}"
    assert (node.resources.instance_count, node.distribution.process_count_per_instance) == (2, 1)
    assert str(assets.components["train"].environment).startswith("azureml:demand-forecast-gpu:")
    assert assets.components["train"].tags["compute"] == "gpu"
    for name, component in assets.components.items():
        if name != "train":
            assert str(component.environment).startswith("azureml:demand-forecast-cpu:"), name
    assert assets.pipelines["training"]._validate().passed


def test_a_stack_applied_before_issue_20_trains_as_before_one_process_on_the_gpu_cluster(
    stack: StackOutput, context: dict[ImageKind, Path]
) -> None:
    old = stack.model_copy(update={"aml": stack.aml.model_copy(update={"distributed": {}, "clusters": {}})})
    assets = build(old, context)
    node = _train_node(assets.pipelines["training"])
    assert node.compute == f"azureml:{stack.aml.gpu_cluster_name}"
    assert (node.resources.instance_count, node.distribution.process_count_per_instance) == (1, 1)
    assert str(assets.components["train"].environment).startswith("azureml:demand-forecast-gpu:")
    score = assets.pipelines["scoring"].jobs["score"]
    assert (score.resources.instance_count, score.distribution.process_count_per_instance) == (1, 1)
    assert score.compute == f"azureml:{stack.aml.cpu_cluster_name}"


def test_a_change_of_nodes_processes_or_cluster_publishes_a_new_pipeline_version(
    stack: StackOutput, context: dict[ImageKind, Path]
) -> None:
    """spec_hash covers the node's distribution, resources and compute: deploy sees each change."""
    base = build(stack, context)
    again = build(stack, context)
    assert again.pipelines["training"].version == base.pipelines["training"].version
    variants = {
        "nodes": sized(stack, instance_count=1, processes=2),
        "processes": sized(stack, instance_count=2, processes=1),
        "cluster": sized(stack, compute="gpu", instance_count=2, processes=1),
    }
    versions = {base.pipelines["training"].version}
    for name, variant in variants.items():
        version = build(variant, context).pipelines["training"].version
        assert version not in versions, name
        versions.add(version)
        assert build(variant, context).deployments["training"].name != base.deployments["training"].name
    # the scoring pipeline does not move with train's sizing, only with score's
    assert build(variants["nodes"], context).pipelines["scoring"].version == base.pipelines["scoring"].version
    score = DistributedStepSettings(compute="cpu", instance_count=1, process_count_per_instance=3)
    distributed = {**stack.aml.distributed, "score": score}
    resized = stack.model_copy(update={"aml": stack.aml.model_copy(update={"distributed": distributed})})
    assert build(resized, context).pipelines["scoring"].version != base.pipelines["scoring"].version


GPU_T4 = ClusterNodes(vm_size="Standard_NC4as_T4_v3", vcpus=4, gpus=1, max_node_count=2)
A100X2 = ClusterNodes(vm_size="Standard_NC48ads_A100_v4", vcpus=48, gpus=2, max_node_count=4)
# GPUs unknown: a description derived before the stack exists (stackctl.aml.naming)
GPU_UNKNOWN = ClusterNodes(vm_size="Standard_NC4as_T4_v3", max_node_count=2)
CPU_DS3 = ClusterNodes(vm_size="Standard_DS3_v2", vcpus=4, gpus=0, max_node_count=2)
CPU_8 = ClusterNodes(vm_size="Standard_DS3_v2", max_node_count=8)
TOO_MANY_NODES = "instance_count {} exceeds the {} cluster's max_node_count {}"
TOO_MANY_PROCESSES = "process_count_per_instance {} exceeds the {} GPU(s) of one {} node"


@pytest.mark.parametrize(
    ("compute", "nodes", "processes", "clusters", "said"),
    [
        # more nodes than the chosen cluster scales to: AML refuses the job at run time
        ("cpu", 3, 1, {"gpu": A100X2, "cpu": CPU_DS3}, TOO_MANY_NODES.format(3, "cpu", 2)),
        ("gpu", 3, 1, {"gpu": GPU_T4, "cpu": CPU_8}, TOO_MANY_NODES.format(3, "gpu", 2)),
        ("gpu", 5, 2, {"gpu": A100X2, "cpu": CPU_DS3}, TOO_MANY_NODES.format(5, "gpu", 4)),
        # more nccl processes per node than the size has GPUs
        ("gpu", 1, 2, {"gpu": GPU_T4, "cpu": CPU_DS3}, TOO_MANY_PROCESSES.format(2, 1, GPU_T4.vm_size)),
        (
            "gpu",
            2,
            3,
            {"gpu": A100X2, "cpu": CPU_DS3},
            TOO_MANY_PROCESSES.format(3, 2, A100X2.vm_size),
        ),
    ],
)
def test_a_train_step_that_does_not_fit_its_cluster_is_refused_before_anything_is_published(
    stack: StackOutput,
    context: dict[ImageKind, Path],
    compute: str,
    nodes: int,
    processes: int,
    clusters: dict[str, ClusterNodes],
    said: str,
) -> None:
    oversized = sized(stack, compute=compute, instance_count=nodes, processes=processes, clusters=clusters)
    with pytest.raises(StackctlError, match="does not fit its cluster") as caught:
        build(oversized, context)
    assert said in caught.value.what
    assert caught.value.where == "stack.aml.distributed.train"
    assert "terraform.tfvars" in caught.value.fix


@pytest.mark.parametrize(
    ("compute", "nodes", "processes", "clusters"),
    [
        # at the cluster's maximum; CPU processes are not capped by GPUs
        ("cpu", 2, 4, {"gpu": GPU_T4, "cpu": CPU_DS3}),
        # one process per GPU of a 2-GPU size
        ("gpu", 4, 2, {"gpu": A100X2, "cpu": CPU_DS3}),
        # the other cluster's limit does not count
        ("cpu", 8, 1, {"gpu": GPU_T4, "cpu": CPU_8}),
        # GPUs unknown: only the node count is judged
        ("gpu", 2, 4, {"cpu": CPU_DS3, "gpu": GPU_UNKNOWN}),
    ],
)
def test_a_train_step_that_fits_is_published(
    stack: StackOutput,
    context: dict[ImageKind, Path],
    compute: str,
    nodes: int,
    processes: int,
    clusters: dict[str, ClusterNodes],
) -> None:
    node = _train_node(
        build(
            sized(stack, compute=compute, instance_count=nodes, processes=processes, clusters=clusters),
            context,
        ).pipelines["training"]
    )
    assert (node.resources.instance_count, node.distribution.process_count_per_instance) == (nodes, processes)


def test_the_stack_output_refuses_a_compute_or_count_terraform_would_not_give(stack: StackOutput) -> None:
    """The pydantic side of the contract: the same enum and bounds as infra/variables.tf."""
    data = yaml.safe_load((DATA / "stack_output_dev.json").read_text(encoding="utf-8"))
    for key, value in (("compute", "GPU"), ("instance_count", 0), ("process_count_per_instance", -1)):
        broken = yaml.safe_load(yaml.safe_dump(data))
        broken["stack"]["value"]["aml"]["distributed"]["train"][key] = value
        from stackctl.aml.stack_output import parse_stack_output

        with pytest.raises(StackctlError, match=rf"stack\.aml\.distributed\.train\.{key}"):
            parse_stack_output(broken, "test")


def test_pipelines_dump_before_the_stack_exists_refuses_tfvars_terraform_refuses(
    tmp_path: Path, stack: StackOutput
) -> None:
    """`make pipelines ENV=dev` on a fresh clone derives the stack with `terraform console`, which
    exits 0 on a failed variable validation (it prints the error and evaluates on): the error text
    must stop the dump, naming Terraform's own message, instead of a JSON traceback.

    With valid tfvars the derived clusters are what the applied stack reports (module `nodes`:
    vm_size, vcpus, gpus, max_node_count; the recorded dev output), so the dumped train node's
    OMP_NUM_THREADS (vCPUs / processes) is the one deploy publishes, not torchrun's fallback 1
    (review-scale-wire MINOR-2). DS3_v2 has 4 vCPUs, NC4as_T4_v3 4 and one T4
    (learn.microsoft.com/azure/virtual-machines/sizes/general-purpose/dsv2-series,
    .../gpu-accelerated/ncast4v3-series)."""
    from stackctl.aml.naming import derived_stack
    from stackctl.aml.specs import distributed_run

    repo = Path(__file__).resolve().parents[2]
    root = tmp_path / "clone"
    (root / "envs" / "dev").mkdir(parents=True)
    for part in ("infra", "modules", "src", "requirements"):
        (root / part).symlink_to(repo / part)
    tfvars = (repo / "envs" / "dev" / "terraform.tfvars").read_text(encoding="utf-8")
    old = "train_instance_count         = 1\n"
    assert old in tfvars, "envs/dev/terraform.tfvars changed: update this test's broken copy"
    (root / "envs" / "dev" / "terraform.tfvars").write_text(
        tfvars.replace(old, "train_instance_count         = 9\n"), encoding="utf-8"
    )
    with pytest.raises(StackctlError, match="must not exceed the max nodes") as caught:
        derived_stack(root, "dev")
    assert caught.value.where.endswith("envs/dev/terraform.tfvars")
    derived = derived_stack(repo, "dev")
    assert derived.aml.distributed["train"].instance_count == 1
    assert derived.aml.clusters == stack.aml.clusters
    assert {kind: nodes.vcpus for kind, nodes in derived.aml.clusters.items()} == {"gpu": 4, "cpu": 4}
    run = distributed_run(derived, TRAIN)
    assert run is not None
    assert run.process_count_per_instance == 2
    assert run.threads_per_process() == 2


@pytest.mark.parametrize(
    ("compute", "nodes", "processes", "clusters", "threads"),
    [
        ("cpu", 2, 2, {"gpu": GPU_T4, "cpu": CPU_DS3}, "2"),  # 4 vCPUs / 2 processes
        ("cpu", 1, 3, {"gpu": GPU_T4, "cpu": CPU_DS3}, "1"),  # rounded down, never 0
        ("gpu", 1, 2, {"gpu": A100X2, "cpu": CPU_DS3}, "24"),  # 48 vCPUs / 2 GPUs
        ("cpu", 1, 2, {"gpu": GPU_T4, "cpu": CPU_8}, "1"),  # vCPUs unknown: torchrun's own default
        ("cpu", 2, 1, {"gpu": GPU_T4, "cpu": CPU_DS3}, None),  # one process per node: torch's default
    ],
)
def test_processes_sharing_a_node_split_its_vcpus(
    stack: StackOutput,
    context: dict[ImageKind, Path],
    compute: str,
    nodes: int,
    processes: int,
    clusters: dict[str, ClusterNodes],
    threads: str | None,
) -> None:
    fitting = sized(stack, compute=compute, instance_count=nodes, processes=processes, clusters=clusters)
    pipeline = build(fitting, context).pipelines["training"]
    assert _train_node(pipeline).environment_variables.get("OMP_NUM_THREADS") == threads
    assert "OMP_NUM_THREADS" not in pipeline.jobs["validate"].environment_variables
    # The world the node was published for travels with it; the model refuses any other (MAJOR-1).
    from demand_forecast.distributed import EXPECTED_WORLD_SIZE_VARIABLE

    from stackctl.aml.specs import EXPECTED_WORLD_SIZE

    assert EXPECTED_WORLD_SIZE == EXPECTED_WORLD_SIZE_VARIABLE
    assert _train_node(pipeline).environment_variables[EXPECTED_WORLD_SIZE] == str(nodes * processes)
    # gloo across CPU nodes binds the NIC holding the private IP, never what the hostname resolves to
    # (review-r7 MAJOR-1); one node, or nccl on GPU nodes, needs nothing.
    from demand_forecast.distributed import GLOO_INTERFACE_VARIABLE

    from stackctl.aml.specs import GLOO_SOCKET_IFNAME

    assert GLOO_SOCKET_IFNAME[0] == GLOO_INTERFACE_VARIABLE
    interface = _train_node(pipeline).environment_variables.get(GLOO_INTERFACE_VARIABLE)
    assert interface == ("eth0" if compute == "cpu" and nodes > 1 else None)
    assert GLOO_INTERFACE_VARIABLE not in pipeline.jobs["validate"].environment_variables
    assert EXPECTED_WORLD_SIZE not in pipeline.jobs["validate"].environment_variables
