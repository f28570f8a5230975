"""`make validate` runs Terraform's own validate where the registry answers, and says so where not
(stackctl.checks.online)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from stackctl.checks import online
from stackctl.tools import Terraform, ToolResult


class RecordingTerraform(Terraform):
    """Terraform that answers init and validate as a reachable registry would, recording calls."""

    def __init__(self, diagnostics: list[dict[str, object]]) -> None:
        super().__init__()
        self.calls: list[tuple[str, str]] = []
        self.diagnostics = diagnostics

    def run(self, args: Sequence[str], cwd: Path, *, env: object = None) -> ToolResult:
        self.calls.append((args[0], cwd.name))
        if args[0] == "validate":
            valid = not self.diagnostics or cwd.name != "aml_workspace"
            body = {"valid": valid, "diagnostics": [] if valid else self.diagnostics}
            return ToolResult(0 if valid else 1, json.dumps(body), "")
        return ToolResult(0, "", "")


def test_an_unreachable_registry_is_one_skip_line(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(online.REQUIRE_ENV, raising=False)
    monkeypatch.setattr(online, "registry_unreachable", lambda: "registry.terraform.io: timed out")
    report = online.check_terraform_validate(root)
    assert report.ok
    assert report.offline == [
        "skipped: the Terraform registry is unreachable (registry.terraform.io: timed out)"
    ]
    assert report.notes == []


def test_ci_that_cannot_reach_the_registry_fails(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(online.REQUIRE_ENV, "1")
    monkeypatch.setattr(online, "registry_unreachable", lambda: "no route")
    assert [f.message for f in online.check_terraform_validate(root).findings] == ["unreachable (no route)"]


def test_every_directory_is_initialised_and_validated(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(online, "registry_unreachable", lambda: None)
    diagnostic: dict[str, object] = {
        "severity": "error",
        "summary": "expected storage_account_access_type to be one of [AccessKey Identity]",
        "detail": 'got "identity"',
        "range": {"filename": "main.tf", "start": {"line": 77}},
    }
    terraform = RecordingTerraform([diagnostic])
    report = online.check_terraform_validate(root, terraform)
    validated = {cwd for verb, cwd in terraform.calls if verb == "validate"}
    assert {"dev", "prod", "bootstrap", "infra", "aml_workspace", "naming"} <= validated
    assert [verb for verb, _ in terraform.calls[:2]] == ["init", "validate"]
    (finding,) = report.findings
    assert finding.location == "modules/aml_workspace/main.tf:77"
    assert "one of [AccessKey Identity]" in finding.message


def test_the_registry_probe_reports_why(monkeypatch: pytest.MonkeyPatch) -> None:
    reason = online.registry_unreachable("https://127.0.0.1:9/.well-known/terraform.json", timeout=1)
    assert reason is not None
    assert "127.0.0.1" in reason
