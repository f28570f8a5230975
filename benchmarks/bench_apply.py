"""Benchmark of `stackctl apply --env local` (what `make apply` runs): cold and warm wall time.

cold: a fresh .local/ (provisioning, landing, training and scoring pipelines, reporting, dashboard);
warm: a second apply with nothing changed (the content hashes skip both pipelines).
It runs on a throw-away copy of the repository's local-stack inputs (FORECAST_STACK_ROOT), so the
checkout's own .local/ is left alone. The goal is a cold apply <= 120 s on the 2-core dev machine.

    python benchmarks/bench_apply.py            # the bundled sample (data/sample), as `make apply`
    python benchmarks/bench_apply.py --quick    # a 2-region generated panel
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL_SECONDS = 120.0
STEP_LINE = re.compile(r"✓ (\w+\.\w+) \(([\d.]+)s\)")


def prepare(root: Path, quick: bool) -> None:
    sample = root / "data" / "sample"
    if quick:
        subprocess.run(
            [
                sys.executable,
                str(REPO / "scripts" / "generate_sample_data.py"),
                "--out",
                str(sample),
                "--regions",
                "2",
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
    parser.add_argument(
        "--quick", action="store_true", help="a 2-region generated panel instead of data/sample"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-apply-") as scratch:
        root = Path(scratch)
        prepare(root, args.quick)
        cold, cold_out = timed_apply(root)
        warm, warm_out = timed_apply(root)
    dataset = "2-region generated panel" if args.quick else "data/sample"
    print(f"apply --env local on {dataset}, {os.cpu_count()} CPUs")
    print(
        f"  {'cold apply (fresh .local/)':<34} {cold:8.1f} s   goal <= {GOAL_SECONDS:.0f} s: "
        f"{'met' if cold <= GOAL_SECONDS else 'NOT met'}"
    )
    for step, seconds in STEP_LINE.findall(cold_out):
        print(f"    {step:<30} {float(seconds):8.1f} s")
    print(f"  {'warm apply (nothing changed)':<34} {warm:8.1f} s")
    if "no retraining" not in warm_out:
        print("  warning: the warm apply did not report 'no retraining'", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
