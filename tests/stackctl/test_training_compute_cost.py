"""README "Choosing the training compute" shows what scripts/training_compute_cost.py computes from the
tfvars and the measured figures (numbers people see are true), and the script prices only with what
the Retail Prices API answered: offline it says "not priced", never a number."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from stackctl.audit.pricing import PriceBook

ROOT = Path(__file__).resolve().parents[2]


def script() -> ModuleType:
    """scripts/training_compute_cost.py as a module (registered first: its dataclass needs it)."""
    path = ROOT / "scripts" / "training_compute_cost.py"
    spec = importlib.util.spec_from_file_location("training_compute_cost", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def offline(odata_filter: str) -> dict[str, Any]:
    raise OSError("no network in this test")


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def test_the_readme_table_is_what_the_script_computes(tmp_path: Path) -> None:
    lines = script().rows(PriceBook(tmp_path / "prices.json", fetch=offline))
    computed: dict[tuple[str, str, str], str] = {}
    for line in lines[2:]:
        env, cluster, size, _, regions, _, _, time, node_hours, cost = _cells(line)
        computed[(env, f"{cluster} ({size})", regions)] = f"{time}, {node_hours} node-h"
        assert cost.startswith("not priced (prices.azure.com not reachable"), cost
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Choosing the training compute", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if re.match(r"\| (dev|prod) \|", line)]
    assert len(rows) == 4
    shown = {}
    for row in rows:
        env, cluster, _, *by_regions = _cells(row)
        for regions, cell in zip(("14", "140", "1,400"), by_regions, strict=True):
            shown[(env, cluster, regions)] = cell
    assert shown == computed, "README table out of date: paste `python scripts/training_compute_cost.py`"


def test_a_price_the_api_answered_is_multiplied_by_the_node_hours(tmp_path: Path) -> None:
    def answered(odata_filter: str) -> dict[str, Any]:
        return {
            "Items": [
                {
                    "productName": "Virtual Machines DSv2 Series",
                    "meterName": "DS3 v2",
                    "unitOfMeasure": "1 Hour",
                    "retailPrice": 2.0,
                    "currencyCode": "USD",
                }
            ]
        }

    lines = script().rows(PriceBook(tmp_path / "prices.json", fetch=answered))
    dev_cpu_140 = next(line for line in lines if line.startswith("| dev | cpu |") and "| 140 |" in line)
    # 226 CPU-s over 1 node x 2 workers (envs/dev/terraform.tfvars): 113 s on one node, at USD 2/hour
    assert "| 1 x 2 |" in dev_cpu_140
    assert f"USD {113 / 3600 * 2.0:.4f} (USD 2.000/h, Azure Retail Prices" in dev_cpu_140
