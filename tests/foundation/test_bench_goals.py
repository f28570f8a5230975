"""benchmarks/goals.py: the goals table of issue 27 prints every row with its goal and a verdict.

`make bench` ends with this table; a row no benchmark measured says so rather than disappearing,
and a figure over its goal reads "NOT met".
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def goals() -> ModuleType:
    spec = importlib.util.spec_from_file_location("goals", REPO / "benchmarks" / "goals.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["goals"] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


def _row(lines: list[str], command: str) -> str:
    (line,) = [line for line in lines if line.strip().startswith(command)]
    return line


def test_every_goal_row_is_printed_with_its_goal_and_verdict(goals: ModuleType) -> None:
    assert len(goals.GOALS) >= 7  # the six commands and the model's validate
    first, *_ = goals.GOALS
    figures = {first.row: (first.seconds * 2, "cold"), goals.GOALS[1].row: (goals.GOALS[1].seconds / 2, "")}
    lines = goals.table(figures, "0.10 0.20 0.30")
    assert "load average now: 0.10 0.20 0.30" in lines[0]
    for goal in goals.GOALS:
        line = _row(lines, goal.command)
        assert f"{goal.seconds:.0f}s" in line, line
    assert _row(lines, first.command).endswith("NOT met  (cold)")
    assert _row(lines, goals.GOALS[1].command).rstrip().endswith("met")
    assert "NOT" not in _row(lines, goals.GOALS[1].command)
    unmeasured = _row(lines, goals.GOALS[2].command)
    assert f"not measured  (measured by {goals.GOALS[2].measured_by})" in unmeasured
    assert lines[-1].strip() == f"1 of {len(goals.GOALS)} goals met in this run"


def test_a_figure_for_an_unknown_row_is_refused(goals: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown goal row 'tset'"):
        goals.record("tset", 1.0)


def test_recorded_figures_are_read_back_last_per_row(
    goals: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figures = tmp_path / "figures.jsonl"
    monkeypatch.setenv(goals.FIGURES_ENV, str(figures))
    goals.record("test", 300.0, "first")
    goals.record("test", 200.0, "second")
    assert goals.read(figures) == {"test": (200.0, "second")}
