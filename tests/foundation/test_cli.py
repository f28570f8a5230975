"""The stackctl entry point: unknown environments fail clearly; every command is listed."""

from __future__ import annotations

import pytest

from stackctl.cli import main
from stackctl.errors import ExitStatus


def test_unknown_env_is_rejected_naming_the_valid_ones(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "--env", "qa"]) == ExitStatus.SETUP_FAULT
    err = capsys.readouterr().err
    assert "unknown environment 'qa'" in err
    assert "local, dev, prod" in err


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for name in ("plan", "apply", "deploy", "destroy", "audit", "validate", "pipelines"):
        assert name in out
