"""The developer loops of issue 27: one test, the model's `validate`, and (full run) `make test` cold.

Measures:
  collect-one      `pytest -k one_test` as a developer runs it again and again: collection of the
                   whole suite (test modules must not import torch or azure-ai-ml at import time)
                   and one test, with the bytecode cache its first run wrote (that run beside it)
  model-validate   the model's `validate` step on the bundled sample (85k rows in all its files):
                   CPU seconds of reading, validating and writing, in process, imports excluded;
                   the step's wall time as its own process (interpreter start and imports) beside it
  test             (not with --quick) `make test`'s stages in a fresh clone of HEAD (cold caches, no
                   build/): ruff, import contracts, mypy, pytest in parallel; set-up not timed

Every figure comes with the CPU seconds it took (this machine is shared: wall time alone says
little when others load it).

    python benchmarks/bench_loops.py            # all
    python benchmarks/bench_loops.py --quick    # each goal row measured once: no `make test` run
                                                # (minutes), no first-run compile or collection
                                                # beside `pytest -k`, no model validate process
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from goals import record

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
ONE_TEST = "test_unknown_check_is_rejected"


def _timed(command: list[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> tuple[float, float]:
    """Run `command`; (wall seconds, CPU seconds of it and its children). A failure ends the bench."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"{' '.join(command)} failed (exit {proc.returncode}); its time would mean nothing")
    return seconds, _children_cpu() - cpu_before


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True)
class Plan:
    """What one run measures; --quick measures each goal row once and nothing beside it."""

    first_run_and_collection: bool  # the compile run and --collect-only beside `pytest -k`
    validate_process: bool  # the model's validate again as its own process
    make_test: bool  # `make test` in a fresh clone (minutes)


def plan(quick: bool) -> Plan:
    return Plan(False, False, False) if quick else Plan(True, True, True)


def one_test_quick() -> None:
    """--quick: `pytest -k ONE_TEST` once, reading the checkout's own bytecode cache as a developer's
    repeated run does (a checkout whose cache is cold pays the compile here: an upper bound)."""
    pytest = [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "-k", ONE_TEST]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    run, run_cpu = _timed(pytest, env)
    label = f"pytest -k {ONE_TEST} (collection + the test)"
    print(f"  {label:<58} {run:8.2f} s ({run_cpu:.1f} s CPU)")
    record("collect-one", run, f"{run_cpu:.1f} s CPU; the checkout's bytecode cache (--quick: one run)")


def one_test() -> None:
    """`pytest -k ONE_TEST` twice, with Python's bytecode cache in a scratch folder: the first run
    compiles every module the collection imports (a fresh clone's first run), the second reads them
    back, as every later run of a developer's loop does. The goal row is the second; the first is
    printed beside it. PYTHONDONTWRITEBYTECODE, where the environment sets it, is lifted for these
    runs only (it would make every run pay the first run's compile)."""
    pytest = [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "-k", ONE_TEST]
    with tempfile.TemporaryDirectory(prefix="bench-pyc-") as scratch:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = scratch
        first, first_cpu = _timed(pytest, env)
        collect, collect_cpu = _timed([*pytest, "--collect-only"], env)
        run, run_cpu = _timed(pytest, env)
    print(
        f"  {'pytest -k ' + ONE_TEST + ', first run (compiles)':<58} {first:8.2f} s ({first_cpu:.1f} s CPU)"
    )
    print(f"  {'pytest --collect-only -k ' + ONE_TEST:<58} {collect:8.2f} s ({collect_cpu:.1f} s CPU)")
    print(f"  {'pytest -k ' + ONE_TEST + ' (collection + the test)':<58} {run:8.2f} s ({run_cpu:.1f} s CPU)")
    record(
        "collect-one",
        run,
        f"{run_cpu:.1f} s CPU; collection alone {collect:.1f} s; first run after a clone {first:.1f} s",
    )


def model_validate(as_process: bool) -> None:
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
        command = [sys.executable, "-m", "demand_forecast", "validate", "--data", "data/sample"]
        process = _timed([*command, "--out", f"{scratch}/p"])[0] if as_process else None
    print(f"  {f'model validate, {rows} rows, in process':<58} {cpu:8.2f} s CPU ({wall:.2f} s wall)")
    if process is None:
        print("  model validate as its own process: not run with --quick")
        record("model-validate", cpu, f"{rows} rows")
        return
    print(f"  {'model validate as its own process (start-up included)':<58} {process:8.2f} s")
    record("model-validate", cpu, f"{rows} rows; {process:.1f} s as its own process")


def make_test_cold() -> None:
    """`make test`'s stages in a fresh clone of HEAD (no bytecode, mypy, ruff, pytest or parse cache,
    no build/ folder), each command as the Makefile's `test` target runs it. Set-up is not timed:
    the clone borrows this checkout's .venv and .venv-tools (set-up needs the package index), and
    runs its own code through PYTHONPATH (the environments hold this checkout's packages)."""
    with tempfile.TemporaryDirectory(prefix="bench-test-") as scratch:
        clone = Path(scratch) / "clone"
        subprocess.run(["git", "clone", "--quiet", "--no-local", str(REPO), str(clone)], check=True)
        for venv in (".venv", ".venv-tools"):
            (clone / venv).symlink_to((REPO / venv).resolve())
        source = [str(clone / "src"), str(clone / "src" / "model")]
        env = {
            **os.environ,
            "STACKCTL_CACHE_DIR": f"{scratch}/cache",
            "PYTHONPATH": os.pathsep.join([*source, os.environ.get("PYTHONPATH", "")]),
        }
        env.pop("FORECAST_STACK_ROOT", None)
        total, total_cpu = 0.0, 0.0
        for name, command in _make_test_stages(scratch).items():
            seconds, cpu = _timed(command, env, cwd=clone)
            total, total_cpu = total + seconds, total_cpu + cpu
            print(f"  {'make test: ' + name:<58} {seconds:8.1f} s ({cpu:.0f} s CPU)")
    print(f"  {'make test, all stages (fresh clone)':<58} {total:8.1f} s ({total_cpu:.0f} s CPU)")
    record("test", total, f"fresh clone, set-up excluded; {total_cpu:.0f} s CPU")


def _make_test_stages(scratch: str) -> dict[str, list[str]]:
    """The commands of the Makefile's `test` target (keep in step with it), caches sent to scratch."""
    files = ["src", "tests", "scripts", "benchmarks"]
    return {
        "ruff": [str(BIN / "ruff"), "check", "--no-cache", *files],
        "ruff format": [str(BIN / "ruff"), "format", "--no-cache", "--check", *files],
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
            "--durations=25",
            "-m",
            "not network",
        ],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="leave out the `make test` run")
    args = parser.parse_args(argv)
    what = plan(args.quick)
    print(f"developer loops, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    if what.first_run_and_collection:
        one_test()
    else:
        one_test_quick()
    model_validate(as_process=what.validate_process)
    if what.make_test:
        make_test_cold()
    else:
        print("  make test: not run with --quick (it takes minutes); `make bench` runs it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
