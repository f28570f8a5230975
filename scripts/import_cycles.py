"""Import cycles among the modules of src/ (stackctl and demand_forecast), from grimp's import graph.

    .venv/bin/python scripts/import_cycles.py                  # this tree: each cycle; exit 1 if any
    .venv/bin/python scripts/import_cycles.py --root ../main   # another checkout (e.g. main, before)

Every import counts, including the ones inside functions: a lazy import still ties two modules
together. A cycle group is a set of modules each of which imports every other one, directly or
through the others (a strongly connected component of grimp's graph: the modules both upstream and
downstream of a module). grimp is import-linter's graph library; the contracts in pyproject.toml
([tool.importlinter], `acyclic_siblings`) keep the cycles between sibling packages at zero in
`make lint`; this script shows them module by module.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("stackctl", "demand_forecast")
# Where each package's source lives inside a checkout (the src layout of both distributions).
SOURCE_DIRS = ("src", "src/model")


def cycles(root: Path = ROOT) -> list[list[str]]:
    """Groups of more than one module that import each other in a circle, sorted."""
    sys.path[:0] = [str(root / folder) for folder in SOURCE_DIRS]
    for name in [m for m in sys.modules if m.split(".")[0] in PACKAGES]:
        del sys.modules[name]  # grimp must find the packages of `root`, not ones already imported
    graph = grimp.build_graph(*PACKAGES, include_external_packages=False, cache_dir=None)
    grouped: set[str] = set()
    groups: list[list[str]] = []
    for module in sorted(graph.modules):
        if module in grouped:
            continue
        circle = graph.find_downstream_modules(module) & graph.find_upstream_modules(module)
        if circle:
            group = sorted({module, *circle})
            grouped.update(group)
            groups.append(group)
    return sorted(groups)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--root", type=Path, default=ROOT, help="checkout whose src/ to read (default: this one)"
    )
    args = parser.parse_args(argv)
    found = cycles(args.root.resolve())
    for group in found:
        print(f"cycle group ({len(group)} modules): " + " <-> ".join(group))
    print(f"{len(found)} import cycle group(s) among {', '.join(PACKAGES)} in {args.root}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
