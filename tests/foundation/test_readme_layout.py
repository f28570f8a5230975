"""The README's layout of src/stackctl and demand_forecast names every module there, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NAME = re.compile(r"[A-Za-z_]+(?:\.py|\.yaml|/)")


def layout_block(title: str) -> str:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    start = text.index(title)
    opening = text.index("```\n", start) + 4
    return text[opening : text.index("```", opening)]


def named(block: str) -> set[str]:
    """The names in the first column of each line (a column of names, then the description)."""
    names: set[str] = set()
    for line in block.splitlines():
        first_column = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0] if line[:1] != " " else ""
        names.update(NAME.findall(first_column))
    return names


def present(package: Path) -> set[str]:
    modules = {p.name for p in package.glob("*.py") if p.name not in ("__init__.py", "__main__.py")}
    packages = {f"{p.name}/" for p in package.iterdir() if (p / "__init__.py").is_file()}
    return modules | packages


def test_the_stackctl_layout_names_every_module_and_package() -> None:
    assert named(layout_block("`src/stackctl`, top to bottom")) == present(ROOT / "src" / "stackctl")


def test_the_demand_forecast_layout_names_every_module() -> None:
    package = ROOT / "src" / "model" / "demand_forecast"
    listed = named(layout_block("`src/model/demand_forecast`:"))
    assert listed - {"defaults.yaml"} == present(package)
    assert (package / "defaults.yaml").is_file()
