"""The result of one doctor check, and the report the command prints."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from rich.console import Console


class Outcome(Enum):
    PASS = "ok"  # noqa: S105 - an outcome, not a password
    FAIL = "FAIL"
    UNCHECKED = "not checked"


@dataclass(frozen=True)
class CheckResult:
    """One prerequisite: `detail` says what was found; `next_step` what to do (FAIL) or how to let
    doctor check it (UNCHECKED)."""

    check: str
    outcome: Outcome
    detail: str
    next_step: str | None = None


def passed(check: str, detail: str) -> CheckResult:
    return CheckResult(check, Outcome.PASS, detail)


def failed(check: str, detail: str, next_step: str) -> CheckResult:
    return CheckResult(check, Outcome.FAIL, detail, next_step)


def unchecked(check: str, detail: str, next_step: str) -> CheckResult:
    return CheckResult(check, Outcome.UNCHECKED, detail, next_step)


def print_report(console: Console, env: str, results: list[CheckResult]) -> None:
    """One line per check in order, then the next step: the first failure's, else what was not checked."""
    style = {Outcome.PASS: "green", Outcome.FAIL: "bold red", Outcome.UNCHECKED: "yellow"}
    console.print(f"stackctl doctor --env {env}")
    for number, result in enumerate(results, start=1):
        outcome = f"[{style[result.outcome]}]{result.outcome.value}[/]"
        console.print(f"{number:>2}. {result.check:<22} {outcome:<10} {result.detail}", highlight=False)
    first_failure = next((r for r in results if r.outcome is Outcome.FAIL), None)
    missing = [r for r in results if r.outcome is Outcome.UNCHECKED]
    if first_failure is not None:
        console.print(f"\nnext step ({first_failure.check}): {first_failure.next_step}", highlight=False)
    elif missing:
        console.print("\nnothing failed; could not check:", highlight=False)
        for result in missing:
            console.print(f"  - {result.check}: {result.next_step}", highlight=False)
    else:
        console.print(f"\nevery prerequisite of {env} holds: `make plan ENV={env}` is next.", highlight=False)
