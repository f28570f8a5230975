"""The developer loops of issue 27: one test, the model's `validate`, and (full run) `make test` cold.

Measures:
  collect-one      `pytest -k one_test` as a developer runs it: collection of the whole suite (test
                   modules must not import torch or azure-ai-ml at import time) and one test
  model-validate   the model's `validate` step on the bundled sample (85k rows in all its files):
                   CPU seconds of reading, validating and writing, in process, imports excluded;
                   the step's wall time as its own process (interpreter start and imports) beside it
  test             (not with --quick) `make test`'s stages on cold caches, as on a fresh clone: ruff,
                   import contracts, mypy without its cache, pytest in parallel without the parse cache

    python benchmarks/bench_loops.py            # all
    python benchmarks/bench_loops.py --quick    # without the `make test` run (minutes)
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from goals import record

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ONE_TEST = "test_unknown_check_is_rejected"


def _timed(command: list[str], env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"{' '.join(command)} failed (exit {proc.returncode}); its time would mean nothing")
    return seconds


def one_test() -> None:
    collect = _timed([str(BIN / "pytest"), "--collect-only", "-q", "-p", "no:cacheprovider", "-k", ONE_TEST])
    run = _timed([str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "-k", ONE_TEST])
    print(f"  {'pytest --collect-only -k ' + ONE_TEST:<58} {collect:8.2f} s")
    print(f"  {'pytest -k ' + ONE_TEST + ' (collection + the test)':<58} {run:8.2f} s")
    record("collect-one", run, f"collection alone {collect:.1f} s")


def model_validate() -> None:
    from demand_forecast.cli import main

    with tempfile.TemporaryDirectory(prefix="bench-validate-") as scratch:
        started_cpu, started = time.process_time(), time.perf_counter()
        status = main(["validate", "--data", str(REPO / "data" / "sample"), "--out", f"{scratch}/in"])
        cpu, wall = time.process_time() - started_cpu, time.perf_counter() - started
        if status != 0:
            raise SystemExit(f"validate exited {status} on data/sample")
        rows = sum(
            len(p.read_text(encoding="utf-8").splitlines()) - 1 for p in (REPO / "data/sample").glob("*.csv")
        )
        process = _timed(
            [
                sys.executable,
                "-m",
                "demand_forecast",
                "validate",
                "--data",
                "data/sample",
                "--out",
                f"{scratch}/p",
            ]
        )
    print(f"  {f'model validate, {rows} rows, in process':<58} {cpu:8.2f} s CPU ({wall:.2f} s wall)")
    print(f"  {'model validate as its own process (start-up included)':<58} {process:8.2f} s")
    record("model-validate", cpu, f"{rows} rows; {process:.1f} s as its own process")


def make_test_cold() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-test-") as scratch:
        env = {**os.environ, "STACKCTL_CACHE_DIR": f"{scratch}/cache"}
        stages = {
            "ruff": [str(BIN / "ruff"), "check", "--no-cache", "src", "tests", "scripts", "benchmarks"],
            "ruff format": [
                str(BIN / "ruff"),
                "format",
                "--no-cache",
                "--check",
                "src",
                "tests",
                "scripts",
                "benchmarks",
            ],
            "import contracts": [str(BIN / "lint-imports"), "--no-cache", "pyproject.toml"],
            "mypy (no cache)": [str(BIN / "mypy"), "--cache-dir", f"{scratch}/mypy"],
            "pytest -n auto": [
                str(BIN / "pytest"),
                "-q",
                "-p",
                "no:cacheprovider",
                "-n",
                "auto",
                "--dist",
                "loadgroup",
            ],
        }
        total = 0.0
        for name, command in stages.items():
            seconds = _timed(command, env)
            total += seconds
            print(f"  {'make test: ' + name:<58} {seconds:8.1f} s")
    print(f"  {'make test, all stages':<58} {total:8.1f} s")
    record("test", total, "cold caches")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="leave out the `make test` run")
    args = parser.parse_args(argv)
    print(f"developer loops, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    one_test()
    model_validate()
    if args.quick:
        print("  make test: not run with --quick (it takes minutes); `make bench` runs it")
    else:
        make_test_cold()
    return 0


if __name__ == "__main__":
    sys.exit(main())
