"""Several checkov scans for the price of one start-up: run by checkov's own Python, not ours.

    <checkov's python> checkov_batch.py SPEC.json

SPEC.json is a list of scans, each `{"argv": [checkov's command-line arguments], "env": {name:
value}}`. checkov's imports are most of a small scan's time (2-4 s of a 4-8 s scan here), and each
`checkov` command pays them again, so this imports checkov once and forks a child per scan: each
child starts from the same freshly imported state, exactly as a separate `checkov` command would
(checkov's `Checkov().run()` keeps results between calls in one process, so the scans cannot
simply share it), and writes its results where its own `--output-file-path` says.

    <checkov's python> checkov_batch.py SPEC.json --jobs 2

runs up to 2 scans at once, in the order SPEC.json lists them (put the longest first): each child
is serial inside (CHECKOV_PARALLELIZATION_TYPE=none), so 2 jobs hold 2 cores, where checkov's own
parallelism would fork a worker per CPU in every scan. Without --jobs the scans run one at a time.

This file imports nothing of stackctl (checkov lives in its own environment, .venv-tools/, because
its bc-python-hcl2 would replace python-hcl2's `hcl2` in ours). Exit status: 0 when every scan ran
(checkov's own "a check failed" status is normal and read from its result files), 2 on a bad spec.
Where `os.fork` does not exist, each scan runs in a new interpreter instead (one start-up each,
one at a time).
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


def reuse_jsonpath_parsers() -> None:
    """Build each JSONPath grammar's parser once per process instead of once per expression.

    checkov parses a JSONPath expression for each attribute key it updates while rendering
    variables (graph_components/blocks.py), and bc-jsonpath-ng's `parse_token_stream` calls
    `ply.yacc.yacc(..., write_tables=0)` every time, which regenerates the LALR tables of the
    same grammar (its own comment: "we regenerate the parse table every time"): 16-24% of a
    scan's CPU here, 27 rebuilds in the prod scan. The LRParser that `yacc()` returns serves any
    number of inputs (ply 3.11, ply/yacc.py: `LRParser.parse` starts each call from fresh state
    and symbol stacks), and the JSONPath grammar's actions keep no state on the parser object
    (bc_jsonpath_ng/parser.py: each `p_*` action only builds AST nodes), so the first build of
    each grammar serves every later call. Only calls for a bc_jsonpath_ng parser are memoised;
    any other user of ply builds as before. The four validate scans' results were compared with
    and without this (checks, resources, lines, outcomes, skip reasons): identical.
    """
    try:
        yacc_module = importlib.import_module("ply.yacc")
        jsonpath = importlib.import_module("bc_jsonpath_ng.parser")
    except ImportError:  # another checkov: nothing to reuse
        return
    build = yacc_module.yacc
    if getattr(build, "reuses_jsonpath_parsers", False):
        return
    built: dict[tuple[object, ...], object] = {}

    def yacc(*args: object, **kwargs: object) -> object:
        module = kwargs.get("module")
        if args or not isinstance(module, jsonpath.JsonPathParser):
            return build(*args, **kwargs)
        key = (type(module), kwargs.get("start"), bool(kwargs.get("debug")))
        if key not in built:
            built[key] = build(**kwargs)
        return built[key]

    yacc.reuses_jsonpath_parsers = True  # type: ignore[attr-defined]
    setattr(yacc_module, "yacc", yacc)  # noqa: B010 (a module attribute mypy cannot see)
    # Both grammars checkov uses, built now: forked children inherit them instead of each building.
    for module_name in ("bc_jsonpath_ng", "bc_jsonpath_ng.ext"):
        importlib.import_module(module_name).parse("$.warm")


def _run_one(scan: Scan) -> int:
    """One scan in this process; checkov's exit status (1 when a check failed)."""
    reuse_jsonpath_parsers()
    os.environ.update(scan["env"])
    checkov_main = importlib.import_module("checkov.main")
    code = checkov_main.Checkov(argv=scan["argv"]).run()
    sys.stdout.flush()
    sys.stderr.flush()
    return int(code or 0)


def _fork(scan: Scan) -> int:
    """Start one scan in a forked child; its pid."""
    pid = os.fork()
    if pid == 0:  # the child: one scan, then leave without running the parent's clean-up
        status = 3
        try:
            status = _run_one(scan)
        finally:
            os._exit(status)
    return pid


def _run_forked(scans: list[Scan], jobs: int) -> None:
    """Up to `jobs` scans at once, each in its own child; a finished child's slot goes to the next."""
    # Imported before the first fork, so no child pays for it.
    importlib.import_module("checkov.main")
    importlib.import_module("checkov.terraform.runner")
    importlib.import_module("checkov.terraform.plan_runner")
    reuse_jsonpath_parsers()
    waiting = list(enumerate(scans))
    running: dict[int, tuple[int, float]] = {}  # pid -> (scan number, start)
    while waiting or running:
        while waiting and len(running) < jobs:
            number, scan = waiting.pop(0)
            running[_fork(scan)] = (number, time.perf_counter())
        pid, status = os.wait()
        if pid not in running:
            continue
        number, started = running.pop(pid)
        _report(number, os.waitstatus_to_exitcode(status), started)


def _report(number: int, status: int, started: float) -> None:
    seconds = time.perf_counter() - started
    print(f"checkov_batch: scan {number} exit {status} in {seconds:.1f} s", file=sys.stderr, flush=True)


def _arguments(arguments: list[str]) -> tuple[str, int] | None:
    """(SPEC.json, jobs) from `checkov_batch.py SPEC.json [--jobs N]`; None when malformed."""
    if len(arguments) == 2:
        return arguments[1], 1
    if len(arguments) == 4 and arguments[2] == "--jobs" and arguments[3].isdigit() and int(arguments[3]) > 0:
        return arguments[1], int(arguments[3])
    return None


def main(arguments: list[str]) -> int:
    if len(arguments) == 3 and arguments[1] == "--one":
        return _run_one(json.loads(arguments[2]))
    parsed = _arguments(arguments)
    if parsed is None:
        print("usage: checkov_batch.py SPEC.json [--jobs N]", file=sys.stderr)
        return 2
    spec_path, jobs = parsed
    with open(spec_path, encoding="utf-8") as handle:
        scans = json.load(handle)
    if hasattr(os, "fork"):
        _run_forked(scans, jobs)
        return 0
    for number, scan in enumerate(scans):
        started = time.perf_counter()
        status = subprocess.run([sys.executable, __file__, "--one", json.dumps(scan)], check=False).returncode
        _report(number, status, started)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
