"""Every Data Factory pipeline runs one at a time (review-aml finding 5).

The weekly pipeline empties conditioned/weekly before its copy; a release's validation run and the
weekly trigger run the same pipeline, so two runs at once would delete each other's snapshot. Data
Factory's `properties.concurrency` ("the max number of concurrent runs for the pipeline", minimum 1:
https://learn.microsoft.com/rest/api/datafactory/pipelines/create-or-update) queues a run beyond
the limit; azurerm exposes it as `concurrency` on azurerm_data_factory_pipeline.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackctl.checks.hclmodel import read_dir

REPO = Path(__file__).resolve().parents[2]
MODULES = REPO / "modules"


def unlimited_pipelines(modules: Path) -> list[str]:
    """Addresses of the azurerm_data_factory_pipeline blocks under `modules` without concurrency 1."""
    found: list[str] = []
    for directory in sorted(p for p in modules.iterdir() if p.is_dir()):
        for block in read_dir(directory).blocks:
            if block.type == "azurerm_data_factory_pipeline" and block.body.get("concurrency") != 1:
                found.append(f"{directory.name}: {block.address}")
    return found


def test_every_factory_pipeline_runs_one_at_a_time() -> None:
    pipelines = [
        block.address
        for block in read_dir(MODULES / "data_factory").blocks
        if block.type == "azurerm_data_factory_pipeline"
    ]
    assert "azurerm_data_factory_pipeline.weekly" in pipelines
    assert unlimited_pipelines(MODULES) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("  concurrency = 1\n", ""),
        ("  concurrency = 1\n", "  concurrency = 2\n"),
        ("  concurrency = 1\n", "  concurrency = 50\n"),
    ],
)
def test_a_pipeline_that_may_overlap_is_caught(tmp_path: Path, old: str, new: str) -> None:
    copy = tmp_path / "modules" / "data_factory"
    shutil.copytree(MODULES / "data_factory", copy)
    tf = copy / "main.pipeline.tf"
    text = tf.read_text(encoding="utf-8")
    assert old in text
    tf.write_text(text.replace(old, new, 1), encoding="utf-8")
    assert unlimited_pipelines(tmp_path / "modules") == ["data_factory: azurerm_data_factory_pipeline.weekly"]
