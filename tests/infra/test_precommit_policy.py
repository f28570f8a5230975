"""The pre-commit configuration runs what `make lint` and `make fmt`'s Terraform half run."""

from __future__ import annotations

import re
from pathlib import Path

import yaml


def test_precommit_hooks_match_make_lint(root: Path) -> None:
    config = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}
    lint = re.search(r"^lint:.*\n\t(.+)$", (root / "Makefile").read_text(), re.MULTILINE)
    assert lint is not None, "the Makefile has no lint target"
    # `make lint`: ruff check PATHS && ruff format --check PATHS
    paths = re.search(r"ruff check ([\w ./-]+?) &&", lint.group(1))
    assert paths is not None
    expected_files = "^(" + "|".join(paths.group(1).split()) + ")/"
    assert hooks["ruff-check"]["entry"] == ".venv/bin/ruff check"
    assert hooks["ruff-format"]["entry"] == ".venv/bin/ruff format --check"
    for hook in ("ruff-check", "ruff-format"):
        assert hooks[hook]["files"] == expected_files, hook
    # terraform fmt and the module README tables, exactly what `make validate`'s fmt/docs checks read.
    assert hooks["terraform-fmt"]["entry"] == ".venv/bin/python scripts/terraform_fmt.py"
    assert re.match(hooks["terraform-fmt"]["files"], "modules/sql/main.tf")
    assert re.match(hooks["terraform-fmt"]["files"], "envs/prod/terraform.tfvars")
