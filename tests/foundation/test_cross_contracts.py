"""Contracts that span the Terraform stack and the glue, checked from both sides."""

from __future__ import annotations

import re
from pathlib import Path

from stackctl.aml.graph import PIPELINES

ROOT = Path(__file__).resolve().parents[2]


def test_data_factory_invokes_the_published_pipelines_with_the_inputs_they_declare() -> None:
    # The Web activity's body names each pipeline input; a rename in stackctl.aml.graph that is not
    # mirrored here would make every weekly run fail at invoke time, long after deploy succeeded.
    pipeline_tf = (ROOT / "modules" / "data_factory" / "main.pipeline.tf").read_text()
    body = re.search(r"InputData\s*=\s*\{(?P<inputs>.*)\}\s*\}\s*\}", pipeline_tf)
    assert body, "the invoke body with InputData is missing from modules/data_factory/main.pipeline.tf"
    sent = set(re.findall(r"(\w+)\s*=\s*\{\s*JobInputType", body.group("inputs")))
    for pipeline in PIPELINES:
        required = {
            name for name, spec in pipeline.inputs.items() if not spec.optional and spec.default is None
        }
        assert required <= sent, (
            f"{pipeline.name} needs {sorted(required)}; Data Factory sends {sorted(sent)}"
        )
        assert sent <= set(pipeline.inputs), f"Data Factory sends inputs {pipeline.name} does not declare"
