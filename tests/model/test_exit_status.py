"""The model CLI's exit statuses: one table with stackctl (demand_forecast.errors), one cause per status.

Was: bad data and setup faults (a typo in the config, no model, an outdated reporting schema, a bad
argument) both exited 2, so the local stack quarantined good raw data and told the user to fix it.
Each status gets instances of its own here; the local executor's side:
tests/stackctl/test_step_exit_status.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from demand_forecast import cli
from demand_forecast.cli import main
from demand_forecast.errors import ExitStatus

import stackctl.errors


def _validate(data: Path, out: Path, *extra: str) -> int:
    return main([*extra, "validate", "--data", str(data), "--out", str(out)])


def test_one_table_for_both_entry_points_with_one_status_per_cause() -> None:
    assert stackctl.errors.ExitStatus is ExitStatus
    statuses = [status.value for status in ExitStatus]
    assert len(statuses) == len(set(statuses))
    # 1 is reserved for blocking findings; a crash must never read as one (Python's own default).
    assert ExitStatus.INTERNAL_ERROR not in (ExitStatus.BLOCKING_FINDINGS, ExitStatus.DATA_REFUSED)


def test_valid_data_exits_ok(raw_copy: Path, tmp_path: Path) -> None:
    assert _validate(raw_copy, tmp_path / "out") == ExitStatus.OK


@pytest.mark.parametrize(
    "breakage",
    [
        "missing_required_file",
        "required_file_without_rows",
        "store_row_without_region",
    ],
)
def test_data_that_breaks_the_contract_is_refused_with_status_2(
    breakage: str, raw_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stores = raw_copy / "stores.csv"
    if breakage == "missing_required_file":
        stores.unlink()
    elif breakage == "required_file_without_rows":
        (raw_copy / "shipments.csv").write_text(
            (raw_copy / "shipments.csv").read_text(encoding="utf-8").splitlines()[0] + "\n", encoding="utf-8"
        )
    else:
        lines = stores.read_text(encoding="utf-8").splitlines()
        header = lines[0].split(",")
        row = lines[1].split(",")
        row[header.index("region")] = ""
        stores.write_text("\n".join([lines[0], ",".join(row), *lines[2:]]) + "\n", encoding="utf-8")
    assert _validate(raw_copy, tmp_path / "out") == ExitStatus.DATA_REFUSED
    assert "data refused" in capsys.readouterr().err


def test_a_typo_in_the_config_is_a_setup_fault_not_bad_data(raw_copy: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("nn:\n  epohcs: 3\n", encoding="utf-8")
    assert _validate(raw_copy, tmp_path / "out", "--config", str(config)) == ExitStatus.SETUP_FAULT


def test_a_missing_data_folder_is_a_setup_fault(tmp_path: Path) -> None:
    assert _validate(tmp_path / "no-such-folder", tmp_path / "out") == ExitStatus.SETUP_FAULT


def test_no_model_to_score_with_is_a_setup_fault(raw_copy: Path, tmp_path: Path) -> None:
    code = main(
        ["score", "--model", str(tmp_path / "no-model"), "--data", str(raw_copy), "--out", str(tmp_path)]
    )
    assert code == ExitStatus.SETUP_FAULT


def test_publish_to_a_database_without_the_reporting_schema_is_a_setup_fault(tmp_path: Path) -> None:
    folder = tmp_path / "step"
    folder.mkdir()
    code = main(
        [
            "publish",
            "--pipeline",
            "scoring",
            "--run-id",
            "scoring-1",
            "--reporting-database",
            f"sqlite:///{tmp_path / 'empty.db'}",
            "--out",
            str(tmp_path / "published"),
        ]
    )
    assert code == ExitStatus.SETUP_FAULT


def test_a_bad_command_line_is_a_setup_fault(tmp_path: Path) -> None:
    assert main(["validate", "--no-such-option"]) == ExitStatus.SETUP_FAULT
    assert main(["no-such-step"]) == ExitStatus.SETUP_FAULT


@pytest.mark.parametrize("error", [RuntimeError("lost its disk"), KeyError("segment"), ZeroDivisionError()])
def test_anything_unexpected_is_an_internal_error_never_blamed_on_the_data(
    error: Exception, raw_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_: object) -> None:
        raise error

    monkeypatch.setitem(cli._RUNNERS, "validate", crash)
    assert _validate(raw_copy, tmp_path / "out") == ExitStatus.INTERNAL_ERROR
