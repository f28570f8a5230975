"""`stackctl audit` end to end: the files it writes, its exit status; real checkov on the plan where
the test is about checkov's findings, its recorded results elsewhere (`recorded_policies`)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from audit_helpers import FIXTURES, SECRETS, recorded_checkov

from stackctl.checks.checkov import CheckovReport
from stackctl.cli import main
from stackctl.commands import audit as audit_command
from stackctl.errors import ExitStatus
from stackctl.paths import repo_root

pytestmark = pytest.mark.slow


@pytest.fixture
def audit_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository root with checkov (the real .venv-tools), fixture tfvars and no custom policies,
    so the results depend only on the pinned checkov, not on policies being written next door."""
    tools = repo_root() / ".venv-tools"
    if not (tools / "bin" / "checkov").exists():
        pytest.fail(f"checkov is not installed in {tools}: run `make setup`")
    root = tmp_path / "repo"
    (root / "infra").mkdir(parents=True)
    (root / ".venv-tools").symlink_to(tools)
    shutil.copy(repo_root() / "infra" / "audit-allow-list.yaml", root / "infra" / "audit-allow-list.yaml")
    for env in ("dev", "prod"):
        (root / "envs" / env).mkdir(parents=True)
        shutil.copy(FIXTURES / "tfvars" / f"{env}.tfvars", root / "envs" / env / "terraform.tfvars")
    monkeypatch.setenv("FORECAST_STACK_ROOT", str(root))
    return root


@pytest.fixture
def recorded_policies(monkeypatch: pytest.MonkeyPatch) -> None:
    """checkov's recorded results (fixtures/checkov_<plan>.json, checkov 3.3.30, built-in checks) in
    place of a checkov run, through the audit's policy-runner seam: for the tests about the gate and
    the reports, not about checkov (test_checkov_findings_on_the_plan_block_and_are_reported runs it)."""
    by_content = {
        (FIXTURES / f"{name}.json").read_bytes(): name
        for name in ("delete_sql", "no_changes", "update_sensitive")
    }

    def recorded(plan_path: Path, code_dir: Path) -> CheckovReport:
        name = by_content[plan_path.read_bytes()]
        return dataclasses.replace(recorded_checkov(name), target=plan_path)

    monkeypatch.setattr(audit_command, "checkov_on_plan", recorded)


def put_plan(root: Path, name: str, env: str = "dev") -> Path:
    target = root / "build" / env / "plan.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FIXTURES / f"{name}.json", target)
    return target


def test_a_plan_deleting_the_database_fails_the_gate_then_passes_once_allowed(
    audit_root: Path, recorded_policies: None, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = put_plan(audit_root, "delete_sql")
    saved_plan = plan.with_name("tfplan")  # the binary plan `make apply` applies
    saved_plan.write_bytes(b"PK\x03\x04 binary plan stand-in")

    assert main(["audit", "--env", "dev"]) == 1
    out = capsys.readouterr().out
    assert "BLOCKING destructive-change" in out
    assert "verdict: BLOCKED" in out
    markdown = (audit_root / "build" / "dev" / "audit.md").read_text()
    assert "**Verdict: BLOCKED**" in markdown
    assert hashlib.sha256(plan.read_bytes()).hexdigest() in markdown
    assert "`build/dev/plan.json`" in markdown
    assert f"`build/dev/tfplan` (sha256 `{hashlib.sha256(saved_plan.read_bytes()).hexdigest()}`)" in markdown

    allow = FIXTURES / "allow_sql_delete.yaml"
    assert main(["audit", "--env", "dev", "--allow-list", str(allow)]) == 0
    sarif = json.loads((audit_root / "build" / "dev" / "audit.sarif").read_text())
    suppressed = [r for r in sarif["runs"][0]["results"] if r.get("suppressions")]
    assert [r["ruleId"] for r in suppressed] == ["FSA001"]


def test_checkov_findings_on_the_plan_block_and_are_reported(audit_root: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "reports"
    status = main(
        ["audit", "--env", "prod", "--plan", str(FIXTURES / "create_only.json"), "--out", str(out_dir)]
    )

    assert status == 1
    markdown = (out_dir / "audit.md").read_text()
    assert "CKV\\_AZURE\\_206" in markdown  # LRS storage: a built-in checkov check
    sarif = json.loads((out_dir / "audit.sarif").read_text())
    assert any(
        r["ruleId"] == "FSA002" and "CKV_AZURE_206" in r["message"]["text"]
        for r in sarif["runs"][0]["results"]
    )
    html = (out_dir / "audit.html").read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert "CKV_AZURE_206" in html


def test_a_clean_plan_passes_and_no_secret_is_written(audit_root: Path, recorded_policies: None) -> None:
    put_plan(audit_root, "no_changes")
    assert main(["audit", "--env", "dev"]) == 0
    put_plan(audit_root, "update_sensitive")
    main(["audit", "--env", "dev"])
    for name in ("audit.md", "audit.html", "audit.sarif"):
        text = (audit_root / "build" / "dev" / name).read_text()
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into {name}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--plan", str(FIXTURES / "malformed.json")], "not valid JSON"),
        (["--plan", str(FIXTURES / "foreign_state.json")], "state file"),
        (["--plan", "missing/plan.json"], "plan file not found"),
        (
            ["--plan", str(FIXTURES / "no_changes.json"), "--allow-list", "missing.yaml"],
            "allow-list file not found",
        ),
    ],
)
def test_bad_input_exits_setup_fault_and_writes_nothing(
    audit_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out_dir = tmp_path / "reports"
    assert main(["audit", "--env", "dev", "--out", str(out_dir), *args]) == ExitStatus.SETUP_FAULT
    err = capsys.readouterr().err
    assert message in err
    assert "fix:" in err
    assert not out_dir.exists()


def test_the_local_environment_has_nothing_to_audit(
    audit_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", "--env", "local"]) == ExitStatus.SETUP_FAULT
    assert "make audit ENV=dev" in capsys.readouterr().err


def test_help_documents_the_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["audit", "--help"])
    help_text = capsys.readouterr().out
    for line in ("0  no blocking finding", "1  blocking findings", "2  bad input"):
        assert line in help_text


def test_without_checkov_the_report_says_policies_were_not_checked_and_the_gate_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "bare"  # no .venv-tools, and no checkov on PATH
    root.mkdir()
    monkeypatch.setenv("FORECAST_STACK_ROOT", str(root))
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    out_dir = tmp_path / "reports"

    status = main(
        ["audit", "--env", "dev", "--plan", str(FIXTURES / "no_changes.json"), "--out", str(out_dir)]
    )

    assert status == 1
    markdown = (out_dir / "audit.md").read_text()
    assert "**Not checked:** checkov did not run: checkov is not installed" in markdown
    assert "Not available: tfvars file not found" in markdown
