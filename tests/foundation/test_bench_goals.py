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
    assert goals.read(figures) == {"test": goals.Figure(200.0, "second")}


def test_a_quick_size_figure_is_shown_not_judged(
    goals: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--quick applies a 2-region panel, not data/sample: 20 s there says nothing of the 60 s goal."""
    figures = tmp_path / "figures.jsonl"
    monkeypatch.setenv(goals.FIGURES_ENV, str(figures))
    cold = next(goal for goal in goals.GOALS if goal.row == "apply-cold")
    goals.record(cold.row, 20.0, "2-region generated panel", goal_size=False)
    goals.record("validate", 12.0, "no parse cache")
    lines = goals.table(goals.read(figures), "0 0 0", quick=True)
    line = _row(lines, cold.command)
    assert "not measured in --quick  (quick size only: 20.0 s, 2-region generated panel)" in line
    assert " met" not in line
    assert _row(lines, "`make validate`").rstrip().endswith("met  (no parse cache)")
    unmeasured = next(goal for goal in goals.GOALS if goal.row == "test")
    expected = f"not measured in --quick  (measured by {unmeasured.measured_by})"
    assert expected in _row(lines, unmeasured.command)
    assert lines[-1].strip() == f"1 of {len(goals.GOALS)} goals met in this run"


def _bench(name: str) -> ModuleType:
    """A benchmark script as a module (benchmarks/ on sys.path, as when it runs)."""
    benchmarks = str(REPO / "benchmarks")
    if benchmarks not in sys.path:
        sys.path.insert(0, benchmarks)
    spec = importlib.util.spec_from_file_location(name, REPO / "benchmarks" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_the_quick_plans_measure_once_and_skip_the_repeat_and_cold_paths(goals: ModuleType) -> None:
    """`make bench ARGS=--quick` (goal <= 120 s): no medians, no warm or changed-row apply, no
    first-run compile, no `make test`; the full run keeps them all."""
    validate, loops, apply, audit = (_bench(f"bench_{n}") for n in ("validate", "loops", "apply", "audit"))
    assert validate.plan(True) == validate.Plan(in_process_repetitions=0, warm_runs=0)
    assert validate.plan(False) == validate.Plan(in_process_repetitions=3, warm_runs=3)
    assert loops.plan(True) == loops.Plan(False, False, False)
    assert loops.plan(False) == loops.Plan(True, True, True)
    assert apply.plan(True) == apply.Plan(generated_regions=2, applies=("cold",))
    assert apply.plan(False) == apply.Plan(generated_regions=None, applies=("cold", "warm", "changed"))
    assert audit.plan(True) == audit.Plan(100, core_runs=1, checkov_alone_runs=0, end_to_end_runs=1)
    full = audit.plan(False)
    assert full.resources == 500
    assert min(full.core_runs, full.checkov_alone_runs, full.end_to_end_runs) >= 3
    model = _bench("bench_model")
    assert model.plan(True) == [2]
    assert model.plan(False) == [14, 140]
