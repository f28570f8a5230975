"""`make validate` time (goal: benchmarks/goals.py, 15 s) and what it verifies, per check.

Measures:
  cold         `stackctl validate` as a new process with no parse cache (build/cache/hcl), as on a
               fresh clone or after an edit: the goal row; its CPU seconds (with terraform's and
               checkov's) beside it, and each check's seconds from that run (`--json`)
  per check    (full run) each check in-process, as run_checks runs it, median of 3
  end to end   (full run) `stackctl validate --quiet` as a new process, parse cache warm, median of 3
and reports the figures the checks produce: resource blocks declared and checkov checks passed,
skipped and failed per target.

    python benchmarks/bench_validate.py            # the cold run, then 3 repetitions of each
    python benchmarks/bench_validate.py --quick    # the cold run only

"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from goals import GOALS, record

from stackctl.checks import CHECKS, run_checks
from stackctl.paths import repo_root

GOAL_SECONDS = next(goal.seconds for goal in GOALS if goal.row == "validate")
ROOT = repo_root()


@dataclass(frozen=True)
class Plan:
    """What one run measures beyond the cold process (always one): repetitions, full run only."""

    in_process_repetitions: int
    warm_runs: int


def plan(quick: bool) -> Plan:
    return Plan(in_process_repetitions=0, warm_runs=0) if quick else Plan(3, 3)


def _end_to_end(env: dict[str, str] | None = None, report: Path | None = None) -> tuple[float, float]:
    """`stackctl validate --quiet` as a new process: (wall seconds, CPU seconds with its children)."""
    stackctl = Path(sys.executable).with_name("stackctl")
    command = (
        [str(stackctl), "validate", "--quiet"]
        if stackctl.exists()
        else [sys.executable, "-m", "stackctl", "validate", "--quiet"]
    )
    command += ["--json", str(report)] if report else []
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-2000:], file=sys.stderr)
        raise SystemExit(
            f"stackctl validate failed (exit {result.returncode}); the timing would mean nothing"
        )
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return elapsed, cpu


def _cold() -> tuple[float, float, list[dict[str, Any]]]:
    """The goal's run: a new process with an empty parse cache; its per-check report."""
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as scratch:
        report = Path(scratch) / "validate.json"
        cold, cpu = _end_to_end({**os.environ, "STACKCTL_CACHE_DIR": scratch}, report)
        checks: list[dict[str, Any]] = json.loads(report.read_text(encoding="utf-8"))
    return cold, cpu, checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the cold run only, no repetitions")
    args = parser.parse_args(argv)
    what = plan(args.quick)
    cold, cold_cpu, checks = _cold()
    per_check: dict[str, list[float]] = {name: [] for name in CHECKS}
    for _ in range(what.in_process_repetitions):
        for report in run_checks(ROOT):
            per_check[report.name].append(report.seconds)
    end_to_end = [_end_to_end()[0] for _ in range(what.warm_runs)]

    print(f"{'check':<20}{'cold s':>8}{'median s' if what.in_process_repetitions else '':>10}")
    for check in checks:
        times = per_check.get(check["name"]) or []
        median = f"{statistics.median(times):>10.2f}" if times else ""
        print(f"{check['name']:<20}{check['seconds']:>8.2f}{median}")
    note = f"no parse cache; {cold_cpu:.1f} CPU-s with terraform and checkov"
    if end_to_end:
        note += f"; {statistics.median(end_to_end):.1f} s with the cache"
    record("validate", cold, note)
    verdict = "within" if cold <= GOAL_SECONDS else "OVER"
    goal = f"goal {GOAL_SECONDS:.0f} s: {verdict}"
    print(f"{'cold':<20}{cold:>8.2f}   (`stackctl validate`, {goal}; {cold_cpu:.1f} CPU-s)")
    if end_to_end:
        warm = statistics.median(end_to_end)
        verdict = "within" if warm <= GOAL_SECONDS else "OVER"
        print(f"{'end to end':<20}{warm:>8.2f}   (median of {len(end_to_end)}, parse cache warm: {verdict})")
    return _print_figures({check["name"]: check for check in checks})


def _print_figures(by_name: dict[str, dict[str, Any]]) -> int:
    schema = by_name["schema"]["figures"]
    print(f"\nblocks declared: {schema['resource_blocks']} resource, {schema['data_blocks']} data")
    print("checkov checks per target:")
    for target, figures in by_name["checkov"]["figures"].items():
        counts = (
            f"{figures['passed']:>4} passed {figures['skipped']:>4} skipped {figures['failed']:>4} failed"
        )
        print(f"  {target:<8} {counts}")
    findings = sum(len(check["findings"]) for check in by_name.values())
    print(f"findings: {findings}")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak RSS: this process {peak_mib:.0f} MiB, "
        f"largest child (stackctl, checkov or terraform) {children_mib:.0f} MiB"
    )
    return 0 if findings == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
