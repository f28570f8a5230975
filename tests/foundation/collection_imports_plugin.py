"""A pytest plugin (`-p collection_imports_plugin`) that names, per collected file, the heavy
packages its import pulled in, so test_collection_imports.py can keep collection light.

Writes `<module or conftest path>\t<package>` lines to $COLLECTION_IMPORTS_OUT.
"""

from __future__ import annotations

import os
import sys

import pytest

# Packages whose import costs seconds: a test module imports them inside the tests that need them.
HEAVY = ("torch", "azure.ai.ml", "mlflow", "sklearn", "plotly", "checkov")

_seen: set[str] = set()
_lines: list[str] = []


def _new_heavy(where: str) -> None:
    for name in HEAVY:
        if name in sys.modules and name not in _seen:
            _seen.add(name)
            _lines.append(f"{where}\t{name}")


def pytest_configure(config: pytest.Config) -> None:
    _new_heavy("(before collection: pytest plugins and conftest files)")


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> object:
    report = yield
    _new_heavy(str(collector.nodeid or collector.path))
    return report


def pytest_collection_finish(session: pytest.Session) -> None:
    with open(os.environ["COLLECTION_IMPORTS_OUT"], "w", encoding="utf-8") as out:
        out.write("".join(f"{line}\n" for line in _lines))
