"""The goals table of the commands people wait on (issue 27), and how benchmarks report against it.

A benchmark that measures one of these rows calls `record(row, seconds)`; `make bench`
(benchmarks/run.py) collects the records of its run and prints every row with its goal, its
figure and whether the goal is met, a row no benchmark measured this run included ("not measured",
with why). Goals hold on an idle 2-core machine; the load average is printed next to the table,
since a busy machine's figures are not the machine's.

A figure taken at a smaller size than its goal's (`make bench ARGS=--quick`: `apply` on a
2-region panel instead of data/sample) is recorded with `goal_size=False`: the table shows it in
the note and says "not measured in --quick" instead of judging it against the goal.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

FIGURES_ENV = "BENCH_FIGURES"  # the JSON-lines file benchmarks/run.py collects the records in


@dataclass(frozen=True)
class Goal:
    row: str
    command: str
    seconds: float
    measured_by: str


GOALS = (
    Goal("test", "`make test`, fresh clone (cold caches)", 240.0, "bench_loops.py (not in --quick)"),
    Goal("apply-cold", "`make apply` (local), after set-up, cold", 60.0, "bench_apply.py"),
    Goal("apply-one-row", "`make apply` after one changed row (retrain + rescore)", 60.0, "bench_apply.py"),
    Goal("validate", "`make validate`", 15.0, "bench_validate.py"),
    Goal("bench-quick", "`make bench ARGS=--quick`", 120.0, "run.py"),
    Goal("collect-one", "`pytest -k one_test` (collection and the test)", 5.0, "bench_loops.py"),
    Goal("model-validate", "model `validate` on the 85k-row sample, CPU seconds", 1.0, "bench_loops.py"),
)


class Figure(NamedTuple):
    seconds: float
    note: str = ""
    goal_size: bool = True  # False: measured at a smaller size than the goal's (--quick)


def record(row: str, seconds: float, note: str = "", *, goal_size: bool = True) -> None:
    """Append one measured figure for `row` (a GOALS row) to this bench run's figures file;
    `goal_size=False` when it was measured at a smaller size than the goal's (it is then shown,
    not judged)."""
    if row not in {goal.row for goal in GOALS}:
        raise ValueError(f"unknown goal row {row!r}; add it to GOALS in benchmarks/goals.py")
    path = os.environ.get(FIGURES_ENV)
    if not path:
        return
    item = {"row": row, "seconds": seconds, "note": note, "goal_size": goal_size}
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(json.dumps(item) + "\n")


def read(path: Path) -> dict[str, Figure]:
    """The figures recorded in `path`, the last per row."""
    figures: dict[str, Figure] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            figures[item["row"]] = Figure(
                float(item["seconds"]), str(item.get("note", "")), bool(item.get("goal_size", True))
            )
    return figures


def table(figures: dict[str, Figure], load: str, *, quick: bool = False) -> list[str]:
    """Every goal row: figure, goal, met / NOT met / not measured ("in --quick" where a `quick` run
    left it out or measured it at a smaller size than the goal's)."""
    lines = [f"goals (idle 2-core machine); load average now: {load}", ""]
    lines.append(f"  {'command':<58} {'measured':>10} {'goal':>8}  verdict")
    met = 0
    for goal in GOALS:
        figure = Figure(*figures[goal.row]) if goal.row in figures else None
        if figure is None:
            verdict = "not measured in --quick" if quick else "not measured"
            note, shown = f"measured by {goal.measured_by}", "-"
        elif not figure.goal_size:
            verdict, shown = "not measured in --quick", "-"
            note = f"quick size only: {figure.seconds:.1f} s, {figure.note}".rstrip(", ")
        else:
            verdict = "met" if figure.seconds <= goal.seconds else "NOT met"
            met += verdict == "met"
            note, shown = figure.note, f"{figure.seconds:9.2f}s"
        suffix = f"  ({note})" if note else ""
        lines.append(f"  {goal.command:<58} {shown:>10} {goal.seconds:7.0f}s  {verdict}{suffix}")
    lines.append(f"\n  {met} of {len(GOALS)} goals met in this run")
    return lines
