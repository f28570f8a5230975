"""`make bench`: run every benchmark in turn and print its figures.

Each benchmark is a standalone script beside this one (bench_<area>.py) that prints its own table;
this runner only sequences them, times each and reports any that failed, so one broken benchmark
does not hide the others' figures. At the end it prints the goals table of the commands people wait
on (benchmarks/goals.py, issue 27): every row with its goal, the figure this run measured and
whether the goal is met. A benchmark that needs what this machine cannot reach (the package
indexes, for `images`) is skipped at once under --quick, saying why.

    make bench                      # all of them
    make bench ARGS="--only model"  # one area
    make bench ARGS="--quick"       # each figure once, smaller sizes where the figure stays
                                    # meaningful (goal <= 120 s); the goals table judges only the
                                    # rows measured at their goal's size
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from goals import FIGURES_ENV, read, record, table

HERE = Path(__file__).resolve().parent
AREAS = ("loops", "model", "accuracy", "validate", "audit", "apply", "images", "scale")
# What each area needs beyond this machine; under --quick an area whose hosts do not answer within
# a second is skipped at once instead of waiting on pip's retries.
NEEDS_HOSTS = {"images": ("pypi.org", "download.pytorch.org")}


QUICK_NOTE = (
    "--quick: each benchmark measures once, without repetitions, and some at smaller sizes than the\n"
    "goals' (each says which); the goals table judges only the figures taken at the goal's size and\n"
    "says 'not measured in --quick' for the others. `make bench` measures every row at its size."
)


def unreachable(hosts: tuple[str, ...]) -> list[str]:
    missing = []
    for host in hosts:
        try:
            socket.create_connection((host, 443), timeout=1.0).close()
        except OSError:
            missing.append(host)
    return missing


def run_area(area: str, quick: bool, env: dict[str, str]) -> bool:
    """Run one benchmark script; False when it failed or is missing."""
    script = HERE / f"bench_{area}.py"
    print(f"\n=== benchmark: {area} ({script.name}) ===", flush=True)
    if not script.exists():
        print(f"  (no {script.name} yet: nothing to measure for {area})")
        return False
    missing = unreachable(NEEDS_HOSTS.get(area, ())) if quick else []
    if missing:
        print(f"  skipped: needs {', '.join(missing)}, unreachable from here (run without --quick to wait)")
        return True
    cmd = [sys.executable, str(script)] + (["--quick"] if quick else [])
    cpu_before, start = children_cpu(), time.perf_counter()
    status = subprocess.run(cmd, check=False, env=env).returncode
    wall, cpu = time.perf_counter() - start, children_cpu() - cpu_before
    print(f"  [{area}: {wall:.1f} s, {cpu:.1f} CPU-s, exit {status}]", flush=True)
    return status == 0


def children_cpu() -> float:
    """CPU seconds of every finished child process and the children each waited for (on a shared
    machine, wall time measures the neighbours too; CPU time does not). Not counted: processes no
    parent waits for, such as the steps `apply` forks from its forkserver (stackctl/local/executor.py)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=AREAS, action="append", help="run only this area (repeatable)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a fast look")
    args = parser.parse_args(argv)

    load_before = " ".join(f"{value:.2f}" for value in os.getloadavg())
    if args.quick:
        print(QUICK_NOTE)
    with tempfile.TemporaryDirectory(prefix="bench-") as scratch:
        figures_file = Path(scratch) / "figures.jsonl"
        env = {**os.environ, FIGURES_ENV: str(figures_file)}
        os.environ[FIGURES_ENV] = str(figures_file)
        start = time.perf_counter()
        failed = [area for area in args.only or AREAS if not run_area(area, args.quick, env)]
        total = time.perf_counter() - start
        cpu = children_cpu()
        print(f"\nall benchmarks: {total:.1f} s, {cpu:.1f} CPU-s (not apply's forked steps)", flush=True)
        if args.quick and not args.only:
            record("bench-quick", total, f"{cpu:.0f} CPU-s")
        load_after = " ".join(f"{value:.2f}" for value in os.getloadavg())
        load = f"{load_before} before, {load_after} after"
        # With --only, a row left out was not selected, not left out by --quick.
        quick = args.quick and not args.only
        print("\n=== " + "\n".join(table(read(figures_file), load, quick=quick)))
    if failed:
        print(f"\nbenchmarks that did not complete: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
