"""`stackctl validate` agrees with Terraform, by construction, on a corpus of small files covering
every Terraform 1.x construct the issue lists (tests/infra/corpus/): moved, removed, import, check
with a scoped data source, ephemeral, dynamic with an iterator, optional() defaults, heredocs,
template directives with `#` and quotes, provider-defined functions, for-expressions and splat.

Each file uses provider-free stand-ins (terraform_data, terraform_remote_state, locals, outputs),
so the real Terraform judges it offline: `init`, `validate`, then `plan` (which evaluates moved,
removed and check blocks). The file name says what Terraform decides (valid_*/invalid_*), and
the test checks that first, so the corpus cannot drift from Terraform. A construct provider-free
Terraform cannot judge (a valid `dynamic` block needs a provider's nested block; an `ephemeral`
resource needs a provider) is covered by the validate cases instead (test_validate_cases.py),
where the offline checks say `not checked`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackctl.checks.references import check_references
from stackctl.checks.schema import check_directory_schema, default_schema_path
from stackctl.cli import main
from stackctl.paths import repo_root
from stackctl.tools import Terraform

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).resolve().parent / "corpus"
FILES = sorted(CORPUS.glob("*.tf"))
CONSTRUCTS = {
    "moved": "moved",
    "removed": "removed",
    "import": "import",
    "check_scoped_data": "check",
    "ephemeral": "ephemeral",
    "dynamic": "dynamic",
    "optional": "optional(",
    "heredoc": "<<-EOT",
    "template": "%{",
    "provider_function": "provider::",
    "for_expressions": "[for ",
    "splat": "[*]",
}


def _single(path: Path, parent: Path) -> Path:
    directory = parent / path.stem
    directory.mkdir(parents=True)
    shutil.copy(path, directory / "main.tf")
    return directory


def terraform_judges_valid(directory: Path) -> tuple[bool, str]:
    terraform = Terraform()
    steps = (
        ["init", "-backend=false", "-input=false", "-no-color"],
        ["validate", "-no-color"],
        ["plan", "-input=false", "-lock=false", "-refresh=false", "-no-color"],
    )
    for args in steps:
        result = terraform.run(args, directory)
        if not result.ok:
            return False, f"terraform {args[0]}: {result.stderr or result.stdout}"
    return True, "valid"


def test_the_corpus_covers_every_construct_both_ways() -> None:
    for name, marker in CONSTRUCTS.items():
        holders = [p.name for p in FILES if marker in p.read_text(encoding="utf-8")]
        assert holders, f"no corpus file uses {name} ({marker!r})"
    assert sum(p.name.startswith("valid_") for p in FILES) >= 8
    assert sum(p.name.startswith("invalid_") for p in FILES) >= 8


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_validate_agrees_with_terraform(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    valid, why = terraform_judges_valid(_single(path, tmp_path / "terraform"))
    assert valid == path.name.startswith("valid_"), f"Terraform says {path.name} is {why}: rename it"
    directory = _single(path, tmp_path / "stackctl")
    code = main(["validate", "--dir", str(directory)])
    out = capsys.readouterr().out
    assert code == (0 if valid else 1), f"Terraform: {why}\nstackctl validate:\n{out}"


@pytest.mark.parametrize("path", [p for p in FILES if p.name.startswith("valid_")], ids=lambda p: p.stem)
def test_the_offline_stand_ins_raise_no_false_alarm(path: Path, tmp_path: Path) -> None:
    """Where Terraform cannot run (a root that needs azurerm), the reference and schema checks
    stand in for it: on what Terraform accepts they must find nothing."""
    directory = _single(path, tmp_path)
    assert check_references(tmp_path, [directory]) == []
    assert check_directory_schema(directory, tmp_path, default_schema_path(repo_root())).findings == []
