"""The import contracts of pyproject.toml ([tool.importlinter]) hold, and fail on a broken copy."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH comes before the editable installs, so the copy's packages are the ones analysed.
    env = {**os.environ, "PYTHONPATH": f"{root / 'src'}{os.pathsep}{root / 'src' / 'model'}"}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", str(root / "pyproject.toml")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def broken_copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    shutil.copytree(ROOT / "src", root / "src", ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    return root


def test_the_import_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_registry_that_imports_the_pipeline_breaks_the_cycle_and_edge_contracts(tmp_path: Path) -> None:
    root = broken_copy(tmp_path)
    registry = root / "src" / "model" / "demand_forecast" / "registry.py"
    registry.write_text(
        registry.read_text(encoding="utf-8") + "\n\ndef _late() -> None:\n"
        "    from demand_forecast.pipeline import run_train  # noqa: F401\n",
        encoding="utf-8",
    )
    result = lint_imports(root)
    assert result.returncode == 1
    assert "no import cycles" in result.stdout
    assert "the registry is a pure MLflow edge" in result.stdout
    assert "demand_forecast.registry -> demand_forecast.pipeline" in result.stdout


def test_a_stack_module_that_calls_a_command_breaks_the_layers(tmp_path: Path) -> None:
    root = broken_copy(tmp_path)
    local = root / "src" / "stackctl" / "local" / "layout.py"
    local.write_text(
        local.read_text(encoding="utf-8") + "\n\nfrom stackctl.commands import deploy  # noqa: E402,F401\n",
        encoding="utf-8",
    )
    result = lint_imports(root)
    assert result.returncode == 1
    assert "stackctl layers" in result.stdout
    assert "BROKEN" in result.stdout


def import_cycles(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "import_cycles.py"), "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_import_cycle_report_finds_none_here_and_names_the_circle_of_a_broken_copy(
    tmp_path: Path,
) -> None:
    here = import_cycles(ROOT)
    assert here.returncode == 0, here.stdout + here.stderr
    assert here.stdout.startswith("0 import cycle group(s)")
    root = broken_copy(tmp_path)
    registry = root / "src" / "model" / "demand_forecast" / "registry.py"
    registry.write_text(
        registry.read_text(encoding="utf-8") + "\n\ndef _late() -> None:\n"
        "    from demand_forecast.pipeline import run_train  # noqa: F401\n",
        encoding="utf-8",
    )
    broken = import_cycles(root)
    assert broken.returncode == 1
    assert "demand_forecast.pipeline" in broken.stdout
    assert "demand_forecast.registry" in broken.stdout
    assert "1 import cycle group(s)" in broken.stdout
