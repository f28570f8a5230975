"""`stackctl apply --env dev` as a whole: guards, the saved plan only, then deploy (recording fakes
stand in for the terraform binary and for MLClient; everything between them is the real code)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import pytest
from recording_client import RecordingMLClient

from stackctl.cli import main
from stackctl.errors import ExitStatus
from stackctl.tools import Terraform, ToolResult

pytestmark = pytest.mark.filterwarnings("ignore::marshmallow.warnings.RemovedInMarshmallow4Warning")

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


class RecordingTerraform(Terraform):
    calls: ClassVar[list[list[str]]] = []  # one log across the instances stackctl creates

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(binary="terraform-recording", prefer_path=False)

    def run(self, args: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None) -> ToolResult:
        RecordingTerraform.calls.append(list(args))
        if args[0] == "output":
            return ToolResult(0, (DATA / "stack_output_dev.json").read_text(encoding="utf-8"), "")
        return ToolResult(0, "", "")


@pytest.fixture
def cloud_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, RecordingMLClient, list[list[str]]]:
    root = tmp_path / "repo"
    for folder in ("infra", "modules", "envs/dev"):
        (root / folder).mkdir(parents=True)
        (root / folder / "main.tf").write_text("# code\n", encoding="utf-8")
    (root / "envs" / "dev" / "backend.hcl").write_text('container_name = "tfstate"\n', encoding="utf-8")
    old = time.time() - 600
    for path in root.rglob("*"):
        os.utime(path, (old, old))
    (root / "build" / "dev").mkdir(parents=True)
    (root / "build" / "dev" / "tfplan").write_bytes(b"reviewed plan")
    (root / "src").mkdir()
    (root / "src" / "model").symlink_to(REPO / "src" / "model")
    (root / "requirements").symlink_to(REPO / "requirements")  # the AML image lock (aml-runtime.txt)
    monkeypatch.setenv("FORECAST_STACK_ROOT", str(root))
    RecordingTerraform.calls = []
    monkeypatch.setattr("stackctl.terraform.env_root.Terraform", RecordingTerraform)
    client = RecordingMLClient()
    monkeypatch.setattr("stackctl.aml.azure.azure_credential", lambda: object())
    monkeypatch.setattr("stackctl.aml.azure.ml_client", lambda stack, credential: client)
    # The base images stay as runtime.yaml names them (test_base_image.py covers the import).
    monkeypatch.setattr("stackctl.aml.base_image.workspace_registry_importer", lambda *args: dict)
    batches: list[list[str]] = []
    monkeypatch.setattr("demand_forecast.reporting.database.azure_sql_engine", lambda *args: None)
    monkeypatch.setattr(
        "stackctl.sql.users.run_statements", lambda engine, statements: batches.append(statements)
    )
    monkeypatch.setattr("stackctl.sql.users.migrate_reporting_schemas", lambda engine: {"reporting": []})
    return root, client, batches


def test_apply_dev_applies_only_the_saved_plan_then_deploys_with_recording_client(
    cloud_repo: tuple[Path, RecordingMLClient, list[list[str]]],
) -> None:
    root, client, batches = cloud_repo
    plan = root / "build" / "dev" / "tfplan"
    assert main(["apply", "--env", "dev"]) == 0
    verbs = [call[0] for call in RecordingTerraform.calls]
    assert verbs == ["init", "apply", "output"]
    assert "plan" not in verbs
    assert RecordingTerraform.calls[1][-1] == str(plan)
    assert "-backend-config=backend.hcl" in RecordingTerraform.calls[0]
    assert not plan.exists()  # applied once; a second apply needs a new plan
    assert len(client.writes) > 0
    assert len(batches) == 1
    saved = json.loads((root / "build" / "dev" / "stack.json").read_text(encoding="utf-8"))
    assert saved["stack"]["value"]["endpoints"]["training"]["name"] == "forecast-dev-training"


def test_deploy_dev_twice_with_recording_client_says_no_changes(
    cloud_repo: tuple[Path, RecordingMLClient, list[list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    _, client, _ = cloud_repo
    assert main(["deploy", "--env", "dev"]) == 0
    writes = len(client.writes)
    capsys.readouterr()
    assert main(["deploy", "--env", "dev"]) == 0
    assert len(client.writes) == writes
    assert "no changes" in capsys.readouterr().out


def test_apply_dev_with_a_stale_plan_runs_no_terraform_at_all(
    cloud_repo: tuple[Path, RecordingMLClient, list[list[str]]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, client, _ = cloud_repo
    (root / "modules" / "main.tf").write_text("# changed after the plan\n", encoding="utf-8")
    assert main(["apply", "--env", "dev"]) == ExitStatus.SETUP_FAULT
    assert "older than a change to the Terraform code (modules/main.tf)" in capsys.readouterr().err
    assert RecordingTerraform.calls == []
    assert client.writes == []
