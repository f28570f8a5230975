"""One distributed job, the same locally and in Azure: which worker this process is, the process group,
the balanced assignment of regions to workers, and the few collectives the training needs.

The engine is PyTorch's own `torch.distributed` (docs/scale.md, "Engine decision"). Locally
`python -m torch.distributed.run --standalone --nproc-per-node N -m demand_forecast train ...` starts N
workers; in Azure ML a command step with `distribution: pytorch` starts `process_count_per_instance`
workers on each of `instance_count` nodes. Both set `RANK`, `WORLD_SIZE`, `LOCAL_RANK`, `MASTER_ADDR`
and `MASTER_PORT` for `init_method="env://"`
(https://docs.pytorch.org/docs/stable/elastic/run.html, "Environment Variables";
https://learn.microsoft.com/en-us/azure/machine-learning/how-to-train-distributed-gpu, "PyTorch").
Without those variables the process is rank 0 of a world of one, and every collective here is the
identity, so `python -m demand_forecast train` behaves exactly as a single process always did.

torch is imported inside the functions that need it: reading the world and assigning regions stay
cheap for callers (and tests) that never start a process group.
"""

from __future__ import annotations

import heapq
import ipaddress
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar, cast

from demand_forecast.errors import UsageError

if TYPE_CHECKING:
    from demand_forecast.settings import Settings

T = TypeVar("T")

_WORLD_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")

# Set by the published pipeline on a distributed node to instance_count x process_count_per_instance
# (stackctl.aml.specs._distribute). Users report a batch deployment of a pipeline running a node on
# fewer instances than its component says (Azure/azureml-examples#3610) or ignoring node settings
# (Azure/azure-sdk-for-python#43039); the world would still be consistent, only smaller, and the run
# silently slower. With the expectation written on the node the step refuses to run in such a world.
EXPECTED_WORLD_SIZE_VARIABLE = "DEMAND_FORECAST_EXPECTED_WORLD_SIZE"


@dataclass(frozen=True)
class World:
    """This process's place in the job: `rank` in [0, world_size), `local_rank` on its node."""

    rank: int
    world_size: int
    local_rank: int

    @property
    def is_root(self) -> bool:
        """Rank 0: the one worker that writes the step's outputs (docs/scale.md, contract 5)."""
        return self.rank == 0


