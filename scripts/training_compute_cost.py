"""Time and cost of the distributed train step on the CPU and the GPU cluster, at 14, 140 and 1,400 regions.

`python scripts/training_compute_cost.py` prints the table of README "Choosing the training compute"
(docs/scale.md has the reasoning). Inputs, none invented:

* train CPU-seconds per panel size, measured (`MEASURED_CPU_SECONDS`: issue 20's idle figures, the
  benchmark `make bench ARGS="--only scale"`); 1,400 regions is the 140-region figure x 10, an upper
  bound since CPU grew with exponent 0.93-0.96 < 1 between the measured sizes (docs/scale.md "Measured");
* the shared network's share of train CPU on the sample (`NETWORK_SHARE`, measured with cProfile's
  process-time timer, docs/scale.md): the only part a GPU speeds up;
* each env's sizes and train settings from envs/<env>/terraform.tfvars, vCPUs and GPUs per size
  from modules/aml_compute local.vm_sizes;
* hourly prices from the Azure Retail Prices API through the audit's price book
  (`stackctl.audit.pricing.PriceBook`, cached in build/prices/): where prices.azure.com is unreachable
  the cost column says "not priced", never a made-up number.

Time model (stated, not measured in Azure): workers are busy in parallel, so the step's compute time
is CPU-seconds / (instance_count x process_count_per_instance); on a GPU cluster the network's share is
counted as free (a lower bound for the GPU) and one process runs per GPU (nccl). Node start-up
(AML scale-up from zero, image pull) comes on top of both and is not counted.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import hcl2

from stackctl.audit.pricing import PriceBook

ROOT = Path(__file__).resolve().parents[1]
# regions -> (series, train CPU-seconds, source): issue 20's idle measurements (14: 451 series 27 CPU-s;
# 140: 4,448 series 226 CPU-s); 1,400 (~44,500 series, docs/scale.md) extrapolated linearly: an
# upper bound, see the docstring.
MEASURED_CPU_SECONDS: dict[int, tuple[int, float, str]] = {
    14: (451, 27.0, "measured"),
    140: (4_448, 226.0, "measured"),
    1_400: (44_500, 2_260.0, "140 x 10, upper bound"),
}
# fit_shared_networks' CPU over train's CPU (parent + pool) on the sample: 11.3 of 27.4 CPU-s.
NETWORK_SHARE = 0.41
_OPTIONS = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)


@dataclass(frozen=True)
class Option:
    env: str
    compute: str
    vm_size: str
    nodes: int
    processes: int
    location: str


def _load(path: Path) -> dict[str, object]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, object] = hcl2.load(handle, serialization_options=_OPTIONS)
    return loaded


def vm_table() -> dict[str, dict[str, int]]:
    module = _load(ROOT / "modules" / "aml_compute" / "main.tf")
    for block in module["locals"]:  # type: ignore[attr-defined]
        if "vm_sizes" in block:
            return {
                size: {"vcpus": int(s["vcpus"]), "gpus": int(s["gpus"])}
                for size, s in block["vm_sizes"].items()
            }
    raise SystemExit("modules/aml_compute/main.tf: no local.vm_sizes")


def options(env: str, sizes: dict[str, dict[str, int]]) -> list[Option]:
    """The env's configured train option, and the other cluster at its maximum nodes, one process
    per GPU (gpu) or the configured processes (cpu)."""
    values = _load(ROOT / "envs" / env / "terraform.tfvars")
    aml, location = values["aml"], str(values["location"])
    assert isinstance(aml, dict)
    chosen = str(aml.get("train_compute", "gpu"))
    result = []
    for compute in ("cpu", "gpu"):
        size = str(aml[f"{compute}_vm_size"])
        if compute == chosen:
            nodes, processes = (
                int(aml.get("train_instance_count", 1)),
                int(aml.get("train_processes_per_instance", 1)),
            )
        else:
            nodes = int(aml[f"{compute}_max_nodes"])
            processes = (
                sizes[size]["gpus"] if compute == "gpu" else int(aml.get("train_processes_per_instance", 1))
            )
        result.append(Option(env, compute, size, nodes, processes, location))
    return result


def rows(book: PriceBook) -> list[str]:
    sizes = vm_table()
    lines = [
        "| env | cluster | size | nodes x processes | regions | series | train CPU-s | compute time "
        "| node-hours | cost |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for env in ("dev", "prod"):
        for option in options(env, sizes):
            price = book.vm_hourly(option.location, option.vm_size)
            for regions, (series, cpu, source) in MEASURED_CPU_SECONDS.items():
                work = cpu * (1 - NETWORK_SHARE) if option.compute == "gpu" else cpu
                seconds = work / (option.nodes * option.processes)
                node_hours = seconds * option.nodes / 3600
                bound = ">= " if option.compute == "gpu" else ""
                approx = "~" if source != "measured" else ""
                cost = f"not priced ({price.not_priced})"
                if price.hourly is not None:
                    hourly = f"{price.currency} {price.hourly:.3f}/h, Azure Retail Prices {price.fetched}"
                    cost = f"{bound}{price.currency} {node_hours * price.hourly:.4f} ({hourly})"
                lines.append(
                    f"| {env} | {option.compute} | {option.vm_size} | {option.nodes} x {option.processes} | "
                    f"{regions:,} | {approx}{series:,} | {cpu:,.0f} ({source}) | {bound}{seconds:,.0f} s | "
                    f"{bound}{node_hours:.3f} | {cost} |"
                )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=ROOT / "build" / "prices" / "retail-prices.json")
    args = parser.parse_args(argv)
    print("\n".join(rows(PriceBook(args.cache))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
