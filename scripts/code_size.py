"""Size of the Python sources: lines, the longest functions, and the function-length rule.

    .venv/bin/python scripts/code_size.py            # lines under src/ and the 10 longest functions
    .venv/bin/python scripts/code_size.py --check    # exit 1 listing functions over the limit

The rule (README, Development): no function in src/ runs longer than MAX_LINES lines unless its
docstring gives the reason, in a sentence that starts with "Long because". Functions that other
work in progress will split are listed in PENDING with the issue that splits them; remove an
entry when its function is short.
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAX_LINES = 60
REASON_MARK = "Long because"

# "path:function" -> why it is still long: only a function another branch in flight is rewriting
# (splitting it here too would make two conflicting splits). Remove the entry when it is short.
PENDING: dict[str, str] = {}


@dataclass(frozen=True)
class Function:
    path: str
    name: str
    line: int
    lines: int
    reason: bool

    @property
    def key(self) -> str:
        return f"{self.path}:{self.name}"


def functions(root: Path = ROOT) -> list[Function]:
    """Every function and method under src/, longest first."""
    found = []
    for path in sorted((root / "src").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                docstring = ast.get_docstring(node) or ""
                found.append(
                    Function(
                        path=path.relative_to(root).as_posix(),
                        name=node.name,
                        line=node.lineno,
                        lines=node.end_lineno - node.lineno + 1,
                        reason=REASON_MARK in docstring,
                    )
                )
    return sorted(found, key=lambda f: (-f.lines, f.path, f.line))


def source_lines(root: Path = ROOT) -> int:
    return sum(len(p.read_text(encoding="utf-8").splitlines()) for p in (root / "src").rglob("*.py"))


def violations(root: Path = ROOT, limit: int = MAX_LINES) -> list[Function]:
    """Functions over `limit` lines with neither a reason in their docstring nor a PENDING entry."""
    return [f for f in functions(root) if f.lines > limit and not f.reason and f.key not in PENDING]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a function breaks the rule")
    parser.add_argument("--top", type=int, default=10, help="how many of the longest functions to list")
    args = parser.parse_args(argv)
    if args.check:
        bad = violations()
        for f in bad:
            print(
                f"{f.path}:{f.line}: {f.name} is {f.lines} lines (limit {MAX_LINES}): split it into named "
                f"steps, or say why in its docstring ('{REASON_MARK} ...')"
            )
        return 1 if bad else 0
    print(f"{source_lines()} lines of Python under src/")
    for f in functions()[: args.top]:
        print(f"{f.lines:5d}  {f.path}:{f.line} {f.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
