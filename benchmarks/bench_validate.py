"""`make validate` time (goal: benchmarks/goals.py, 15 s) and what it verifies, per check.

Measures, each as the median of several runs:
  per check    each offline check in-process (fmt, config, schema, checkov, ...), as run_checks runs it
  end to end   `stackctl validate --quiet` as a new process: what `make validate` costs
and reports the figures the checks produce: resource blocks declared and checkov checks passed,
skipped and failed per target.

    python benchmarks/bench_validate.py            # 3 repetitions
    python benchmarks/bench_validate.py --quick    # 1 repetition
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from goals import GOALS, record

from stackctl.checks import CHECKS, CheckReport, run_checks
from stackctl.paths import repo_root

GOAL_SECONDS = next(goal.seconds for goal in GOALS if goal.row == "validate")
ROOT = repo_root()


def _end_to_end(env: dict[str, str] | None = None) -> float:
    stackctl = Path(sys.executable).with_name("stackctl")
    command = (
        [str(stackctl), "validate", "--quiet"]
        if stackctl.exists()
        else [sys.executable, "-m", "stackctl", "validate", "--quiet"]
    )
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-2000:], file=sys.stderr)
        raise SystemExit(
            f"stackctl validate failed (exit {result.returncode}); the timing would mean nothing"
        )
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one repetition instead of three")
    args = parser.parse_args(argv)
    repetitions = 1 if args.quick else 3

    # First as on a fresh clone: no parse cache (build/cache/hcl) yet.
    with tempfile.TemporaryDirectory(prefix="bench-validate-") as scratch:
        cold = _end_to_end({**os.environ, "STACKCTL_CACHE_DIR": scratch})
    per_check: dict[str, list[float]] = {name: [] for name in CHECKS}
    last: list[CheckReport] = []
    for _ in range(repetitions):
        last = run_checks(ROOT)
        for report in last:
            per_check[report.name].append(report.seconds)
    end_to_end = [_end_to_end() for _ in range(repetitions)]

    print(f"{'check':<14}{'median s':>10}")
    for name, times in per_check.items():
        print(f"{name:<14}{statistics.median(times):>10.2f}")
    total = statistics.median(end_to_end)
    record("validate", cold, f"no parse cache; {total:.1f} s with it")
    for label, seconds in (("end to end", total), ("cold", cold)):
        verdict = "within" if seconds <= GOAL_SECONDS else "OVER"
        print(f"{label:<14}{seconds:>10.2f}   (`stackctl validate`, goal {GOAL_SECONDS:.0f} s: {verdict})")
    print("  (end to end: median, parse cache warm; cold: the first run without the parse cache)")

    by_name = {report.name: report for report in last}
    schema = by_name["schema"].figures
    print(f"\nblocks declared: {schema['resource_blocks']} resource, {schema['data_blocks']} data")
    print("checkov checks per target:")
    for target, figures in by_name["checkov"].figures.items():
        counts = (
            f"{figures['passed']:>4} passed {figures['skipped']:>4} skipped {figures['failed']:>4} failed"
        )
        print(f"  {target:<8} {counts}")
    findings = sum(len(r.findings) for r in last)
    print(f"findings: {findings}")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"peak RSS: this process {peak_mib:.0f} MiB, largest child (checkov/terraform) {children_mib:.0f} MiB"
    )
    return 0 if findings == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
