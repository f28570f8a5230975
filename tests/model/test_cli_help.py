"""Every step's `--help` describes the step and each of its arguments (the step contract's texts)."""

from __future__ import annotations

import pytest
from demand_forecast.cli import build_parser
from demand_forecast.steps import STEPS


def step_help(step: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args([step, "--help"])
    assert exited.value.code == 0
    return " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("step", sorted(STEPS))
def test_step_help_describes_the_step_and_every_argument(
    step: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = step_help(step, capsys)
    spec = STEPS[step]
    assert " ".join(spec.help.split()) in text
    for option in spec.options:
        assert option.help.strip(), f"{step} {option.flag} has no description"
        assert option.flag in text
        assert " ".join(option.help.split()) in text, (
            f"{step} {option.flag}: its description is not in --help"
        )


def test_the_data_model_and_as_of_arguments_say_what_they_take(capsys: pytest.CaptureFixture[str]) -> None:
    # The issue 15 finding: `score --help` listed --data, --model and --as-of without a word on them.
    text = step_help("score", capsys)
    assert "--model MODEL model folder or MLflow URI" in text
    assert "--data DATA raw or conditioned data folder" in text
    assert "--as-of AS_OF score as of this week (YYYY-MM-DD)" in text
