"""Deploy against a recording fake of MLClient: what it creates, and that a second deploy creates nothing."""

from __future__ import annotations

import copy
import os
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from recording_client import RecordingMLClient
from rich.console import Console

from stackctl.aml.environment import IMAGE_KINDS
from stackctl.aml.stack_output import StackOutput, load_stack_file
from stackctl.errors import StackctlError

pytestmark = pytest.mark.filterwarnings("ignore::marshmallow.warnings.RemovedInMarshmallow4Warning")

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]

if TYPE_CHECKING:
    from stackctl.aml.specs import AmlAssets


@pytest.fixture(scope="module")
def stack() -> StackOutput:
    return load_stack_file(DATA / "stack_output_dev.json")


def _assets(stack: StackOutput, tmp_path: Path, env_version: str = "env0123456789abc") -> AmlAssets:
    from stackctl.aml.specs import build_assets

    contexts = {}
    for kind in IMAGE_KINDS:
        (tmp_path / kind).mkdir(exist_ok=True)
        (tmp_path / kind / "Dockerfile").write_text("FROM python:3.11-slim\n", encoding="utf-8")
        contexts[kind] = tmp_path / kind
    return build_assets(stack, env_version, contexts)


def quiet() -> Console:
    return Console(quiet=True)


@pytest.mark.slow  # a whole deploy through azure-ai-ml's entities: the slowest unmarked tests of unit-fast
def test_deploy_with_recording_client_creates_every_asset_once(stack: StackOutput, tmp_path: Path) -> None:
    from stackctl.aml.deployer import AmlDeployer

    client = RecordingMLClient()
    report = AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path))
    kinds = [kind for kind, _ in client.writes]
    assert kinds.count("environment") == 2  # the CPU image and the CUDA image
    assert kinds.count("component") == 8 + 2  # one per step (publish twice), plus the two pipeline components
    assert kinds.count("batch_deployment") == 2
    assert kinds.count("schedule") == 2
    # each endpoint is created, then pointed at its deployment as the default
    assert kinds.count("batch_endpoint") == 4
    assets = _assets(stack, tmp_path)
    assert client.batch_endpoints.store[(stack.endpoints.training.name,)].defaults == {
        "deployment_name": assets.deployments["training"].name
    }
    assert not report.no_changes


@pytest.mark.slow  # a whole deploy through azure-ai-ml's entities: the slowest unmarked tests of unit-fast
def test_deploy_with_recording_client_twice_creates_nothing_the_second_time(
    stack: StackOutput, tmp_path: Path
) -> None:
    from stackctl.aml.deployer import AmlDeployer

    client = RecordingMLClient()
    AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path))
    writes_after_first = len(client.writes)
    second = AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path))
    assert len(client.writes) == writes_after_first
    assert second.no_changes
    assert len(second.unchanged) == 2 + 10 + 2 + 2 + 2


@pytest.mark.slow  # a whole deploy through azure-ai-ml's entities: the slowest unmarked tests of unit-fast
def test_deploy_with_recording_client_after_a_model_change_adds_versions_and_updates_the_rest(
    stack: StackOutput, tmp_path: Path
) -> None:
    from stackctl.aml.deployer import PREVIOUS_TAG, AmlDeployer

    client = RecordingMLClient()
    AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path))
    before = len(client.writes)
    report = AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path, env_version="changed-model-ver"))
    created_kinds = {kind for kind, _ in report.created}
    assert {"environment", "component", "pipeline component", "deployment", "schedule"} <= created_kinds
    # the endpoints themselves did not change: only their deployments moved to the new pipeline versions
    assert "batch endpoint" not in created_kinds
    assert len(client.environments.store) == 4  # old versions kept: running jobs still resolve them
    assert len(client.writes) > before
    # a new deployment per version; the endpoint's default moved to it; the previous one is kept
    endpoint = stack.endpoints.training.name
    assert len(client.batch_deployments.list(endpoint_name=endpoint)) == 2
    live = client.batch_endpoints.store[(endpoint,)]
    new = _assets(stack, tmp_path, env_version="changed-model-ver").deployments["training"].name
    old = _assets(stack, tmp_path).deployments["training"].name
    assert live.defaults == {"deployment_name": new}
    assert live.tags[PREVIOUS_TAG] == old


