"""Typed seams: src/'s `Any` budget only goes down (scripts/any_budget.py, run by `make lint`), and mypy
ignores a missing stub only for a library named in pyproject.toml, never globally."""

from __future__ import annotations

import importlib.util
import tomllib
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _any_budget() -> ModuleType:
    spec = importlib.util.spec_from_file_location("any_budget", ROOT / "scripts" / "any_budget.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_count_is_the_budget() -> None:
    budget = _any_budget()
    total = sum(budget.count().values())
    assert budget.check(total, budget.BUDGET) is None, budget.check(total, budget.BUDGET)


def test_a_new_any_breaks_the_budget_and_a_removed_one_asks_to_lower_it() -> None:
    budget = _any_budget()
    assert "over the budget of 10" in budget.check(11, 10)
    assert "lower BUDGET in scripts/any_budget.py to 9" in budget.check(9, 10)
    assert budget.check(10, 10) is None


def test_only_the_name_counts_not_prose() -> None:
    budget = _any_budget()
    text = (
        'from typing import Any\n# Any in a comment\nx: Any = "Any in a string"\ndef f(a: Any) -> Any: ...\n'
    )
    assert budget.any_lines(text) == {1, 3, 4}


def test_a_copy_of_src_with_one_more_any_fails(tmp_path: Path) -> None:
    budget = _any_budget()
    for folder in budget.SOURCES:
        (tmp_path / folder).mkdir(parents=True)
    (tmp_path / budget.SOURCES[0] / "seam.py").write_text(
        "from typing import Any\n\nx: Any = 1\n", encoding="utf-8"
    )
    assert sum(budget.count(tmp_path).values()) == 2


def test_mypy_ignores_missing_imports_only_per_module() -> None:
    mypy = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["mypy"]
    assert "ignore_missing_imports" not in mypy, "no global ignore_missing_imports: name the untyped library"
    for override in mypy.get("overrides", []):
        if override.get("ignore_missing_imports"):
            assert override["module"], override
