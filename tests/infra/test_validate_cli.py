"""`stackctl validate` (what `make validate` runs): exit status, summary, and a broken tree."""

from __future__ import annotations

from pathlib import Path

import pytest
from infra_helpers import Edit

from stackctl.cli import main
from stackctl.errors import ExitStatus

FAST_CHECKS = [
    "--check",
    "fmt",
    "--check",
    "schema",
    "--check",
    "prod-policy",
    "--check",
    "wiring",
    "--check",
    "parity",
]


def test_validate_passes_on_the_checkout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", *FAST_CHECKS]) == 0
    out = capsys.readouterr().out
    assert "all checks passed" in out
    assert "What differs between dev and prod" in out


def test_validate_fails_with_actionable_findings(
    tree: Path, edit: Edit, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    edit(
        "envs/prod/terraform.tfvars",
        "public_network_access_enabled = false",
        "public_network_access_enabled = true",
    )
    edit(
        "modules/key_vault/main.tf", "purge_protection_enabled      = true", "purge_protection_enable = true"
    )
    monkeypatch.setenv("FORECAST_STACK_ROOT", str(tree))
    assert main(["validate", "--quiet", *FAST_CHECKS]) == 1
    out = capsys.readouterr().out
    assert "[prod-policy] envs/prod/terraform.tfvars: public_network_access_enabled = True" in out
    assert "[schema] modules/key_vault/main.tf:" in out
    assert "[fmt] modules/key_vault/main.tf: not in canonical Terraform format" in out
    assert "finding(s)" in out


def test_unknown_check_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "--check", "nonsense"]) == ExitStatus.SETUP_FAULT
    assert "invalid choice" in capsys.readouterr().err


def test_json_report_holds_each_check_with_its_seconds_and_figures(tmp_path: Path) -> None:
    """`--json` is what benchmarks/bench_validate.py reads each check's seconds from."""
    import json

    report = tmp_path / "out" / "validate.json"
    assert main(["validate", "--quiet", *FAST_CHECKS, "--json", str(report)]) == 0
    checks = json.loads(report.read_text(encoding="utf-8"))
    assert [check["name"] for check in checks] == ["fmt", "schema", "prod-policy", "wiring", "parity"]
    for check in checks:
        assert check["ok"] is True
        assert check["findings"] == []
        assert check["seconds"] >= 0
    schema = next(check for check in checks if check["name"] == "schema")
    assert schema["figures"]["resource_blocks"] > 0
