"""Helpers shared by the tests/infra modules (a uniquely named module, so it cannot clash)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from stackctl.checks import CheckReport

Edit = Callable[[str, str, str], None]


def messages(report: CheckReport) -> str:
    return "\n".join(f.render() for f in report.findings)


def terraform_console(work: Path, files: dict[str, str], expression: str) -> tuple[bool, str]:
    """Write `files` (name -> text, with a `stack.tfvars`) into `work`, then evaluate `expression`
    with `terraform console` offline (provider-free config); (ok, output on one line)."""
    work.mkdir(parents=True)
    for name, text in files.items():
        (work / name).write_text(text, encoding="utf-8")
    terraform = shutil.which("terraform")
    assert terraform, "terraform >= 1.9 must be on PATH (make setup)"
    init = subprocess.run(
        [terraform, "init", "-backend=false", "-input=false", "-no-color"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    result = subprocess.run(
        [terraform, "console", "-no-color", "-var-file=stack.tfvars"],
        cwd=work,
        input=expression + "\n",
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    output = " ".join((result.stdout + result.stderr).split())
    # console reports an invalid variable as an error but may still exit 0 (it goes on evaluating).
    return result.returncode == 0 and "Error:" not in output, output