def _int_variable(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise UsageError(
            f"environment variable {name}={raw!r} is not an integer; it is set by torchrun or Azure ML's "
            "PyTorch distribution: unset it to run as one process"
        ) from None


def world() -> World:
    """The world from `RANK`, `WORLD_SIZE`, `LOCAL_RANK`; when they are absent, rank 0 of a world of one.

    Raises UsageError when a variable is not an integer or the three disagree (rank outside the world).
    """
    world_size = _int_variable("WORLD_SIZE", 1)
    rank = _int_variable("RANK", 0)
    local_rank = _int_variable("LOCAL_RANK", rank)
    if world_size < 1 or not 0 <= rank < world_size or not 0 <= local_rank < world_size:
        settings = ", ".join(f"{name}={os.environ.get(name)!r}" for name in _WORLD_VARIABLES)
        raise UsageError(
            f"inconsistent distributed environment ({settings}): RANK and LOCAL_RANK must lie in "
            "[0, WORLD_SIZE); start the step with torchrun or unset the three variables"
        )
    return World(rank=rank, world_size=world_size, local_rank=local_rank)


def _backend(settings: Settings) -> str:
    """`distributed.backend` when set, else nccl where CUDA is present and gloo on CPU (gloo is the CPU
    backend of torch.distributed: https://docs.pytorch.org/docs/stable/distributed.html#backends)."""
    import torch

    chosen = settings.distributed.backend
    if chosen is not None:
        return chosen
    return "nccl" if torch.cuda.is_available() else "gloo"


def init_process_group(settings: Settings) -> World:
    """Join the job's process group (`init_method="env://"`) when the world is larger than one; return
    the world. A world of one starts nothing. Calling it again in a process that already joined is a
    no-op. Under nccl each process binds the GPU `local_rank` (the collectives' objects travel on it)."""
    current = world()
    check_expected_world(current)
    if current.world_size == 1:
        return current
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        backend = _backend(settings)
        if backend == "nccl":
            torch.cuda.set_device(current.local_rank)
        if backend == "gloo":
            check_gloo_interface(os.environ, hostname_addresses())
        dist.init_process_group(backend=backend, init_method="env://")
    return current


def check_expected_world(current: World) -> None:
    """Raise UsageError when `DEMAND_FORECAST_EXPECTED_WORLD_SIZE` is set and differs from the world
    this process is in: the compute started fewer (or more) workers than the pipeline was published
    for. Unset: nothing is expected (the local stack, a plain `python -m demand_forecast`)."""
    expected = _int_variable(EXPECTED_WORLD_SIZE_VARIABLE, 0)
    if expected and expected != current.world_size:
        raise UsageError(
            f"this step was published for {expected} workers ({EXPECTED_WORLD_SIZE_VARIABLE}), but the "
            f"compute started a world of {current.world_size} (WORLD_SIZE); the node's distribution or "
            "instance count was not applied: check the job's resources and distribution in Azure ML "
            "studio, and the batch deployment of the pipeline (docs/scale.md, 'Distributed training')"
        )


GLOO_INTERFACE_VARIABLE = "GLOO_SOCKET_IFNAME"


def hostname_addresses() -> list[str]:
    """The addresses this node's hostname resolves to ([] when it resolves to none)."""
    try:
        infos = socket.getaddrinfo(socket.gethostname(), None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    return sorted({str(info[4][0]) for info in infos})


def spans_nodes(environ: Mapping[str, str]) -> bool:
    """Whether this rank can tell that the job runs on more than one node: it is not on the first node
    (`NODE_RANK`, set by Azure ML's PyTorch distribution; `GROUP_RANK`, torchrun's), or its node runs
    fewer processes than the world (`LOCAL_WORLD_SIZE`, torchrun's)."""
    node = max(_int_in(environ, "NODE_RANK", 0), _int_in(environ, "GROUP_RANK", 0))
    local = _int_in(environ, "LOCAL_WORLD_SIZE", 0)
    return node > 0 or 0 < local < _int_in(environ, "WORLD_SIZE", 1)


def _int_in(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "")
    return int(raw) if raw.strip().isdigit() else default


def check_gloo_interface(environ: Mapping[str, str], addresses: list[str]) -> None:
    """Raise UsageError before a multi-node gloo job hangs on a loopback address.

    Without `GLOO_SOCKET_IFNAME` gloo binds the address the node's hostname resolves to, and a
    hostname that resolves only to loopback (Debian/Ubuntu's /etc/hosts maps it to 127.0.1.1) is
    still used: every rank on another node then connects to its own loopback and fails, or waits
    until the process group's timeout (pytorch/pytorch#15592, "connect [127.0.1.1]:...: Connection
    refused", fixed there by `export GLOO_SOCKET_IFNAME=eth0`; the variable is pytorch/pytorch#14065;
    the fallback is `doesHostnameResolveToUsableAddress` in torch's csrc/distributed/c10d
    GlooDeviceFactory.cpp). Azure ML's PyTorch distribution sets MASTER_ADDR, MASTER_PORT,
    WORLD_SIZE, NODE_RANK, RANK and LOCAL_RANK, not GLOO_SOCKET_IFNAME
    (https://learn.microsoft.com/en-us/azure/machine-learning/how-to-train-distributed-gpu,
    "PyTorch"). One node (the local stack, a single-instance job) is never refused: loopback
    reaches every rank there. `addresses`: `hostname_addresses()`."""
    if environ.get(GLOO_INTERFACE_VARIABLE) or not spans_nodes(environ):
        return
    if addresses and not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        return
    resolved = ", ".join(addresses) or "nothing"
    raise UsageError(
        f"this gloo job spans several nodes, but this node's hostname ({socket.gethostname()}) resolves "
        f"to {resolved}: gloo would bind a loopback address the other nodes cannot reach (pytorch/pytorch"
        f"#15592). Set {GLOO_INTERFACE_VARIABLE} to the node's network interface (the one holding its "
        "private IP: `ip -o -4 addr`) in the step's environment variables (stackctl publishes eth0 on "
        "multi-node CPU training: redeploy with `make deploy`), or train on one node "
        "(aml.train_instance_count = 1)"
    )


def destroy_process_group() -> None:
    """Leave the process group (at the end of the step); a no-op when none was joined."""
    if not _joined():
        return
    import torch.distributed as dist

    dist.destroy_process_group()


def _joined() -> bool:
    if world().world_size == 1:
        return False
    import torch.distributed as dist

    return bool(dist.is_available() and dist.is_initialized())


def assign(partitions: Mapping[str, int], world_size: int) -> list[list[str]]:
    """Regions of each rank: `result[rank]` lists its regions, largest first.

    `partitions` maps region -> series count (`_partitions.json`). Largest region first onto the
    least-loaded rank (longest-processing-time first, Graham 1969: within 4/3 of the best makespan);
    ties between regions by name, between ranks by rank, so every rank computes the same answer from
    the same file and no coordinator message is needed. A rank may get no region when there are more
    ranks than regions. Raises ValueError for world_size < 1 or a negative count.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    negative = sorted(region for region, count in partitions.items() if count < 0)
    if negative:
        raise ValueError(f"series counts must be >= 0; negative for regions {negative}")
    loads = [(0, rank) for rank in range(world_size)]
    result: list[list[str]] = [[] for _ in range(world_size)]
    for region, count in sorted(partitions.items(), key=lambda item: (-item[1], item[0])):
        load, rank = heapq.heappop(loads)
        result[rank].append(region)
        heapq.heappush(loads, (load + count, rank))
    return result


def all_gather(obj: T) -> list[T]:
    """Every rank's `obj`, indexed by rank, on every rank (`all_gather_object`: objects are pickled, so
    keep them small: summaries, not rows). `[obj]` in a world of one."""
    if not _joined():
        return [obj]
    import torch.distributed as dist

    gathered: list[T | None] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return cast("list[T]", gathered)  # every slot is filled by the collective


def gather_to_rank0(obj: T) -> list[T] | None:
    """Every rank's `obj`, indexed by rank, on rank 0; None on the other ranks (`gather_object`).
    `[obj]` in a world of one."""
    if not _joined():
        return [obj]
    import torch.distributed as dist

    is_root = dist.get_rank() == 0
    gathered: list[T | None] | None = [None] * dist.get_world_size() if is_root else None
    dist.gather_object(obj, gathered, dst=0)
    if gathered is None:
        return None
    return cast("list[T]", gathered)  # every slot is filled by the collective


def barrier() -> None:
    """Wait for every rank; a no-op in a world of one."""
    if not _joined():
        return
    import torch.distributed as dist

    dist.barrier()
