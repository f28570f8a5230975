"""The local executor acts on the step's exit status (one table: demand_forecast.errors): only a step
that refused its data gets the raw data copied to quarantine and the user told to fix the data; a
setup fault or a crash says so, quarantines nothing, and stackctl exits with the same status.

Was: every non-zero status but 2 read as "failed", and 2 also meant a setup fault, so good raw data
went to quarantine with "correct the data named above" when the config or the schema was at fault.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from stackctl.cli import main
from stackctl.errors import ExitStatus
from stackctl.local.apply import apply_local
from stackctl.local.executor import StepFailed, step_exit_status
from stackctl.local.layout import LocalLayout


def quiet() -> Console:
    return Console(quiet=True)


def quarantined(root: Path) -> list[Path]:
    return [p for p in LocalLayout(root).quarantine.rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    ("returncode", "status"),
    [
        (0, ExitStatus.INTERNAL_ERROR),  # never raised for 0; outside the failure rows all the same
        (1, ExitStatus.INTERNAL_ERROR),  # a step has no findings: 1 is Python's crash default there
        (2, ExitStatus.DATA_REFUSED),
        (3, ExitStatus.SETUP_FAULT),
        (70, ExitStatus.INTERNAL_ERROR),
        (137, ExitStatus.INTERNAL_ERROR),  # killed (out of memory)
        (-9, ExitStatus.INTERNAL_ERROR),  # subprocess's reading of a signal
    ],
)
def test_each_return_code_reads_as_one_status(returncode: int, status: ExitStatus) -> None:
    assert step_exit_status(returncode) is status


@pytest.mark.parametrize("step", ["validate", "train", "evaluate"])
def test_a_setup_fault_in_a_step_quarantines_nothing_and_exits_3(
    step: str, fake_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FAKE_FAIL_STEP", step)
    monkeypatch.setenv("FAKE_FAIL_STATUS", str(int(ExitStatus.SETUP_FAULT)))
    assert main(["apply"]) == ExitStatus.SETUP_FAULT
    err = capsys.readouterr().err
    assert f"step `{step}` stopped on an environment or setup fault" in err
    assert "correct the data" not in err
    assert quarantined(fake_root) == []


@pytest.mark.parametrize("returncode", [1, 70, 137])
def test_a_crashed_step_is_an_internal_error_and_quarantines_nothing(
    returncode: int, fake_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_FAIL_STEP", "validate")
    monkeypatch.setenv("FAKE_FAIL_STATUS", str(returncode))
    with pytest.raises(StepFailed) as caught:
        apply_local(fake_root, quiet())
    assert caught.value.status is ExitStatus.INTERNAL_ERROR
    assert caught.value.exit_code == ExitStatus.INTERNAL_ERROR
    assert not caught.value.data_refused
    assert "a bug" in caught.value.what
    assert quarantined(fake_root) == []


def test_refused_data_alone_is_quarantined_and_exits_2(
    fake_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    apply_local(fake_root, quiet())
    shipments = LocalLayout(fake_root).lake_fs("raw") / "shipments.csv"
    shipments.write_text("week_start,store_id,BROKEN\n2026-01-05,S1,x\n", encoding="utf-8")
    assert main(["apply"]) == ExitStatus.DATA_REFUSED
    assert "correct the data named above" in capsys.readouterr().err
    assert [p.name for p in quarantined(fake_root)].count("shipments.csv") == 1
