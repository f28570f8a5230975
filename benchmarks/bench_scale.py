"""Scale benchmark (issue 20): train and score cost of the model at 1x, 10x and 100x the sample, with
1, 2, ... distributed training workers.

    python benchmarks/bench_scale.py [--quick] [--factors 1,10,100] [--workers 1,2] [--json OUT.json]
    make bench ARGS="--only scale"

For each factor it generates a panel with scripts/generate_sample_data.py (the sample's shape, 3
stores x 14 products per region, 104 weeks, seed 7; factor x 14 regions, so 1x is the sample itself)
and runs the real model CLI in a child process, exactly as the stacks do: `validate` (once per panel,
not measured), then on its conditioned output `train --no-tracking`
(with N > 1 workers under `python -m torch.distributed.run --standalone --nproc-per-node N`, the
local stack's and AML's engine, docs/scale.md), then `score`. For each step it records:

- wall time (s);
- CPU time (s): user + system of the child and every process it reaped (torchrun's workers), from
  `os.wait4` on that child;
- peak memory PER WORKER: the largest PSS of a single worker process (psutil, sampled every 100 ms;
  PSS splits shared pages between processes) and its peak RSS (the kernel's high-water mark: `ru_maxrss`
  of a single-process step from `os.wait4`, `VmHWM` of each torchrun worker, read while it runs), plus
  the whole tree's summed PSS (the node's memory). A worker is a process of the step other than
  torchrun's launcher (`torch.distributed.run`), which holds no data.

The issue's goals are printed after the table, each with met / not met / not measured and the
figures that decide it.

`--quick` measures nothing: its 1x would repeat bench_model.py's sample row (train and score of
the same 451 series), and the scale figures need 10x and 100x, which take minutes to hours; it
says so and exits 0, so `make bench ARGS=--quick` stays a fast look. Sizes above 10x take minutes to hours
on a small machine: 100x is ~45,000 series and needed ~20 GiB in extrapolation from issue 20's table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

REPO = Path(__file__).resolve().parents[1]
SAMPLE_REGIONS = 14  # scripts/generate_sample_data.py --regions default: the bundled sample
# Distributed training (issue 20): torchrun starts the workers locally; more than the machine's cores
# only measures contention.
SUPPORTED_WORKERS = (1, 2, 3, 4, 6, 8, 16)
LAUNCHER = "torch.distributed.run"
SAMPLE_EVERY_S = 0.1


@dataclass(frozen=True)
class StepCost:
    """What one CLI step cost: seconds of wall and CPU time, MiB of peak memory."""

    wall_s: float
    cpu_s: float
    peak_pss_mib: float  # the largest single worker's
    max_rss_mib: float  # the largest single worker's
    tree_pss_mib: float = 0.0  # the step's whole process tree, summed


@dataclass(frozen=True)
class ScaleResult:
    factor: int
    regions: int
    series: int
    shipment_rows: int
    workers: int
    train: StepCost
    score: StepCost


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse and check the command line; bad values exit 2 with a message naming the option."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="measure nothing (1x is bench_model's row); say so"
    )
    parser.add_argument(
        "--factors", default="1,10,100", help="comma-separated multiples of the sample's series"
    )
    parser.add_argument(
        "--workers", default="1", help=f"comma-separated training worker counts of {SUPPORTED_WORKERS}"
    )
    parser.add_argument("--json", type=Path, help="also write the results as JSON to this file")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep the panels and models")
    args = parser.parse_args(argv)
    args.factors = [1] if args.quick else _positive_ints(parser, "--factors", args.factors)
    args.workers = _positive_ints(parser, "--workers", args.workers)
    unsupported = [w for w in args.workers if w not in SUPPORTED_WORKERS]
    if unsupported:
        parser.error(f"--workers {','.join(map(str, unsupported))}: choose among {SUPPORTED_WORKERS}")
    return args


def _positive_ints(parser: argparse.ArgumentParser, option: str, text: str) -> list[int]:
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        parser.error(f"{option} {text!r}: expected comma-separated whole numbers, e.g. 1,10,100")
    if not values or any(v < 1 for v in values):
        parser.error(f"{option} {text!r}: expected one or more numbers >= 1")
    return sorted(set(values))


def _generator() -> Any:
    from sample_generator import load  # benchmarks/ is sys.path[0] when a benchmark runs

    return load()


def make_panel(
    factor: int, out: Path, *, seed: int = 7, base_regions: int = SAMPLE_REGIONS, weeks: int = 104
) -> tuple[int, int, int]:
    """Write a panel of `factor` x `base_regions` regions (3 stores x 14 products each, `weeks` weeks
    of history) as the input contract's CSV files into `out`; return (regions, series, shipment rows).
    """
    generator = _generator()
    regions = factor * base_regions
    tables = generator.generate(generator.PanelShape(regions, 3, 14, weeks), seed=seed)
    generator.write(tables, out)
    shipments = tables["shipments"]
    return regions, int(shipments.groupby(["store_id", "product_id"]).ngroups), len(shipments)


def _tree_pss(parent: psutil.Process) -> int:
    """Summed PSS in bytes of `parent` and its descendants now; 0 for a tree that is gone.

    Processes come and go while the tree is read (the training pool's workers start and exit), so
    psutil may raise for a process it just listed, in `children()` itself as well: that process's
    memory is gone, and the sampler must go on rather than die and stop measuring.
    """
    try:
        tree = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for process in tree:
        with contextlib.suppress(psutil.Error):
            total += process.memory_full_info().pss
    return total


def _is_worker(process: psutil.Process) -> bool:
    """A process that does the step's work: not torchrun's launcher (`torch.distributed.run`)."""
    try:
        return LAUNCHER not in " ".join(process.cmdline())
    except psutil.Error:
        return False


def _high_water_mark(pid: int) -> int:
    """The process's peak RSS so far in bytes (`VmHWM` of /proc/PID/status); 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _worker_peaks(parent: psutil.Process) -> tuple[int, int]:
    """(largest PSS, largest peak RSS) in bytes of one worker process of `parent`'s tree now."""
    try:
        tree = [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    pss, hwm = 0, 0
    for process in tree:
        if not _is_worker(process):
            continue
        with contextlib.suppress(psutil.Error):
            pss = max(pss, process.memory_full_info().pss)
        hwm = max(hwm, _high_water_mark(process.pid))
    return pss, hwm


CLI = (sys.executable, "-m", "demand_forecast")


def launch(workers: int) -> tuple[str, ...]:
    """The model CLI's command for `workers` training workers (torchrun above 1, docs/scale.md)."""
    if workers == 1:
        return CLI
    return (sys.executable, "-m", LAUNCHER, "--standalone", "--nproc-per-node", str(workers), *CLI[1:])


def run_measured(args: list[str], command: tuple[str, ...] = CLI) -> StepCost:
    """Run `python -m demand_forecast ARGS` (or `command ARGS`) in a child; return its wall time, CPU
    time and peak memory per worker.

    CPU time comes from `os.wait4` on this child alone: the kernel's usage of the child and the
    descendants it reaped (torchrun's workers), not `RUSAGE_CHILDREN`, whose ru_maxrss is a maximum
    over every child this process ever had (a score step would report train's peak). A single
    process's peak RSS is its ru_maxrss (KiB on Linux) from the same call; under torchrun, whose
    launcher is among the processes ru_maxrss takes the maximum of, it is each worker's VmHWM.
    Raises RuntimeError with the child's stderr when it fails.
    """
    started = time.perf_counter()
    child = subprocess.Popen([*command, *args], stderr=subprocess.PIPE, text=True)
    parent = psutil.Process(child.pid)
    peak, tree_peak, hwm = 0, 0, 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak, tree_peak, hwm
        while not stop.is_set():
            worker_pss, worker_hwm = _worker_peaks(parent)
            peak, hwm = max(peak, worker_pss), max(hwm, worker_hwm)
            tree_peak = max(tree_peak, _tree_pss(parent))
            stop.wait(SAMPLE_EVERY_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert child.stderr is not None
    stderr = child.stderr.read()  # until the child (and any worker holding the pipe) has closed it
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    if child.returncode != 0:
        raise RuntimeError(f"{' '.join([*command[1:], *args])} failed ({child.returncode}):\n{stderr}")
    cpu = usage.ru_utime + usage.ru_stime
    rss = usage.ru_maxrss * 1024 if LAUNCHER not in command else hwm
    return StepCost(
        round(wall, 1), round(cpu, 1), round(peak / 2**20), round(rss / 2**20), round(tree_peak / 2**20)
    )


def measure(factor: int, workers: int, work: Path) -> ScaleResult:
    """Generate the factor's panel (once per factor), train on it with `workers` workers and score it."""
    data = work / f"data_{factor}x"
    regions, series, rows = _panel(factor, data)
    print(
        f"{factor}x, {workers} worker(s): {regions} regions, {series} series, {rows} shipment rows",
        flush=True,
    )
    conditioned = work / f"conditioned_{factor}x"
    if (
        not conditioned.exists()
    ):  # validate once per panel: train and score read its output, as in the pipeline
        run_measured(["validate", "--data", str(data), "--out", str(conditioned)])
    model = work / f"model_{factor}x_{workers}w"
    train = run_measured(
        ["train", "--data", str(conditioned), "--out", str(model), "--no-tracking"], launch(workers)
    )
    print(f"  train {train}", flush=True)
    scored = work / f"s{factor}x_{workers}w"
    score = run_measured(["score", "--model", str(model), "--data", str(conditioned), "--out", str(scored)])
    print(f"  score {score}", flush=True)
    return ScaleResult(factor, regions, series, rows, workers, train, score)


_PANELS: dict[Path, tuple[int, int, int]] = {}


def _panel(factor: int, data: Path) -> tuple[int, int, int]:
    if data not in _PANELS:
        _PANELS[data] = make_panel(factor, data)
    return _PANELS[data]


def exponent(x0: float, y0: float, x1: float, y1: float) -> float:
    """The power-law exponent b of y = a x^b through two points (log-log slope)."""
    return math.log(y1 / y0) / math.log(x1 / x0)


def goals(results: list[ScaleResult]) -> list[tuple[str, str, str]]:
    """Issue 20's goals as (goal, verdict, evidence); a goal lacking its runs is 'not measured'."""
    by = {(r.factor, r.workers): r for r in results}
    pairs = [
        (w, by[(10, w)], by[(100, w)])
        for w in sorted({r.workers for r in results})
        if (10, w) in by and (100, w) in by
    ]
    return [_memory_goal(pairs), _cpu_goal(pairs, results), _speedup_goal(by), _accuracy_goal()]


def _memory_goal(pairs: list[tuple[int, ScaleResult, ScaleResult]]) -> tuple[str, str, str]:
    goal = "per-worker peak memory at 100x within 2x of 10x (same workers)"
    if not pairs:
        return goal, "not measured", "needs the 10x and 100x runs with the same number of workers"
    ratios = [
        (w, hundred.train.peak_pss_mib / ten.train.peak_pss_mib, ten, hundred) for w, ten, hundred in pairs
    ]
    evidence = "; ".join(
        f"{w} worker(s): train PSS per worker x{ratio:.2f} ({ten.train.peak_pss_mib:.0f} -> "
        f"{hundred.train.peak_pss_mib:.0f} MiB)"
        for w, ratio, ten, hundred in ratios
    )
    return goal, "met" if all(ratio <= 2 for _, ratio, _, _ in ratios) else "NOT met", evidence


def _cpu_goal(
    pairs: list[tuple[int, ScaleResult, ScaleResult]], results: list[ScaleResult]
) -> tuple[str, str, str]:
    goal = "CPU time linear in series (exponent <= 1.05, 10x -> 100x)"
    if pairs:
        slopes = [(w, exponent(t.series, t.train.cpu_s, h.series, h.train.cpu_s)) for w, t, h in pairs]
        evidence = "; ".join(f"{w} worker(s): train CPU exponent {b:.2f}" for w, b in slopes)
        return goal, "met" if all(b <= 1.05 for _, b in slopes) else "NOT met", evidence
    low = sorted((r for r in results if r.workers == min(x.workers for x in results)), key=lambda r: r.series)
    hint = (
        f"indication {low[0].factor}x -> {low[-1].factor}x: exponent "
        f"{exponent(low[0].series, low[0].train.cpu_s, low[-1].series, low[-1].train.cpu_s):.2f}"
        if len(low) > 1
        else "needs the 10x and 100x runs"
    )
    return goal, "not measured", hint


def _speedup_goal(by: dict[tuple[int, int], ScaleResult]) -> tuple[str, str, str]:
    goal = "2 workers train the 10x panel in <= 0.6 x the time of 1 worker"
    one, two = by.get((10, 1)), by.get((10, 2))
    if one is None or two is None:
        return goal, "not measured", "needs the 10x runs with 1 and 2 workers"
    ratio = two.train.wall_s / one.train.wall_s
    evidence = (
        f"wall x{ratio:.2f} ({one.train.wall_s:.0f} -> {two.train.wall_s:.0f} s; CPU "
        f"{one.train.cpu_s:.0f} -> {two.train.cpu_s:.0f} s): wall time needs a machine with 2 idle cores"
    )
    return goal, "met" if ratio <= 0.6 else "NOT met", evidence


def _accuracy_goal() -> tuple[str, str, str]:
    return (
        "holdout MAPE within 1% of today's; per-segment promotion never worse",
        "not measured here",
        "accuracy: bench_model.py and docs/scale.md 'Measured'; per-segment promotion: h/scale-promote",
    )


def render(results: list[ScaleResult], load: tuple[float, float, float]) -> None:
    """Print the table, the machine's load and the goals' verdicts."""
    from rich.console import Console
    from rich.table import Table

    console = Console(width=200)
    table = Table(title="demand_forecast at scale: training workers under torchrun, memory per worker")
    columns = ("factor", "regions", "series", "workers", "train wall s", "train CPU s")
    for column in (
        *columns,
        "train PSS/worker MiB",
        "train maxRSS/worker MiB",
        "train PSS tree MiB",
        "score wall s",
        "score CPU s",
        "score PSS MiB",
    ):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            f"{r.factor}x",
            str(r.regions),
            str(r.series),
            str(r.workers),
            *(f"{v}" for v in (r.train.wall_s, r.train.cpu_s, r.train.peak_pss_mib, r.train.max_rss_mib)),
            f"{r.train.tree_pss_mib}",
            *(f"{v}" for v in (r.score.wall_s, r.score.cpu_s, r.score.peak_pss_mib)),
        )
    console.print(table)
    console.print(
        f"load average at the end (1, 5, 15 min): {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on "
        f"{os.cpu_count()} CPUs: wall times on a loaded machine are upper bounds; CPU time and memory hold"
    )
    console.print("issue 20's goals:")
    for goal, verdict, evidence in goals(results):
        # markup=False: "[met]" must print as text, not be read as a rich style tag and vanish.
        console.print(f"  [{verdict}] {goal}: {evidence}", markup=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.quick:
        print(
            "scale: not measured under --quick (1x is the model benchmark's sample row; 10x and 100x "
            'take minutes to hours): `make bench ARGS="--only scale"` runs them, then the promotion goal '
            "(benchmarks/bench_promotion.py, --quick: 3 epochs)"
        )
        return 0
    load_at_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench_scale_") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            results = [measure(f, w, work) for f in args.factors for w in args.workers]
        except RuntimeError as error:
            print(f"bench_scale: {error}", file=sys.stderr)
            return 1
    print(f"load average at the start (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in load_at_start)}")
    render(results, os.getloadavg())
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2) + "\n")
    # Issue 20's promotion goal (per-segment vs whole-model promotion on two successive weeks).
    promotion = [sys.executable, str(Path(__file__).with_name("bench_promotion.py"))]
    return subprocess.run(promotion, check=False).returncode


if __name__ == "__main__":
    sys.exit(main())
