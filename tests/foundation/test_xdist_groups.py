"""`make test`'s parallel run keeps each module with a costly module fixture on one worker.

tests/conftest.py marks such tests with `xdist_group`; `--dist loadgroup` must then send a group to
one worker, or every worker builds the fixture again (an end-to-end apply, a checkov scan). With
pytest 9.2 and pytest-xdist 3.8 the groups were silently ignored (pytest-dev/pytest-xdist#1386);
this runs two such modules on two workers and reads from the verbose report where each test ran.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Two cheap modules whose tests share a module-scoped fixture (the benchmark module they load).
MODULES = ("tests/foundation/test_bench_goals.py", "tests/foundation/test_bench_scale.py")
RAN = re.compile(r"^\[(gw\d+)\] \[ *\d+%\] (?:PASSED|FAILED|SKIPPED|ERROR) (tests/\S+?\.py)::")


@pytest.mark.slow
def test_a_module_with_a_module_fixture_runs_on_one_worker() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-n",
            "2",
            "--dist",
            "loadgroup",
            "-v",
            "-p",
            "no:cacheprovider",
            "-k",
            "not memory_sampling and not peak and not failing_step and not cpu_time",
            *MODULES,
        ],
        cwd=REPO,
        # a run of its own, even from a worker of the outer run
        env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")},
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    workers: dict[str, set[str]] = defaultdict(set)
    tests: dict[str, int] = defaultdict(int)
    for line in result.stdout.splitlines():
        if match := RAN.match(line):
            workers[match[2]].add(match[1])
            tests[match[2]] += 1
    assert set(tests) == set(MODULES), result.stdout[-3000:]
    assert all(count >= 3 for count in tests.values()), tests  # enough tests to have split
    assert {module: len(ran_on) for module, ran_on in workers.items()} == dict.fromkeys(MODULES, 1)
