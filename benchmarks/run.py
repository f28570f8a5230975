"""`make bench`: run every benchmark in turn and print its figures.

Each benchmark is a standalone script beside this one (bench_<area>.py) that prints its own table;
this runner only sequences them, times each and reports any that failed, so one broken benchmark
does not hide the others' figures.

    make bench                      # all of them
    make bench ARGS="--only model"  # one area
    make bench ARGS="--quick"       # smaller sizes where a benchmark supports it
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
AREAS = ("model", "validate", "audit", "apply", "images", "scale")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=AREAS, action="append", help="run only this area (repeatable)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a fast look")
    args = parser.parse_args(argv)

    failed: list[str] = []
    for area in args.only or AREAS:
        script = HERE / f"bench_{area}.py"
        print(f"\n=== benchmark: {area} ({script.name}) ===", flush=True)
        if not script.exists():
            print(f"  (no {script.name} yet: nothing to measure for {area})")
            failed.append(area)
            continue
        cmd = [sys.executable, str(script)] + (["--quick"] if args.quick else [])
        start = time.perf_counter()
        status = subprocess.run(cmd, check=False).returncode
        print(f"  [{area}: {time.perf_counter() - start:.1f} s, exit {status}]", flush=True)
        if status != 0:
            failed.append(area)
    if failed:
        print(f"\nbenchmarks that did not complete: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
