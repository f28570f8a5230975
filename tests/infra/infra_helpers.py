"""Helpers shared by the tests/infra modules (a uniquely named module, so it cannot clash)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from stackctl.checks import CheckReport

Edit = Callable[[str, str, str], None]

# What a copy of the checkout holds: the Terraform tree and the provider schema its checks read.
COPIED = (
    "modules",
    "infra",
    "envs/shared",
    "envs/dev",
    "envs/prod",
    "envs/bootstrap",
    "tests/infra/azurerm_schema.json",
)


def copy_checkout(root: Path, copy: Path) -> Path:
    """Copy the Terraform tree (and the schema) of `root` to `copy`, a folder a test may break.

    Links stay links (the roots' shared files point into envs/shared and infra/), so an edit of
    envs/prod/main.tf changes the one file both roots read, as it would in the checkout."""
    for part in COPIED:
        source = root / part
        target = copy / part
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source, target, symlinks=True, ignore=shutil.ignore_patterns(".terraform", "__pycache__")
            )
        else:
            shutil.copy2(source, target)
    return copy


def editor(tree: Path) -> Edit:
    """edit(path, old, new): replace one exact piece of text in `tree`, failing if it is absent."""

    def _edit(path: str, old: str, new: str) -> None:
        file = tree / path
        text = file.read_text(encoding="utf-8")
        assert old in text, f"{old!r} not in {path}; the test's anchor text is out of date"
        file.write_text(text.replace(old, new, 1), encoding="utf-8")

    return _edit


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
