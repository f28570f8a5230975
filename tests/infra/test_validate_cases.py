"""The Terraform constructs of issue 14 that broke other HCL tools (tests/infra/validate_cases/,
from ../shared/cases/validate/: each file dropped into a copy of the tree at the path it sits
under), each with the outcome Terraform gives, or an explicit `not checked` where the offline
checks cannot judge it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from infra_helpers import messages

from stackctl.checks.checkov import ScanTarget, check_checkov
from stackctl.checks.config import check_config
from stackctl.checks.parity import check_parity
from stackctl.checks.schema import check_provider_schema

pytestmark = pytest.mark.slow

CASES = Path(__file__).resolve().parent / "validate_cases"


def drop(case: str, tree: Path) -> list[str]:
    """Copy a case's files into the tree copy; the paths relative to the tree. A file a case puts
    into both cloud roots goes where the roots' shared code lives: envs/shared/, linked from each
    (the parity check refuses two copies)."""
    (source,) = CASES.glob(f"{case}_*")
    placed = []
    for file in sorted(p for p in source.rglob("*.tf")):
        relative = file.relative_to(source)
        target = tree / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        parts = relative.parts
        if parts[:2] in (("envs", "dev"), ("envs", "prod")) and len(parts) == 3:
            shared = tree / "envs" / "shared" / parts[2]
            shutil.copy(file, shared)
            target.symlink_to(Path("..") / "shared" / parts[2])
        else:
            shutil.copy(file, target)
        placed.append(str(relative))
    return placed


@pytest.mark.parametrize("case", ["b01", "b03", "b04"])
def test_addresses_and_prose_are_not_references(case: str, tree: Path) -> None:
    """b01: `moved` between modules; b03: `import` to a nested module address from a root;
    b04: a heredoc description that mentions var.x in prose. All valid Terraform."""
    drop(case, tree)
    report = check_config(tree, provider_version="5.10.0")
    assert report.ok, messages(report)
    assert check_parity(tree).ok


def test_an_ephemeral_block_is_reported_as_not_checked_by_the_schema(tree: Path) -> None:
    """b07b: the extracted schema has no ephemeral resources, so the typo cannot be judged
    offline; the check says so, naming the block, instead of passing silently."""
    (placed,) = drop("b07b", tree)
    report = check_provider_schema(tree)
    notes = [n for n in report.notes if "ephemeral.azurerm_key_vault_secret.break_glass" in n]
    assert len(notes) == 1, report.notes
    assert notes[0].startswith(f"{placed}:2: ephemeral.azurerm_key_vault_secret.break_glass: not checked")
    assert check_config(tree, provider_version="5.10.0").ok


def test_attribute_syntax_for_an_empty_block_list_is_accepted_with_a_note(tree: Path) -> None:
    """b12: `security_rule = []`, azurerm's attributes-as-blocks idiom for "no inline rules"."""
    drop("b12", tree)
    report = check_provider_schema(tree)
    assert report.ok, messages(report)
    assert any("security_rule = [...] uses attribute syntax for a block" in n for n in report.notes)


def test_a_block_written_as_an_attribute_with_content_is_still_refused(tree: Path) -> None:
    """The kind, tried wider: a non-list value for a block stays an error."""
    drop("b12", tree)
    nsg = tree / "infra" / "qa_nsg.tf"
    nsg.write_text(nsg.read_text().replace("security_rule       = []", 'timeouts            = "30m"'))
    assert any("timeouts is a block" in f.message for f in check_provider_schema(tree).findings)


def test_a_template_directive_is_a_checkov_parser_limitation_not_an_error(tree: Path) -> None:
    """b13: Terraform accepts `%{ if var.environment != "prod" }`; checkov's HCL parser does not.
    The scan of the rest goes on, and the unchecked output is named."""
    (placed,) = drop("b13", tree)
    target = ScanTarget("dev", tree / "envs" / "dev", tree / "envs" / "dev" / "terraform.tfvars")
    report = check_checkov(tree, targets=[target])
    assert not [f for f in report.findings if "could not parse" in f.message], messages(report)
    (note,) = [n for n in report.notes if placed in n]
    assert "not checked by checkov: its HCL parser cannot read this file, which Terraform reads" in note
    assert note.endswith("left unchecked: output.dashboard_title")
    assert report.figures["dev"]["passed"] > 50  # the rest of the stack was scanned
    assert check_config(tree, provider_version="5.10.0").ok
    assert check_provider_schema(tree).ok


def test_a_real_syntax_error_is_still_a_finding(tree: Path) -> None:
    (tree / "infra" / "qa_broken.tf").write_text('output "x" {\n  value = "a%{if true} b"\n}\n')
    report = check_config(tree, provider_version="5.10.0")
    assert any("qa_broken.tf" in f.location for f in report.findings), messages(report)
