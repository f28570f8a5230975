"""Benchmark of `stackctl apply --env local` (what `make apply` runs): cold, warm, one changed row.

cold: a fresh .local/ (provisioning, landing, training and scoring pipelines, reporting, dashboard);
warm: a second apply with nothing changed (the content hashes skip both pipelines);
one changed row: one shipment's units changed in the sample, then apply (retrain and rescore).
Each step's time is printed, as the apply's own progress lines give it.
It runs on a throw-away copy of the repository's local-stack inputs (FORECAST_STACK_ROOT), so the
checkout's own .local/ is left alone. Goals (issue 27, benchmarks/goals.py): cold <= 60 s, one
changed row <= 60 s, on the idle 2-core dev machine.

    python benchmarks/bench_apply.py            # the bundled sample (data/sample), as `make apply`
    python benchmarks/bench_apply.py --quick    # one cold apply of a 2-region generated panel

--quick is a fast look, not the goals' size: the cold apply only (no warm or changed-row apply), on
2 regions; its figure goes to the goals table as quick-size, shown there and not judged.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from goals import GOALS, record

REPO = Path(__file__).resolve().parents[1]
GOAL_SECONDS = next(goal.seconds for goal in GOALS if goal.row == "apply-cold")
STEP_LINE = re.compile(r"✓ (\w+\.\w+) \(([\d.]+)s\)")


def prepare(root: Path, regions: int | None) -> None:
    sample = root / "data" / "sample"
    if regions is not None:
        subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "generate_sample_data.py"),
                "--out",
                str(sample),
                "--regions",
                str(regions),
                "--seed",
                "5",
            ],
            check=True,
            capture_output=True,
        )
    else:
        shutil.copytree(REPO / "data" / "sample", sample)
    shutil.copytree(REPO / "envs" / "local", root / "envs" / "local")
    shutil.copytree(
        REPO / "src" / "model" / "demand_forecast",
        root / "src" / "model" / "demand_forecast",
        ignore=shutil.ignore_patterns("__pycache__"),
    )


@dataclass(frozen=True)
class Plan:
    """Which applies one run makes, and on what."""

    generated_regions: int | None  # a generated panel of this many regions; None: data/sample
    applies: tuple[str, ...]  # "cold", then "warm" (nothing changed), "changed" (one row)


def plan(quick: bool) -> Plan:
    return Plan(2, ("cold",)) if quick else Plan(None, ("cold", "warm", "changed"))


def timed_apply(root: Path) -> tuple[float, str]:
    env = {**os.environ, "FORECAST_STACK_ROOT": str(root), "COLUMNS": "200"}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "stackctl", "apply", "--env", "local"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"apply failed with exit {proc.returncode}")
    return seconds, proc.stdout


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one cold apply of a 2-region generated panel")
    args = parser.parse_args(argv)
    what = plan(args.quick)
    outputs: dict[str, tuple[float, str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as scratch:
        root = Path(scratch)
        prepare(root, what.generated_regions)
        for apply in what.applies:
            if apply == "changed":
                change_one_row(root / "data" / "sample" / "shipments.csv")
            outputs[apply] = timed_apply(root)
    regions = what.generated_regions
    dataset = f"{regions}-region generated panel" if regions else "data/sample"
    print(f"apply --env local on {dataset}, {os.cpu_count()} CPUs")
    return report(outputs, dataset, goal_size=regions is None)


def report(outputs: dict[str, tuple[float, str]], dataset: str, *, goal_size: bool) -> int:
    """Print each apply with its steps; record the goal rows (judged only at the goal's size)."""
    cold, cold_out = outputs["cold"]
    verdict = (
        f"goal <= {GOAL_SECONDS:.0f} s: {'met' if cold <= GOAL_SECONDS else 'NOT met'}"
        if goal_size
        else f"quick size, not judged (the goal is for data/sample, {GOAL_SECONDS:.0f} s)"
    )
    print(f"  {'cold apply (fresh .local/)':<34} {cold:8.1f} s   {verdict}")
    print_steps(cold_out)
    record("apply-cold", cold, dataset, goal_size=goal_size)
    if "warm" in outputs:
        warm, warm_out = outputs["warm"]
        print(f"  {'warm apply (nothing changed)':<34} {warm:8.1f} s")
        if "no retraining" not in warm_out:
            print("  warning: the warm apply did not report 'no retraining'", file=sys.stderr)
            return 1
    if "changed" in outputs:
        changed, changed_out = outputs["changed"]
        print(f"  {'apply after one changed row':<34} {changed:8.1f} s")
        print_steps(changed_out)
        record("apply-one-row", changed, dataset, goal_size=goal_size)
        if "training.train" not in changed_out or "scoring.score" not in changed_out:
            print("  warning: the apply after a changed row did not retrain and rescore", file=sys.stderr)
            return 1
    else:
        print("  warm and changed-row applies: not run with --quick; `make bench` runs them on data/sample")
    return 0


def print_steps(output: str) -> None:
    for step, seconds in STEP_LINE.findall(output):
        print(f"    {step:<30} {float(seconds):8.1f} s")


def change_one_row(shipments: Path) -> None:
    """One shipment's units + 1: the raw data's hash changes, so apply retrains and rescores."""
    header, first, *rest = shipments.read_text(encoding="utf-8").splitlines()
    columns = header.split(",")
    values = first.split(",")
    units = columns.index("units")
    values[units] = str(int(float(values[units])) + 1)
    shipments.write_text("\n".join([header, ",".join(values), *rest]) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