@pytest.mark.slow  # a whole deploy through azure-ai-ml's entities: the slowest unmarked tests of unit-fast
def test_rollback_points_the_default_back_at_the_previous_deployment_and_back_again(
    stack: StackOutput, tmp_path: Path
) -> None:
    from stackctl.aml.deployer import AmlDeployer

    client = RecordingMLClient()
    AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path))
    AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path, env_version="changed-model-ver"))
    old = _assets(stack, tmp_path).deployments["scoring"].name
    new = _assets(stack, tmp_path, env_version="changed-model-ver").deployments["scoring"].name
    endpoints = [stack.endpoints.training.name, stack.endpoints.scoring.name]
    moves = AmlDeployer(client, quiet()).rollback(endpoints)
    assert (stack.endpoints.scoring.name, new, old) in moves
    assert client.batch_endpoints.store[(stack.endpoints.scoring.name,)].defaults == {"deployment_name": old}
    again = AmlDeployer(client, quiet()).rollback(endpoints)
    assert (stack.endpoints.scoring.name, old, new) in again


def test_an_endpoint_update_keeps_its_default_and_the_rollback_target(
    stack: StackOutput, tmp_path: Path
) -> None:
    """Fault kind: an endpoint whose own spec changed was sent as built, a PUT without the live
    default and without the `previous_deployment` tag, so the rollback target was forgotten."""
    from stackctl.aml.deployer import PREVIOUS_TAG, AmlDeployer
    from stackctl.aml.specs import _stamp

    client = RecordingMLClient()
    AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path))
    AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path, env_version="changed-model-ver"))
    endpoint = stack.endpoints.scoring.name
    before = client.batch_endpoints.store[(endpoint,)]
    assert before.tags[PREVIOUS_TAG]

    assets = _assets(stack, tmp_path, env_version="changed-model-ver")
    changed = assets.endpoints["scoring"]
    changed.description = f"{changed.description} (reworded)"
    changed.tags = {k: v for k, v in (changed.tags or {}).items() if k != "content_hash"}
    _stamp(changed)
    sent: list[object] = []
    update = client.batch_endpoints.begin_create_or_update

    def record(entity: object) -> object:
        sent.append(copy.copy(entity))
        return update(entity)

    client.batch_endpoints.begin_create_or_update = record  # type: ignore[method-assign]
    report = AmlDeployer(client, quiet()).deploy(assets)

    assert ("batch endpoint", endpoint) in report.created
    (put,) = [e for e in sent if getattr(e, "name", None) == endpoint]
    assert put.tags[PREVIOUS_TAG] == before.tags[PREVIOUS_TAG]  # type: ignore[attr-defined]
    assert put.defaults == before.defaults  # type: ignore[attr-defined]  # never points at nothing
    after = client.batch_endpoints.store[(endpoint,)]
    assert after.tags[PREVIOUS_TAG] == before.tags[PREVIOUS_TAG]
    assert after.defaults == before.defaults
    moves = AmlDeployer(client, quiet()).rollback([endpoint])
    assert moves == [(endpoint, before.defaults["deployment_name"], before.tags[PREVIOUS_TAG])]


def test_deployments_beyond_the_kept_count_are_pruned_but_never_the_default_or_the_previous(
    stack: StackOutput, tmp_path: Path
) -> None:
    from stackctl.aml.deployer import AmlDeployer

    client = RecordingMLClient()
    versions = ["env0000000000001", "env0000000000002", "env0000000000003", "env0000000000004"]
    for version in versions:
        AmlDeployer(client, quiet(), keep=2).deploy(_assets(stack, tmp_path, env_version=version))
    endpoint = stack.endpoints.training.name
    left = {d.name for d in client.batch_deployments.list(endpoint_name=endpoint)}
    names = [_assets(stack, tmp_path, env_version=v).deployments["training"].name for v in versions]
    assert left == set(names[-2:])
    assert ("delete batch_deployment", (endpoint, names[0])) in client.writes


def test_keeping_fewer_than_two_deployments_is_refused(stack: StackOutput) -> None:
    from stackctl.aml.deployer import AmlDeployer

    with pytest.raises(StackctlError, match="nothing to roll back"):
        AmlDeployer(RecordingMLClient(), quiet(), keep=1)


