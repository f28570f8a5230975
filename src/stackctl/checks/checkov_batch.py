"""Several checkov scans for the price of one start-up: run by checkov's own Python, not ours.

    <checkov's python> checkov_batch.py SPEC.json

SPEC.json is a list of scans, each `{"argv": [checkov's command-line arguments], "env": {name:
value}}`. checkov's imports are most of a small scan's time (2-4 s of a 4-8 s scan here), and each
`checkov` command pays them again, so this imports checkov once and forks a child per scan: each
child starts from the same freshly imported state, exactly as a separate `checkov` command would
(checkov's `Checkov().run()` keeps results between calls in one process, so the scans cannot
simply share it), and writes its results where its own `--output-file-path` says. The scans run one
after another: on a small machine the other checks of `stackctl validate` use the other core.

This file imports nothing of stackctl (checkov lives in its own environment, .venv-tools/, because
its bc-python-hcl2 would replace python-hcl2's `hcl2` in ours). Exit status: 0 when every scan ran
(checkov's own "a check failed" status is normal and read from its result files), 2 on a bad spec.
Where `os.fork` does not exist, each scan runs in a new interpreter instead (one start-up each).
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from typing import TypedDict

# Python puts this file's folder first on sys.path, and it holds stackctl's own `checkov.py`:
# without this, `checkov.main` would be looked for there.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]


class Scan(TypedDict):
    argv: list[str]
    env: dict[str, str]


def _run_one(scan: Scan) -> int:
    """One scan in this process; checkov's exit status (1 when a check failed)."""
    os.environ.update(scan["env"])
    checkov_main = importlib.import_module("checkov.main")
    code = checkov_main.Checkov(argv=scan["argv"]).run()
    sys.stdout.flush()
    sys.stderr.flush()
    return int(code or 0)


def _forked(scan: Scan) -> int:
    pid = os.fork()
    if pid == 0:  # the child: one scan, then leave without running the parent's clean-up
        status = 3
        try:
            status = _run_one(scan)
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def main(arguments: list[str]) -> int:
    if len(arguments) == 3 and arguments[1] == "--one":
        return _run_one(json.loads(arguments[2]))
    if len(arguments) != 2:
        print("usage: checkov_batch.py SPEC.json", file=sys.stderr)
        return 2
    with open(arguments[1], encoding="utf-8") as handle:
        scans = json.load(handle)
    if hasattr(os, "fork"):
        # Imported before the first fork, so no child pays for it.
        importlib.import_module("checkov.main")
        importlib.import_module("checkov.terraform.runner")
        importlib.import_module("checkov.terraform.plan_runner")
    for number, scan in enumerate(scans):
        started = time.perf_counter()
        if hasattr(os, "fork"):
            status = _forked(scan)
        else:
            status = subprocess.run(
                [sys.executable, __file__, "--one", json.dumps(scan)], check=False
            ).returncode
        seconds = time.perf_counter() - started
        print(f"checkov_batch: scan {number} exit {status} in {seconds:.1f} s", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
