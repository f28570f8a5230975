"""The one pipeline graph both executors read: its checks and its two renderings of a command line."""

from __future__ import annotations

import pytest

from stackctl.graph import (
    REGISTER,
    SCORE,
    SCORING,
    TRAIN,
    TRAINING,
    VALIDATE,
    Node,
    Pipeline,
    aml_command,
    from_pipeline,
    from_step,
    render_args,
)


def test_the_pipelines_are_the_issue_s_step_sequences() -> None:
    assert [n.step.name for n in TRAINING.nodes] == [
        "validate",
        "train",
        "evaluate",
        "register",
        "publish_training",
    ]
    assert [n.step.name for n in SCORING.nodes] == ["validate", "score", "monitor", "publish_scoring"]
    assert TRAIN.compute == "gpu"
    assert {n.step.compute for n in SCORING.nodes} == {"cpu"}


def test_a_step_bound_to_a_later_step_s_output_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"train\.model is not an earlier output"):
        Pipeline(
            name="broken",
            description="register before train",
            inputs={"raw_data": VALIDATE.inputs["raw_data"]},
            nodes=(
                Node(VALIDATE, {"raw_data": from_pipeline("raw_data")}),
                Node(
                    REGISTER,
                    {
                        "model": from_step("train", "model"),
                        "evaluation": from_step("validate", "conditioned"),
                    },
                ),
                Node(TRAIN, {"data": from_step("validate", "conditioned")}),
            ),
            outputs={},
        )


def test_an_unbound_required_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="required input 'data' is unbound"):
        Pipeline(
            name="broken",
            description="train without data",
            inputs={},
            nodes=(Node(TRAIN, {}),),
            outputs={},
        )


def test_local_rendering_drops_unset_optional_flags_and_appends_suffixes() -> None:
    values = {
        "model": "m",
        "evaluation": "/runs/eval",
        "decision": "/runs/decision",
        "registered_model": "demand-forecast",
        "margin": None,
    }
    assert render_args(REGISTER, values) == [
        "register",
        "--model",
        "m",
        "--metrics",
        "/runs/eval/metrics.json",
        "--out",
        "/runs/decision",
        "--name",
        "demand-forecast",
    ]
    values["margin"] = "0.05"
    assert render_args(REGISTER, values)[-2:] == ["--margin", "0.05"]


def test_aml_rendering_uses_input_output_placeholders_and_optional_groups() -> None:
    command = aml_command(SCORE)
    assert command.startswith("python -m demand_forecast score --model ${{inputs.model}}")
    assert "--out ${{outputs.scored}}" in command
    assert "$[[--as-of ${{inputs.as_of}}]]" in command
    assert "$[[--horizon ${{inputs.horizon}}]]" in command
