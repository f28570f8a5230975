"""The goals table of the commands people wait on (issue 27), and how benchmarks report against it.

A benchmark that measures one of these rows calls `record(row, seconds)`; `make bench`
(benchmarks/run.py) collects the records of its run and prints every row with its goal, its
figure and whether the goal is met, a row no benchmark measured this run included ("not measured",
with why). Goals hold on an idle 2-core machine; the load average is printed next to the table,
since a busy machine's figures are not the machine's.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

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


def record(row: str, seconds: float, note: str = "") -> None:
    """Append one measured figure for `row` (a GOALS row) to this bench run's figures file."""
    if row not in {goal.row for goal in GOALS}:
        raise ValueError(f"unknown goal row {row!r}; add it to GOALS in benchmarks/goals.py")
    path = os.environ.get(FIGURES_ENV)
    if not path:
        return
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(json.dumps({"row": row, "seconds": seconds, "note": note}) + "\n")


def read(path: Path) -> dict[str, tuple[float, str]]:
    """The figures recorded in `path`, the last per row."""
    figures: dict[str, tuple[float, str]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            item = json.loads(line)
            figures[item["row"]] = (float(item["seconds"]), str(item.get("note", "")))
    return figures


def table(figures: dict[str, tuple[float, str]], load: str) -> list[str]:
    """Every goal row: figure, goal, met / NOT met / not measured."""
    lines = [f"goals (idle 2-core machine); load average now: {load}", ""]
    lines.append(f"  {'command':<58} {'measured':>10} {'goal':>8}  verdict")
    met = 0
    for goal in GOALS:
        if goal.row in figures:
            seconds, note = figures[goal.row]
            verdict = "met" if seconds <= goal.seconds else "NOT met"
            met += verdict == "met"
            shown = f"{seconds:9.2f}s"
        else:
            verdict, note, shown = "not measured", f"measured by {goal.measured_by}", "-"
        suffix = f"  ({note})" if note else ""
        lines.append(f"  {goal.command:<58} {shown:>10} {goal.seconds:7.0f}s  {verdict}{suffix}")
    lines.append(f"\n  {met} of {len(GOALS)} goals met in this run")
    return lines
