"""Contracts that span the Terraform stack and the glue, checked from both sides."""

from __future__ import annotations

from pathlib import Path

import hcl2

from stackctl.graph import PIPELINES

ROOT = Path(__file__).resolve().parents[2]


def test_data_factory_invokes_the_published_pipelines_with_the_inputs_they_declare() -> None:
    # The Web activity's body names each pipeline input; a rename in stackctl.graph that is not
    # mirrored here would make every weekly run fail at invoke time, long after deploy succeeded.
    with (ROOT / "modules" / "data_factory" / "main.pipeline.tf").open(encoding="utf-8") as handle:
        parsed = hcl2.load(handle)
    locals_ = {name: value for block in parsed.get("locals", []) for name, value in block.items()}
    assert "input_data" in locals_, "local.input_data (the invoke body's InputData) is missing"
    invoke = locals_["invoke_properties"]
    for step in ("training", "scoring"):
        # local.input_data, plus the literal inputs the factory's parameters fill (their names and
        # values are checked on the bodies Terraform evaluates: tests/stackctl/test_model_validation.py).
        body = invoke[step]["InputData"]
        assert body == "${local.input_data}" or body.startswith("${merge(local.input_data,"), (
            f"{step} does not send local.input_data"
        )
    sent = {name for name, value in locals_["input_data"].items() if "JobInputType" in value}
    for pipeline in PIPELINES:
        required = {
            name for name, spec in pipeline.inputs.items() if not spec.optional and spec.default is None
        }
        assert required <= sent, (
            f"{pipeline.name} needs {sorted(required)}; Data Factory sends {sorted(sent)}"
        )
        assert sent <= set(pipeline.inputs), f"Data Factory sends inputs {pipeline.name} does not declare"
