"""Module READMEs: a header and a current generated inputs/outputs table."""

from __future__ import annotations

from pathlib import Path

from infra_helpers import Edit, messages

from stackctl.checks.docs import check_docs, write_docs


def test_module_readmes_are_current(root: Path) -> None:
    report = check_docs(root)
    assert report.ok, messages(report)


def test_stale_table_is_caught_and_regenerated(tree: Path, edit: Edit) -> None:
    edit(
        "modules/sql/variables.tf",
        'description = "The reporting database that Power BI reads."',
        'description = "The database Power BI reads."',
    )
    (finding,) = check_docs(tree).findings
    assert (finding.location, finding.message) == (
        "modules/sql/README.md",
        "inputs/outputs table is out of date",
    )
    assert write_docs(tree) == [tree / "modules" / "sql" / "README.md"]
    assert check_docs(tree).ok
    assert "| database_name | The database Power BI reads. |" in (tree / "modules/sql/README.md").read_text()
