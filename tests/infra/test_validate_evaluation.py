"""What only Terraform's evaluation knows (issue 26 item 13, cases v04 and v07a, and the heredoc
`#` line): `terraform validate` on a provider-free stand-in of each directory decides, at the real
file and line. Each kind has the handed case and instances of our own."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackctl.checks.evaluation import check_evaluation
from stackctl.checks.findings import Finding

pytestmark = pytest.mark.slow

CASES = Path(__file__).resolve().parent / "validate_cases"


def drop(case: str, tree: Path) -> None:
    """Copy a handed case's files into the tree copy at the paths they sit under."""
    (source,) = CASES.glob(f"{case}_*")
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        target = tree / file.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(file, target)


def judge(tree: Path, *directories: str) -> list[Finding]:
    return check_evaluation(tree, [tree / d for d in directories])


def test_v04_templatefile_of_a_missing_file_is_an_error(tree: Path) -> None:
    drop("v04", tree)
    (finding,) = judge(tree, "infra")
    assert finding.location == "infra/qa_runbook.tf:3"
    assert "no file exists" in finding.message
    assert "oncall-runbook.md.tftpl" in finding.message


def test_v07a_a_conditional_terraform_unifies_passes(tree: Path) -> None:
    drop("v07a", tree)
    assert judge(tree, "infra") == []


@pytest.mark.parametrize(
    ("path", "text", "line", "expected"),
    [
        # a resource argument reading a file that was never committed
        (
            "modules/data_lake/qa_file.tf",
            'resource "azurerm_storage_blob" "readme" {\n  name = "README"\n'
            '  source_content = file("${path.module}/files/README.md")\n}\n',
            3,
            "no file exists",
        ),
        # a conditional Terraform cannot unify, in a local
        (
            "infra/qa_cond.tf",
            'locals {\n  qa = var.resource_locks_enabled ? { a = "x", b = [1] } : {}\n}\n',
            2,
            "Inconsistent conditional result types",
        ),
        # a misspelt variable on a heredoc line that starts with `#`, in a resource argument
        (
            "modules/monitoring/qa_heredoc.tf",
            'resource "azurerm_log_analytics_saved_search" "qa" {\n  name  = "qa"\n'
            "  query = <<-QUERY\n    # ${var.enviroment}\n    Heartbeat\n  QUERY\n}\n",
            4,
            "undeclared input variable",
        ),
        # the same in an output's heredoc, inside a template directive
        (
            "infra/qa_out.tf",
            'output "qa_banner" {\n  value = <<-EOT\n'
            '    # %{if var.enviroment == "prod"}PROD%{endif}\n  EOT\n}\n',
            3,
            "undeclared input variable",
        ),
    ],
)
def test_what_only_terraform_evaluation_knows_is_found(
    tree: Path, path: str, text: str, line: int, expected: str
) -> None:
    (tree / path).parent.mkdir(parents=True, exist_ok=True)
    (tree / path).write_text(text)
    findings = judge(tree, str(Path(path).parent))
    assert [f.location for f in findings] == [f"{path}:{line}"], findings
    assert expected in findings[0].message


@pytest.mark.parametrize(
    "text",
    [
        'locals {\n  qa_list = var.resource_locks_enabled ? ["a"] : []\n}\n',
        'locals {\n  qa_num = var.resource_locks_enabled ? { a = 1 } : { b = "x" }\n}\n',
        'output "qa_prose" {\n  value = <<-EOT\n    # var.not_a_reference in prose\n  EOT\n}\n',
    ],
)
def test_what_terraform_accepts_passes(tree: Path, text: str) -> None:
    (tree / "infra" / "qa_ok.tf").write_text(text)
    assert judge(tree, "infra") == []