def test_deploy_with_recording_client_that_rejects_the_login_says_to_run_az_login(
    stack: StackOutput, tmp_path: Path
) -> None:
    from stackctl.aml.deployer import AmlDeployer

    client = RecordingMLClient(authenticated=False)
    with pytest.raises(StackctlError, match="refused the credentials") as caught:
        AmlDeployer(client, quiet()).deploy(_assets(stack, tmp_path))
    assert "az login" in str(caught.value.fix)
    assert client.writes == []


def test_deploy_assets_with_recording_client_builds_the_wheel_and_ensures_sql_idempotently(
    stack: StackOutput, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stackctl.cloud_stack import deploy_assets

    monkeypatch.setenv("FORECAST_STACK_ROOT", str(tmp_path / "repo"))
    # the real model package, so the wheel build is the real one
    (tmp_path / "repo" / "src").mkdir(parents=True)
    (tmp_path / "repo" / "src" / "model").symlink_to(REPO / "src" / "model")
    (tmp_path / "repo" / "requirements").symlink_to(REPO / "requirements")
    client = RecordingMLClient()
    batches: list[list[str]] = []
    migrations: list[str] = []
    console = Console(record=True, width=200)

    def migrate() -> dict[str, list[str]]:
        migrations.append("upgrade")  # Alembic's upgrade to head, run by each deploy (a no-op when current)
        return {"reporting": [], "validation": []}

    imported: list[dict[str, str]] = []

    def importer(images: Any) -> dict[str, str]:
        imported.append(dict(images))
        return {
            kind: f"acrforecastdev.azurecr.io/library/python@{ref.split('@')[1]}"
            for kind, ref in images.items()
        }

    deploy_assets(
        stack,
        "dev",
        tmp_path / "repo",
        console,
        client=client,
        sql_executor=batches.append,
        schema_migrator=migrate,
        image_importer=importer,
    )
    assert set(imported[0]) == set(IMAGE_KINDS)
    for kind in IMAGE_KINDS:
        context = tmp_path / "repo" / "build" / "dev" / "environment" / kind
        wheels = list(context.glob("demand_forecast_model-*.whl"))
        assert len(wheels) == 1
        # the reporting schema's Alembic revisions travel inside the wheel (package data)
        with zipfile.ZipFile(wheels[0]) as wheel:
            assert "demand_forecast/reporting/migrations/versions/v0003_wape_and_bias.py" in wheel.namelist()
        dockerfile = (context / "Dockerfile").read_text(encoding="utf-8")
        assert f"--no-deps /opt/demand-forecast/{wheels[0].name}" in dockerfile
        # the base image comes from the workspace's registry (imported by digest), not Docker Hub
        assert dockerfile.count("FROM acrforecastdev.azurecr.io/library/python@sha256:") == 1
        # the image installs with the runtime lock as constraints (requirements/aml-runtime.txt)
        assert (context / "constraints.txt").read_text() == (
            REPO / "requirements" / "aml-runtime.txt"
        ).read_text()
    second = deploy_assets(
        stack,
        "dev",
        tmp_path / "repo",
        console,
        client=client,
        sql_executor=batches.append,
        schema_migrator=migrate,
        image_importer=importer,
    )
    assert second.no_changes
    assert "no changes" in console.export_text()
    # the schemas are upgraded (Alembic), then the users' idempotent T-SQL is sent, each time
    assert len(batches) == 2
    assert batches[0] == batches[1]
    assert migrations == ["upgrade", "upgrade"]
    sql = "\n".join(batches[0])
    assert stack.job_identity is not None
    jobs = stack.job_identity.name  # the jobs' SQL user is named after their identity
    # by SID (client id bytes), so the SQL server needs no directory role (issue 10, fault 4)
    assert f"CREATE USER [{jobs}] WITH SID = 0x" in sql
    assert f"CREATE USER [{stack.sql.aad_principals.adf}] WITH SID = 0x" in sql
    assert f"GRANT SELECT, INSERT, DELETE ON SCHEMA::reporting TO [{jobs}]" in sql
    assert "GRANT SELECT ON SCHEMA::reporting TO [adf-forecast-dev]" in sql
    assert f"GRANT SELECT ON reporting.v_forecasts TO [{stack.powerbi.entra_group}]" in sql
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
    from azure_target import target_environment

    from stackctl.cloud_stack import deploy_assets

    env = target_environment()
    console = Console(record=True)
    from stackctl.cloud_stack import read_stack

    stack_output = read_stack(env, REPO, console)
    report = deploy_assets(stack_output, env, REPO, console, skip_sql=True)
    assert report.no_changes, report.created


@pytest.mark.parametrize("deploys", [1, 2])
def test_every_pipeline_node_references_the_named_component_version_not_an_anonymous_copy(
    stack: StackOutput, tmp_path: Path, deploys: int
) -> None:
    """azure-ai-ml registers a node's component anonymously unless it carries an ARM id
    (azure/ai/ml/operations/_operation_orchestrator.py, _get_component_arm_id): each node must carry
    the id of the named `demand_forecast_*` version deploy created (first deploy) or found (second)."""
    from recording_client import ARM_COMPONENT

    from stackctl.aml.deployer import AmlDeployer

    client = RecordingMLClient()
    for _ in range(deploys):
        assets = _assets(stack, tmp_path)
        AmlDeployer(client, quiet()).deploy(assets)
    named = {(str(c.name), str(c.version)) for c in assets.components.values()}
    for pipeline in assets.pipelines.values():
        for node_name, node in pipeline.jobs.items():
            component = node.component
            key = (str(component.name), str(component.version))
            assert key in named, f"{pipeline.name}.{node_name} runs {key}, not a named component"
            assert component.id == ARM_COMPONENT.format(*key), f"{pipeline.name}.{node_name}: anonymous"
        # What azure-ai-ml itself sends for the pipeline component: each node's componentId.
        sent = pipeline._to_rest_object().properties.component_spec["jobs"]
        assert {name: job["componentId"] for name, job in sent.items()} == {
            name: ARM_COMPONENT.format(node.component.name, node.component.version)
            for name, node in pipeline.jobs.items()
        }


class _Refusing(RecordingMLClient):
    """Answers 403 AuthorizationFailed to the first `refusals` reads, as Azure does until a fresh
    apply's role assignments have propagated."""

    def __init__(self, refusals: int, status: int = 403):
        super().__init__()
        self.refusals = refusals
        self.status = status

    def check_auth(self) -> None:
        from azure.core.exceptions import HttpResponseError

        if self.refusals > 0:
            self.refusals -= 1
            error = HttpResponseError(
                message="The client 'x' does not have authorization to perform action "
                "'Microsoft.MachineLearningServices/workspaces/environments/versions/read' "
                "(AuthorizationFailed)"
            )
            error.status_code = self.status
            raise error
        super().check_auth()


@pytest.mark.parametrize("refusals", [1, 3, 5])
def test_a_first_deploy_waits_for_role_assignments_to_propagate(
    stack: StackOutput, tmp_path: Path, refusals: int
) -> None:
    from stackctl.aml.deployer import AmlDeployer

    client = _Refusing(refusals)
    deployer = AmlDeployer(client, quiet())
    waits: list[float] = []
    deployer.sleep = waits.append
    report = deployer.deploy(_assets(stack, tmp_path))
    assert len(waits) == refusals
    assert waits == sorted(waits)  # backing off
    assert [kind for kind, _ in client.writes].count("environment") == 2
    assert not report.unchanged  # a fresh workspace: everything was created, nothing counted twice


def test_authorization_that_never_arrives_fails_with_the_refused_action(
    stack: StackOutput, tmp_path: Path
) -> None:
    from stackctl.aml.deployer import AmlDeployer

    deployer = AmlDeployer(_Refusing(100), quiet())
    deployer.sleep = lambda seconds: None
    with pytest.raises(StackctlError, match=r"still refuses after 6 tries over 15 minutes \(403\)") as caught:
        deployer.deploy(_assets(stack, tmp_path))
    assert "environments/versions/read" in str(caught.value)
    assert "propagate" in str(caught.value.fix)


def test_a_401_is_a_login_problem_and_is_not_retried(stack: StackOutput, tmp_path: Path) -> None:
    from stackctl.aml.deployer import AmlDeployer

    deployer = AmlDeployer(RecordingMLClient(authenticated=False), quiet())
    deployer.sleep = lambda seconds: pytest.fail("a login failure must not be retried")
    with pytest.raises(StackctlError, match="refused the credentials"):
        deployer.deploy(_assets(stack, tmp_path))
