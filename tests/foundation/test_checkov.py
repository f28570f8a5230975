"""checkov runs from .venv-tools, offline, and its three JSON shapes read into one report."""

from __future__ import annotations

from pathlib import Path

import pytest

from stackctl.checks.checkov import parse_checkov_json, run_checkov

KEY_VAULT = """
resource "azurerm_key_vault" "this" {
  name                = "kv-example"
  location            = "westeurope"
  resource_group_name = "rg"
  tenant_id           = "00000000-0000-0000-0000-000000000000"
  sku_name            = "standard"
  #checkov:skip=CKV_AZURE_109:firewall rules come from the network module in this example
}
"""


@pytest.mark.slow
def test_real_checkov_reports_failures_skips_and_writes_sarif(tmp_path: Path) -> None:
    (tmp_path / "tf").mkdir()
    (tmp_path / "tf" / "main.tf").write_text(KEY_VAULT)
    report = run_checkov(tmp_path / "tf", external_checks_dir=None, output_dir=tmp_path / "out")
    failed = {r.check_id for r in report.failed}
    assert "CKV_AZURE_110" in failed  # purge protection off
    assert not report.ok
    [skip] = report.skipped
    assert skip.check_id == "CKV_AZURE_109"
    assert skip.suppress_comment == "firewall rules come from the network module in this example"
    assert report.sarif_path is not None
    assert report.sarif_path.exists()
    assert report.junit_path is not None
    assert report.junit_path.exists()


def test_parses_list_and_empty_summary_shapes() -> None:
    item = {
        "check_id": "CKV_X",
        "check_name": "x",
        "resource": "r.a",
        "file_path": "/m.tf",
        "file_line_range": [1, 2],
    }
    raw = [
        {"check_type": "terraform", "results": {"passed_checks": [item], "failed_checks": []}},
        {"passed": 0, "failed": 0, "skipped": 0, "parsing_errors": 0, "checkov_version": "3.3.30"},
    ]
    report = parse_checkov_json(raw, target=Path("."), framework="terraform")
    assert [r.check_id for r in report.passed] == ["CKV_X"]
    assert report.passed[0].location == "/m.tf:1-2"
    assert report.checkov_version == "3.3.30"
    assert report.ok
