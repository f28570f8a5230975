"""Deploy against a recording fake of MLClient: what it creates, and that a second deploy creates nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from recording_client import RecordingMLClient
from rich.console import Console

from stackctl.aml.deployer import AmlDeployer
from stackctl.aml.specs import AmlAssets, build_assets
from stackctl.aml.stack_output import StackOutput, load_stack_file
from stackctl.cloud_stack import deploy_assets
from stackctl.errors import StackctlError

pytestmark = pytest.mark.filterwarnings("ignore::marshmallow.warnings.RemovedInMarshmallow4Warning")

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stack() -> StackOutput:
    return load_stack_file(DATA / "stack_output_dev.json")


def _assets(stack: StackOutput, tmp_path: Path, env_version: str = "env0123456789abc") -> AmlAssets:
    (tmp_path / "Dockerfile").write_text("FROM python:3.11-slim\n", encoding="utf-8")
    return build_assets(stack, env_version, tmp_path)


def quiet() -> Console:
    return Console(quiet=True)


def test_deploy_with_recording_client_creates_every_asset_once(stack: StackOutput, tmp_path: Path) -> None:
    client = RecordingMLClient()
    report = AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path))
    kinds = [kind for kind, _ in client.writes]
    assert kinds.count("environment") == 1
    assert kinds.count("component") == 6 + 2  # one per step, plus the two pipeline components
    assert kinds.count("batch_deployment") == 2
    assert kinds.count("schedule") == 2
    # each endpoint is created, then pointed at its deployment as the default
    assert kinds.count("batch_endpoint") == 4
    assert client.batch_endpoints.store[(stack.endpoints.training.name,)].defaults == {
        "deployment_name": "weekly"
    }
    assert not report.no_changes


def test_deploy_with_recording_client_twice_creates_nothing_the_second_time(
    stack: StackOutput, tmp_path: Path
) -> None:
    client = RecordingMLClient()
    AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path))
    writes_after_first = len(client.writes)
    second = AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path))
    assert len(client.writes) == writes_after_first
    assert second.no_changes
    assert len(second.unchanged) == 1 + 8 + 2 + 2 + 2


def test_deploy_with_recording_client_after_a_model_change_adds_versions_and_updates_the_rest(
    stack: StackOutput, tmp_path: Path
) -> None:
    client = RecordingMLClient()
    AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path))
    before = len(client.writes)
    report = AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path, env_version="changed-model-ver"))
    created_kinds = {kind for kind, _ in report.created}
    assert {"environment", "component", "pipeline component", "deployment", "schedule"} <= created_kinds
    # the endpoints themselves did not change: only their deployments moved to the new pipeline versions
    assert "batch endpoint" not in created_kinds
    assert len(client.environments.store) == 2  # old version kept: running jobs still resolve it
    assert len(client.writes) > before


def test_deploy_with_recording_client_that_rejects_the_login_says_to_run_az_login(
    stack: StackOutput, tmp_path: Path
) -> None:
    client = RecordingMLClient(authenticated=False)
    with pytest.raises(StackctlError, match="refused the credentials") as caught:
        AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path))
    assert "az login" in str(caught.value.fix)
    assert client.writes == []


def test_deploy_assets_with_recording_client_builds_the_wheel_and_ensures_sql_idempotently(
    stack: StackOutput, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORECAST_STACK_ROOT", str(tmp_path / "repo"))
    # the real model package, so the wheel build is the real one
    (tmp_path / "repo" / "src").mkdir(parents=True)
    (tmp_path / "repo" / "src" / "model").symlink_to(REPO / "src" / "model")
    client = RecordingMLClient()
    batches: list[list[str]] = []
    console = Console(record=True, width=200)
    deploy_assets(stack, "dev", tmp_path / "repo", console, client=client, sql_executor=batches.append)
    wheels = list((tmp_path / "repo" / "build" / "dev" / "environment").glob("demand_forecast_model-*.whl"))
    assert len(wheels) == 1
    dockerfile = (tmp_path / "repo" / "build" / "dev" / "environment" / "Dockerfile").read_text(
        encoding="utf-8"
    )
    assert f"--no-deps /tmp/{wheels[0].name}" in dockerfile
    second = deploy_assets(
        stack, "dev", tmp_path / "repo", console, client=client, sql_executor=batches.append
    )
    assert second.no_changes
    assert "no changes" in console.export_text()
    # the SQL is idempotent T-SQL, sent each time: schema, tables, views, then the two contained users
    assert len(batches) == 2
    assert batches[0] == batches[1]
    sql = "\n".join(batches[0])
    assert f"CREATE USER [{stack.sql.aad_principals.aml}] FROM EXTERNAL PROVIDER" in sql
    assert f"CREATE USER [{stack.sql.aad_principals.adf}] FROM EXTERNAL PROVIDER" in sql
    assert "GRANT SELECT, INSERT, UPDATE ON SCHEMA::reporting TO [adf-forecast-dev]" in sql
    assert not any(fragment in sql.lower() for fragment in ("password", "secret"))


def test_azure_login_missing_gives_one_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from stackctl.aml.azure import azure_credential

    for variable in [v for v in os.environ if v.startswith(("AZURE_", "ARM_", "IDENTITY_", "MSI_"))]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("PATH", "/nonexistent")  # no az, azd or pwsh to fall back on
    monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")  # IMDS probe fails fast
    with pytest.raises(StackctlError, match="not logged in to Azure") as caught:
        azure_credential()
    assert "az login" in str(caught.value.fix)


@pytest.mark.azure
def test_deploy_against_real_azure_is_idempotent() -> None:
    """Release pipeline smoke test: after `make apply`, a second deploy of the same commit changes nothing."""
    env = os.environ.get("FORECAST_STACK_ENV", "dev")
    console = Console(record=True)
    from stackctl.cloud_stack import read_stack

    stack_output = read_stack(env, REPO, console)
    report = deploy_assets(stack_output, env, REPO, console, skip_sql=True)
    assert report.no_changes, report.created
