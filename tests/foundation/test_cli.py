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


def test_a_command_imports_only_its_own_module() -> None:
    """`stackctl validate` must not pay for doctor's pandas or the audit's imports (1.2 CPU-s when
    every command module was imported to build the parser); a fresh interpreter shows what loads."""
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from stackctl.cli import main\n"
        "try:\n"
        "    main(['validate', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('stackctl.commands.') or m == 'pandas')\n"
        "print('LOADED', ','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "usage: stackctl validate" in result.stdout
    loaded = result.stdout.split("LOADED ")[-1].split()
    assert loaded == ["stackctl.commands.validate"]


@pytest.mark.parametrize("command", ["plan", "audit", "doctor", "pipelines"])
def test_each_command_still_gets_its_own_arguments(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert f"usage: stackctl {command}" in capsys.readouterr().out
