"""The `Any` budget of src/: how many source lines use `typing.Any`, which may only go down.

    .venv/bin/python scripts/any_budget.py            # the count, per file, the largest first
    .venv/bin/python scripts/any_budget.py --check    # exit 1 when the count is not the budget

A line counts when a Python token on it is the name `Any` (comments and strings are not tokens of
that kind, so prose about "Any" does not count). `make lint` runs `--check`: above BUDGET, type the
seam instead (a pydantic model, a Protocol, the library's own type); below it, lower BUDGET to the
new count in the same commit, so the budget only goes down (issue 21 item 7).
"""

from __future__ import annotations

import argparse
import io
import sys
import tokenize
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("src/stackctl", "src/model/demand_forecast")
# src/ lines using Any when the budget began (main once this round's parallel branches merged):
# lower it as it drops
BUDGET = 280


def any_lines(text: str) -> set[int]:
    """Line numbers of `text` (Python source) where the name `Any` is a token."""
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(text).readline):
        if token.type == tokenize.NAME and token.string == "Any":
            lines.add(token.start[0])
    return lines


def count(root: Path = ROOT) -> Counter[str]:
    """Lines using `Any`, per source file (paths relative to `root`)."""
    per_file: Counter[str] = Counter()
    for folder in SOURCES:
        for path in sorted((root / folder).rglob("*.py")):
            used = len(any_lines(path.read_text(encoding="utf-8")))
            if used:
                per_file[str(path.relative_to(root))] = used
    return per_file


def check(total: int, budget: int) -> str | None:
    """None when `total` is the budget, else what to do."""
    if total > budget:
        return (
            f"{total} lines of src/ use Any, over the budget of {budget}: type the new seam instead "
            "(a pydantic model, a Protocol, the library's type); scripts/any_budget.py lists the files"
        )
    if total < budget:
        return (
            f"{total} lines of src/ use Any, under the budget of {budget}: "
            f"lower BUDGET in scripts/any_budget.py to {total}"
        )
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 unless the count equals the budget")
    args = parser.parse_args(argv)
    per_file = count()
    total = sum(per_file.values())
    if args.check:
        problem = check(total, BUDGET)
        if problem:
            print(problem, file=sys.stderr)
            return 1
        return 0
    print(f"{total} lines of src/ use Any (budget {BUDGET})")
    for path, used in per_file.most_common():
        print(f"{used:5d}  {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
