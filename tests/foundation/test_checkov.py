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


STORAGE = """
resource "azurerm_storage_account" "this" {
  name                     = "stexample"
  location                 = "westeurope"
  resource_group_name      = "rg"
  account_tier             = "Standard"
  account_replication_type = "LRS"
}
"""


def test_batch_command_line_takes_a_spec_and_an_optional_job_count() -> None:
    from stackctl.checks.checkov_batch import _arguments

    assert _arguments(["batch", "spec.json"]) == ("spec.json", 1)
    assert _arguments(["batch", "spec.json", "--jobs", "2"]) == ("spec.json", 2)
    for bad in (["batch"], ["batch", "spec.json", "--jobs", "0"], ["batch", "spec.json", "--jobs", "x"]):
        assert _arguments(bad) is None, bad


@pytest.mark.slow
def test_scans_run_side_by_side_each_report_stays_with_its_target(tmp_path: Path) -> None:
    """Two jobs, three targets: each report holds its own target's results (a slot handed to the
    next scan must not mix them up), in the order the scans were given."""
    from stackctl.checks.checkov import CheckovScan, run_checkov_scans

    bodies = {"vault": KEY_VAULT, "storage": STORAGE, "vault2": KEY_VAULT.replace('"this"', '"other"')}
    for name, body in bodies.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "main.tf").write_text(body)
    scans = [CheckovScan(tmp_path / name) for name in bodies]
    reports = run_checkov_scans(scans, jobs=2)
    resources = [{r.resource for r in report.results} for report in reports]
    assert resources == [
        {"azurerm_key_vault.this"},
        {"azurerm_storage_account.this"},
        {"azurerm_key_vault.other"},
    ]
    assert "CKV_AZURE_110" in {r.check_id for r in reports[0].failed}


def test_jsonpath_parsers_are_built_once_and_parse_as_before() -> None:
    """checkov_batch builds each bc-jsonpath-ng grammar once per process; the parsed expressions
    are the same as the library's own (run in checkov's Python, where ply and bc-jsonpath-ng live)."""
    import subprocess

    from stackctl.checks.checkov import checkov_python

    batch = Path(__file__).resolve().parents[2] / "src" / "stackctl" / "checks" / "checkov_batch.py"
    probe = f"""
import importlib.util, ply.yacc
from bc_jsonpath_ng.ext import parse
tables = []
class CountedTable(ply.yacc.LRGeneratedTable):
    def __init__(self, *args, **kwargs):
        tables.append(1)
        super().__init__(*args, **kwargs)
ply.yacc.LRGeneratedTable = CountedTable
expressions = ["$.a.b[0]", "$.tags.environment", "$.network_rules[0].ip_rules", "$.x[?(@.y == 'z')]"]
before = [repr(parse(e)) for e in expressions]
built_before = len(tables)
spec = importlib.util.spec_from_file_location("checkov_batch", {str(batch)!r})
batch = importlib.util.module_from_spec(spec)
spec.loader.exec_module(batch)
batch.reuse_jsonpath_parsers()
warmed = len(tables)
after = [repr(parse(e)) for e in expressions * 3]
print("SAME" if after == before * 3 else "DIFFERENT", built_before, len(tables) - warmed)
"""
    result = subprocess.run([str(checkov_python()), "-c", probe], capture_output=True, text=True, check=True)
    # Without reuse: a table per expression parsed; with it: none after the two warm-up builds.
    assert result.stdout.split() == ["SAME", str(4), "0"]
