"""Import cycles among the modules of src/ (stackctl and demand_forecast), with grimp's import graph.

    .venv/bin/python scripts/import_cycles.py     # prints each cycle; exit 1 when there is one

Every import counts, including the ones inside functions: a lazy import still ties two modules
together. The contracts in pyproject.toml ([tool.importlinter]) keep it at zero in `make lint`.
"""

from __future__ import annotations

import sys

import grimp

PACKAGES = ("stackctl", "demand_forecast")


def cycles() -> list[list[str]]:
    """Strongly connected groups of more than one module (each is one or more import cycles)."""
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False)
    modules = sorted(graph.modules)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's strongly connected components
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(10_000)
    for module in modules:
        if module not in index:
            visit(module)
    return sorted(groups)


def main() -> int:
    found = cycles()
    for group in found:
        print("cycle: " + " <-> ".join(group))
    print(f"{len(found)} import cycle group(s) among {', '.join(PACKAGES)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
