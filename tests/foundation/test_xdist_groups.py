"""`make test`'s parallel run keeps each module with a costly module fixture on one worker.

tests/conftest.py marks such tests with `xdist_group`; `--dist loadgroup` must then send a group to
one worker, or every worker builds the fixture again (an end-to-end apply, a checkov scan). With
pytest 9.2 and pytest-xdist 3.8 the groups were silently ignored (pytest-dev/pytest-xdist#1386);
this runs two such modules on two workers, under a copy of tests/conftest.py and beside a module
without one, and reads from the verbose report where each test ran. The modules are made up and
import nothing, so the inner run costs the workers' start-up only.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Two modules whose tests share a module-scoped fixture, and one whose tests share nothing.
MODULES = ("test_shared_a.py", "test_shared_b.py")
LOOSE = "test_loose.py"
RAN = re.compile(r"^\[(gw\d+)\] \[ *\d+%\] (?:PASSED|FAILED|SKIPPED|ERROR) (test_\w+\.py)::")
SHARED_MODULE = """
import pytest


@pytest.fixture(scope="module")
def costly():
    return object()


@pytest.mark.parametrize("case", range(4))
def test_uses_the_module_fixture(costly, case):
    assert costly is not None
"""
LOOSE_MODULE = """
import pytest


@pytest.mark.parametrize("case", range(8))
def test_shares_nothing(case):
    assert case >= 0
"""


@pytest.mark.slow
def test_a_module_with_a_module_fixture_runs_on_one_worker(tmp_path: Path) -> None:
    shutil.copy(REPO / "tests" / "conftest.py", tmp_path / "conftest.py")
    for name in MODULES:
        (tmp_path / name).write_text(SHARED_MODULE, encoding="utf-8")
    (tmp_path / LOOSE).write_text(LOOSE_MODULE, encoding="utf-8")
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
            "--rootdir",
            str(tmp_path),
            *MODULES,
            LOOSE,
        ],
        cwd=tmp_path,
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
    assert set(tests) == {*MODULES, LOOSE}, result.stdout[-3000:]
    assert all(count >= 4 for count in tests.values()), tests  # enough tests to have split
    assert {module: len(workers[module]) for module in MODULES} == dict.fromkeys(MODULES, 1)
