"""The typed seams between the model package and stackctl: one pydantic model per result file.

The writers (the model's steps) and the readers (stackctl's local stack, reporting, dashboard, the
tests' fake CLI) share these models, so these tests pin what a broken file looks like to a reader.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from demand_forecast.contracts import ContractError, Decision, Metrics, Monitoring

from stackctl.errors import StackctlError
from stackctl.local.reporting import read_output

DECISION = {
    "model_name": "demand-forecast",
    "model_version": "abc",
    "registered_version": "3",
    "promoted": True,
    "reason": "no champion yet: the first model becomes champion",
    "candidate_mape": 0.41,
    "champion_mape": None,
    "champion_version": None,
    "margin": 0.01,
}


def test_a_result_file_round_trips_through_its_contract(tmp_path: Path) -> None:
    path = Decision.model_validate(DECISION).write(tmp_path / "decision.json")
    assert json.loads(path.read_text(encoding="utf-8")) == DECISION
    assert Decision.read(path).promoted is True


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"promotd": True}, "promotd"),  # a typo is an error, not an ignored key
        ({"registered_version": None}, "registered_version"),
        ({"margin": 1.5}, "margin"),
    ],
)
def test_a_malformed_file_names_the_file_and_the_field(
    tmp_path: Path, change: dict[str, object], field: str
) -> None:
    path = tmp_path / "decision.json"
    path.write_text(json.dumps({**DECISION, **change}), encoding="utf-8")
    with pytest.raises(ContractError, match=rf"{path}.*Decision contract.*{field}"):
        Decision.read(path)


def test_a_missing_field_is_named() -> None:
    broken = {key: value for key, value in DECISION.items() if key != "promoted"}
    with pytest.raises(ContractError, match=r"promoted: Field required"):
        Decision.parse(broken, "decision.json")


def test_nan_never_reaches_a_result_file() -> None:
    with pytest.raises(ContractError, match="candidate_mape"):
        Decision.parse({**DECISION, "candidate_mape": float("nan")}, "decision.json")


def test_stackctl_reports_a_broken_step_output_as_a_model_cli_bug(tmp_path: Path) -> None:
    path = tmp_path / "monitoring.json"
    path.write_text(json.dumps({"as_of": "2026-02-02"}), encoding="utf-8")
    with pytest.raises(StackctlError, match="did not write the file its contract promises") as caught:
        read_output(Monitoring, path)
    assert caught.value.where == str(path)
    assert "model_version: Field required" in caught.value.what
    with pytest.raises(StackctlError, match="is missing"):
        read_output(Metrics, tmp_path / "metrics.json")
