"""The pre-commit configuration runs what `make lint` and `make fmt`'s Terraform half check, by
calling the Makefile (STYLE.md: CI and hooks call the Makefile and nothing else)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import yaml


def _hooks(root: Path) -> dict[str, dict[str, object]]:
    config = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())
    return {hook["id"]: hook for repo in config["repos"] for hook in repo["hooks"]}


def test_the_lint_hook_is_make_lint_on_the_paths_make_lint_reads(root: Path) -> None:
    hook = _hooks(root)["make-lint"]
    assert hook["entry"] == "make lint"
    assert hook["pass_filenames"] is False
    lint = re.search(r"^lint:.*\n\t(.+)$", (root / "Makefile").read_text(), re.MULTILINE)
    assert lint is not None, "the Makefile has no lint target"
    paths = re.search(r"ruff check ([\w ./-]+?) &&", lint.group(1))
    assert paths is not None
    assert hook["files"] == "^(" + "|".join(paths.group(1).split()) + ")/"


def test_the_terraform_hook_is_validates_fmt_and_docs_checks(root: Path) -> None:
    hook = _hooks(root)["terraform-fmt"]
    assert hook["pass_filenames"] is False
    command = shlex.split(str(hook["entry"]))
    assert command[:2] == ["make", "validate"]
    (args,) = [word.removeprefix("ARGS=") for word in command[2:] if word.startswith("ARGS=")]
    checks = shlex.split(args)
    # fmt: `terraform fmt -check -recursive`; docs: the README tables and the generated interfaces.
    assert {checks[i + 1] for i, word in enumerate(checks) if word == "--check"} == {"fmt", "docs"}
    pattern = str(hook["files"])
    for changed in (
        "modules/sql/main.tf",
        "envs/prod/terraform.tfvars",
        "modules/sql/README.md",
        "modules/interfaces/main.interfaces.tf.j2",
        "modules/naming/tests/naming.tftest.hcl",
    ):
        assert re.match(pattern, changed), changed
