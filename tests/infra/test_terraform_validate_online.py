"""Terraform's own `validate`, with the real azurerm provider: needs the Terraform registry, so it
runs in the release pipeline (AZURE_TESTS=1), where the offline checks' verdict is confirmed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from stackctl.tools import Terraform


@pytest.mark.azure
@pytest.mark.slow
@pytest.mark.parametrize("env", ["dev", "prod"])
def test_terraform_validate_with_the_real_provider(root: Path, tmp_path: Path, env: str) -> None:
    for part in ("modules", "infra", f"envs/{env}"):
        shutil.copytree(root / part, tmp_path / part, ignore=shutil.ignore_patterns(".terraform"))
    workdir = tmp_path / "envs" / env
    terraform = Terraform()
    init = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], workdir)
    assert init.ok, init.stdout + init.stderr
    result = terraform.run(["validate", "-json", "-no-color"], workdir)
    verdict = json.loads(result.stdout)
    assert verdict["valid"], json.dumps(verdict["diagnostics"], indent=1)
