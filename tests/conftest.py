"""Suite-wide test policy.

* Tests that need Azure run only where Azure is reachable (AZURE_TESTS=1).
* Tests that need the package index are marked `network`: where the index is unreachable they skip,
  except in CI (CI=true), where such a skip is a failure, since there the test was meant to run.
* The suite runs in parallel (`make test`: pytest-xdist, `-n auto --dist loadgroup`). A test module
  whose module-scoped fixture is costly, and every test of a costly session fixture
  (`SHARED_SESSION_FIXTURES`), runs on one worker, so that the fixture is built once, not once per
  worker. Artifacts that depend only on content are built once for all workers (`shared_artifact`).
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Generator
from pathlib import Path

import pytest
from filelock import FileLock

# Session fixtures that take tens of seconds to build: their tests share one worker.
SHARED_SESSION_FIXTURES = ("sample_run", "model_steps")
# Fixtures whose tests are `slow` whatever they assert (`make unit-fast` leaves them out).
SLOW_FIXTURES = ("sample_run", "checkov_report", "model_steps")

# Collection imports ~2,000 modules whose objects live for the whole session; every full pass of
# Python's cyclic GC walks all of them again (over a second of `pytest -k one_test`'s ~4 s CPU).
# Frozen, a pass skips them (https://docs.python.org/3/library/gc.html#gc.freeze). Only what
# collection made is frozen: what a test makes is collected as before.
gc.freeze()


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    report = yield
    gc.freeze()
    return report


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.pluginmanager.hasplugin("xdist"):  # `-p no:xdist` has no xdist_group marker to set
        _group_costly_fixtures(items)
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is not None and any(name in info.names_closure for name in SLOW_FIXTURES):
            item.add_marker(pytest.mark.slow)
    if os.environ.get("AZURE_TESTS") == "1":
        return
    skip_azure = pytest.mark.skip(reason="needs Azure: set AZURE_TESTS=1 (the release pipeline does)")
    for item in items:
        if "azure" in item.keywords:
            item.add_marker(skip_azure)


pytest_collection_modifyitems = pytest.hookimpl(tryfirst=True)(pytest_collection_modifyitems)


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_carry_groups(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On an xdist worker, give each test of an `xdist_group` the `@group` suffix that `--dist
    loadgroup` schedules by, where pytest-xdist could not: 3.8 writes the suffix to `item._nodeid`,
    which pytest 9.2 no longer reads (pytest-dev/pytest-xdist#1386, open; fix proposed in #1388), so
    every group was split across workers and each worker built the group's costly fixture again.
    A no-op where the suffix is already there (an xdist or pytest with the fix)."""
    # config.option, not getvalue: a run with `-p no:xdist` (inheriting a worker's environment from
    # the test that started it) has no such option
    if not os.environ.get("PYTEST_XDIST_WORKER") or not getattr(config.option, "loadgroup", False):
        return
    for item in items:
        names = sorted({str(mark.args[0]) for mark in item.iter_markers("xdist_group") if mark.args})
        suffix = f"@{'_'.join(names)}"
        if names and not item.nodeid.endswith(suffix):
            _rename(item, f"{item.nodeid}{suffix}")


def _rename(item: pytest.Item, nodeid: str) -> None:
    """Set a test's node id on pytest 9.2 (a structured NodeId in `_id`) or earlier (`_nodeid`)."""
    if isinstance(getattr(item, "_id", None), str) or not hasattr(item, "_id"):
        item._nodeid = nodeid  # type: ignore[attr-defined]  # pytest < 9.2
        return
    from _pytest.nodeid import NodeId  # the id's own parser, so str(id) is exactly `nodeid`

    item._id = NodeId.parse(nodeid)  # type: ignore[attr-defined]


def _costly_group(item: pytest.Item) -> str | None:
    """The xdist group of a test: the costly session fixture it uses, else its module when it uses a
    module- or class-scoped fixture (built once per module per worker), else none."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    for name in SHARED_SESSION_FIXTURES:
        if name in info.names_closure:
            return name
    for definitions in info.name2fixturedefs.values():
        if any(d.scope in ("module", "class") for d in definitions):
            return item.nodeid.split("::", 1)[0]
    return None


def _group_costly_fixtures(items: list[pytest.Item]) -> None:
    """Mark each test that shares a costly fixture with `xdist_group`; a module whose tests use a
    costly session fixture goes whole to that fixture's group (its module fixtures then run once)."""
    groups = {item: _costly_group(item) for item in items}
    module_group: dict[str, str] = {}
    for item, group in groups.items():
        if group in SHARED_SESSION_FIXTURES:
            module_group.setdefault(item.nodeid.split("::", 1)[0], group)
    for item, group in groups.items():
        module = item.nodeid.split("::", 1)[0]
        chosen = module_group.get(module, group) if group is not None else None
        if chosen is not None:
            item.add_marker(pytest.mark.xdist_group(chosen))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """In CI a `network` test that skipped (index unreachable) fails: there it was meant to run."""
    report = yield
    if report.skipped and item.get_closest_marker("network") and os.environ.get("CI") == "true":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = (
            f"{item.nodeid} needs the package index and skipped in CI (CI=true), where it must run: "
            f"{reason}\nfix: give this job access to the index (PyPI, download.pytorch.org)"
        )
    return report


@pytest.fixture(scope="session")
def shared_artifact(
    tmp_path_factory: pytest.TempPathFactory,
) -> Callable[[str, Callable[[Path], None]], Path]:
    """shared_artifact(key, build) -> folder: `build(folder)` runs once for all xdist workers of this
    session (a file lock guards it; the others wait and reuse the folder). `key` must name everything
    the artifact depends on (a content hash), since a folder with that key is never rebuilt."""
    base = tmp_path_factory.getbasetemp()
    # Workers' base temps are siblings (popen-gw0, popen-gw1) under the session's; alone, use our own.
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    root = shared / "shared-artifacts"
    root.mkdir(exist_ok=True)

    def get(key: str, build: Callable[[Path], None]) -> Path:
        folder = root / key
        with FileLock(str(root / f"{key}.lock")):
            if not (folder / ".complete").exists():
                folder.mkdir(exist_ok=True)
                build(folder)
                (folder / ".complete").touch()
        return folder

    return get
