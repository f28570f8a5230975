"""`stackctl doctor`: each check against recorded responses of Azure Resource Manager, GitHub and
Azure DevOps, served on 127.0.0.1 over HTTPS (tests/stackctl/doctor_server.py) and read by the real
clients. The bodies follow the services' documented response shapes (the REST reference page of
each is cited in src/stackctl/doctor); they were not captured from a live subscription."""

from __future__ import annotations

import base64
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.core.credentials import AccessToken
from azure.core.exceptions import ClientAuthenticationError
from doctor_server import RecordingServer, serve

from stackctl.commands import doctor as doctor_command
from stackctl.doctor import first_data
from stackctl.doctor.checks import run_check, run_checks
from stackctl.doctor.report import Outcome
from stackctl.doctor.run import context
from stackctl.doctor.settings import DoctorSettings, Endpoints, bootstrap_names

REPO = Path(__file__).resolve().parents[2]
SUB = "00000000-0000-0000-0000-0000000000aa"
TENANT = "00000000-0000-0000-0000-0000000000bb"
BOOT = f"/subscriptions/{SUB}/resourceGroups/rg-fcst-bootstrap-weu"
IDENTITIES = f"{BOOT}/providers/Microsoft.ManagedIdentity/userAssignedIdentities"
STATE = f"{BOOT}/providers/Microsoft.Storage/storageAccounts/stfcsttfstatep01"
AML = f"/subscriptions/{SUB}/providers/Microsoft.MachineLearningServices/locations/westeurope"
ORG, NAME, ORG_ID, REPO_ID = "contoso", "forecast-stack", 1000001, 2000002
IMMUTABLE = f"repo:{ORG}@{ORG_ID}/{NAME}@{REPO_ID}"
ISSUER = "https://token.actions.githubusercontent.com"
BOOTSTRAP_VALUES: dict[str, Any] = {
    "workload": "fcst",
    "location": "westeurope",
    "location_short": "weu",
    "name_suffix": "p01",
    "state_storage_account_name": "stfcsttfstatep01",
    "github": {
        "owner": ORG,
        "owner_id": str(ORG_ID),
        "repository": NAME,
        "repository_id": str(REPO_ID),
        "organization_id": str(ORG_ID),
        "subject_forms": ["immutable"],
    },
    "ci_runner": {"platform": "github", "location": "northeurope"},
    "tags": {"owner": "t"},
}
STACK = {
    "location": "westeurope",
    "aml": {
        "gpu_vm_size": "Standard_NC4as_T4_v3",
        "gpu_max_nodes": 2,
        "cpu_vm_size": "Standard_DS3_v2",
        "cpu_max_nodes": 2,
    },
}


# The release managers' team, the only actor the release rulesets may let bypass them.
RELEASE_MANAGERS = 42
# main's pull_request rule as the rules API returns it, with every review setting review 23 (A2) needs.
MAIN_REVIEW: dict[str, Any] = {
    "type": "pull_request",
    "parameters": {
        "required_approving_review_count": 1,
        "require_last_push_approval": True,
        "dismiss_stale_reviews_on_push": True,
        "require_code_owner_review": True,
        "required_review_thread_resolution": False,
    },
}
# Prod's runner group lists each release branch exactly: GitHub matches no patterns there.
PROD_WORKFLOWS = [
    f"{ORG}/{NAME}/.github/workflows/release.yml@refs/heads/release/2026.1",
    f"{ORG}/{NAME}/.github/workflows/release.yml@refs/heads/release/2026.2",
]
# What GitHub's contents API returns for release.yml at a listed ref: this checkout's own file.
RELEASE_YML = REPO / ".github" / "workflows" / "release.yml"
CONTENTS = f"/repos/{ORG}/{NAME}/contents/.github/workflows/release.yml"


def contents(text: str) -> dict[str, Any]:
    return {"type": "file", "encoding": "base64", "content": base64.b64encode(text.encode()).decode()}


class StaticCredential:
    """The one stand-in: an Entra token (a JWT whose payload names the caller) without a login."""

    def __init__(self, claims: dict[str, Any] | None = None, *, fail: bool = False):
        self.claims = claims or {"upn": "owner@contoso.example", "oid": "o-1", "tid": TENANT}
        self.fail = fail

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        if self.fail:
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")
        part = base64.urlsafe_b64encode(json.dumps(self.claims).encode()).decode().rstrip("=")
        return AccessToken(f"e30.{part}.sig", int(time.time()) + 3600)


@pytest.fixture(scope="module")
def names() -> dict[str, Any]:
    """The bootstrap's names for BOOTSTRAP_VALUES, evaluated by Terraform from naming.tf (the real path)."""
    return bootstrap_names(REPO, BOOTSTRAP_VALUES)


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    for recorded in serve(tmp_path):
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tmp_path / "cert.pem"))
        healthy_prod(recorded)
        yield recorded


def settings_for(
    server: RecordingServer, names: dict[str, Any], root: Path = REPO, **changes: Any
) -> DoctorSettings:
    values = {
        "env": "prod",
        "root": root,
        "subscription_id": SUB,
        "endpoints": Endpoints(arm=server.url, github=server.url, azure_devops=server.url),
        "bootstrap": json.loads(json.dumps(BOOTSTRAP_VALUES)),
        "names": names,
        "stack": json.loads(json.dumps(STACK)),
        "github_token": "ghs_recorded",
        "release_managers_team_id": RELEASE_MANAGERS,
    }
    values.update(changes)
    return DoctorSettings(**values)


def check(
    server: RecordingServer, names: dict[str, Any], name: str, credential: Any = None, **changes: Any
) -> Any:
    settings = settings_for(server, names, **changes)
    return run_check(name, context(settings, credential or StaticCredential()))


def healthy_prod(server: RecordingServer) -> None:
    """A subscription, repository and organisation where every prod prerequisite holds."""
    server.add(
        f"{STATE}",
        {
            "id": STATE,
            "name": "stfcsttfstatep01",
            "properties": {
                "allowSharedKeyAccess": False,
                "networkAcls": {"defaultAction": "Deny"},
                "primaryEndpoints": {"blob": f"{server.url}/blob/"},
            },
        },
    )
    server.add(f"{STATE}/blobServices/default/containers/tfstate-prod", {"name": "tfstate-prod"})
    server.add(
        "/blob/tfstate-prod/forecast-stack/prod.tfstate",
        None,
        headers={
            "ETag": '"0x2"',
            "Last-Modified": "Mon, 07 Dec 2026 10:00:00 GMT",
            "x-ms-blob-type": "BlockBlob",
        },
    )
    server.add(
        "/blob/tfstate-prod",
        None,
        headers={"ETag": '"0x1"', "Last-Modified": "Mon, 07 Dec 2026 10:00:00 GMT"},
    )
    for identity in ("id-fcst-deploy-prod", "id-fcst-plan-prod"):
        server.add(f"{IDENTITIES}/{identity}", {"name": identity, "properties": {"principalId": "p"}})
    server.add(
        f"{IDENTITIES}/id-fcst-deploy-prod/federatedIdentityCredentials",
        {
            "value": [
                {
                    "name": "prod-github-prod",
                    "properties": {"issuer": ISSUER, "subject": f"{IMMUTABLE}:environment:prod"},
                }
            ]
        },
    )
    server.add(
        f"{IDENTITIES}/id-fcst-plan-prod/federatedIdentityCredentials",
        {
            "value": [
                {
                    "name": "prod-github-prod-plan",
                    "properties": {"issuer": ISSUER, "subject": f"{IMMUTABLE}:environment:prod-plan"},
                }
            ]
        },
    )
    server.add(
        f"/subscriptions/{SUB}/resourceGroups/rg-fcst-prod-weu/providers/Microsoft.Authorization/permissions",
        {"value": [{"actions": ["*/read"], "notActions": []}]},
    )
    server.add(
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/permissions",
        {"value": [{"actions": ["*"], "notActions": []}]},
    )
    for namespace in _providers():
        server.add(
            f"/subscriptions/{SUB}/providers/{namespace}",
            {"namespace": namespace, "registrationState": "Registered"},
        )
    server.add(
        f"{AML}/vmSizes",
        {
            "value": [
                {"name": "Standard_NC4as_T4_v3", "family": "standardNCASv3_T4Family", "vCPUs": 4},
                {"name": "Standard_DS3_v2", "family": "standardDSv2Family", "vCPUs": 4},
            ]
        },
    )
    server.add(
        f"{AML}/usages",
        {
            "value": [
                {
                    "name": {"value": "standardNCASv3_T4Family"},
                    "currentValue": 0,
                    "limit": 64,
                    "unit": "Count",
                },
                {"name": {"value": "standardDSv2Family"}, "currentValue": 8, "limit": 100, "unit": "Count"},
                {"name": {"value": "lowPriorityCores"}, "currentValue": 0, "limit": 100, "unit": "Count"},
            ]
        },
    )
    server.add(
        f"/repos/{ORG}/{NAME}",
        {"id": REPO_ID, "full_name": f"{ORG}/{NAME}", "owner": {"login": ORG, "id": ORG_ID}},
    )
    server.add(f"/repos/{ORG}/{NAME}/actions/oidc/customization/sub", {"use_default": True})
    for gh_env, reviewers in (("prod-plan", False), ("prod", True)):
        rules = (
            [{"type": "required_reviewers", "prevent_self_review": True, "reviewers": [{"type": "Team"}]}]
            if reviewers
            else []
        )
        server.add(
            f"/repos/{ORG}/{NAME}/environments/{gh_env}",
            {
                "name": gh_env,
                "can_admins_bypass": not reviewers,
                "protection_rules": rules,
                "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
            },
        )
        server.add(
            f"/repos/{ORG}/{NAME}/environments/{gh_env}/deployment-branch-policies",
            {"total_count": 1, "branch_policies": [{"name": "release/*", "type": "branch"}]},
        )
    server.add(
        f"{BOOT}/providers/GitHub.Network/networkSettings/ci-fcst-prod-weu",
        {"name": "ci-fcst-prod-weu", "tags": {"GitHubId": "NS-PROD"}, "properties": {}},
    )
    server.add(
        f"/orgs/{ORG}/actions/runner-groups",
        {
            "total_count": 1,
            "runner_groups": [
                {
                    "id": 7,
                    "name": "forecast-stack-prod",
                    "visibility": "selected",
                    "allows_public_repositories": False,
                    "restricted_to_workflows": True,
                    "selected_workflows": PROD_WORKFLOWS,
                    "network_configuration_id": "nc-1",
                }
            ],
        },
    )
    server.add(
        f"/orgs/{ORG}/actions/runner-groups/7/repositories",
        {"total_count": 1, "repositories": [{"id": REPO_ID}]},
    )
    server.add(
        f"/orgs/{ORG}/settings/network-configurations",
        {"network_configurations": [{"id": "nc-1", "network_settings_ids": ["NS-PROD"]}]},
    )
    server.add(
        f"/orgs/{ORG}/actions/hosted-runners",
        {"runners": [{"id": 1, "runner_group_id": 7, "status": "Ready"}]},
    )
    server.add(CONTENTS, contents(RELEASE_YML.read_text(encoding="utf-8")))
    server.add(
        f"/repos/{ORG}/{NAME}/rules/branches/release%2Fdoctor-probe",
        [
            {"type": "creation", "ruleset_id": 3},
            {"type": "update", "ruleset_id": 3},
            {"type": "deletion", "ruleset_id": 3},
        ],
    )
    server.add(f"/repos/{ORG}/{NAME}/rules/branches/main", [{**MAIN_REVIEW, "ruleset_id": 4}])
    server.add(
        f"/repos/{ORG}/{NAME}/rulesets/4",
        {
            "id": 4,
            "name": "main",
            "enforcement": "active",
            "bypass_actors": [
                {"actor_id": RELEASE_MANAGERS, "actor_type": "Team", "bypass_mode": "pull_request"}
            ],
        },
    )
    server.add(
        f"/repos/{ORG}/{NAME}/actions/permissions/workflow",
        {"default_workflow_permissions": "read", "can_approve_pull_request_reviews": False},
    )
    server.add(f"/repos/{ORG}/{NAME}/codeowners/errors", {"errors": []})
    server.add(
        f"/repos/{ORG}/{NAME}/rulesets/3",
        {
            "id": 3,
            "name": "release",
            "enforcement": "active",
            "bypass_actors": [{"actor_id": RELEASE_MANAGERS, "actor_type": "Team", "bypass_mode": "always"}],
        },
    )


def _providers() -> list[str]:
    from stackctl.doctor.azure_checks import providers_to_register

    class Ctx:
        settings = type("S", (), {"root": REPO})()

    return providers_to_register(Ctx())  # type: ignore[arg-type]


def backend(tmp_path: Path, account: str = "stfcsttfstatep01", container: str = "tfstate-prod") -> Path:
    """A checkout copy holding envs/prod/backend.hcl (and the bootstrap's main.tf the checks read)."""
    (tmp_path / "envs" / "prod").mkdir(parents=True)
    shutil.copytree(REPO / "envs" / "bootstrap", tmp_path / "envs" / "bootstrap")
    (tmp_path / "envs" / "prod" / "backend.hcl").write_text(
        f'resource_group_name  = "rg-fcst-bootstrap-weu"\nstorage_account_name = "{account}"\n'
        f'container_name       = "{container}"\nkey                  = "forecast-stack/prod.tfstate"\n'
    )
    return tmp_path


# --- the whole run -------------------------------------------------------------------------------


def test_every_check_passes_on_a_healthy_prod_in_order(
    server: RecordingServer, names: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = backend(tmp_path / "checkout")
    # first-data: the stack's lake (its HNS account) and the week's files in raw/weekly (the blob
    # listing itself: tests/stackctl/test_doctor_first_data.py).
    server.add(
        f"/subscriptions/{SUB}/resourceGroups/rg-fcst-prod-weu/providers/Microsoft.Storage/storageAccounts",
        {
            "value": [
                {
                    "name": "stdlfcstprod",
                    "properties": {"isHnsEnabled": True, "primaryEndpoints": {"blob": "https://l/"}},
                }
            ]
        },
    )
    monkeypatch.setattr(
        first_data, "weekly_files", lambda endpoint, credential: ["shipments.csv", "stores.csv"]
    )
    results = run_checks(context(settings_for(server, names, root=root), StaticCredential()))
    assert [(r.check, r.outcome) for r in results] == [
        (name, Outcome.PASS)
        for name in (
            "bootstrap-values",
            "identity",
            "providers",
            "bootstrap-state",
            "quotas",
            "federated-credentials",
            "ci-protection",
            "runner",
            "state-backend",
            "stack-values",
            "first-data",
        )
    ], [r for r in results if r.outcome is not Outcome.PASS]


def test_offline_every_remote_check_says_it_could_not_check(tmp_path: Path, names: dict[str, Any]) -> None:
    settings = DoctorSettings(
        env="prod",
        root=backend(tmp_path),
        subscription_id=None,
        endpoints=Endpoints(),
        bootstrap=BOOTSTRAP_VALUES,
        names=names,
        stack=STACK,
    )
    results = {r.check: r for r in run_checks(context(settings, None))}
    assert results["bootstrap-values"].outcome is Outcome.PASS
    for name in (
        "identity",
        "providers",
        "quotas",
        "bootstrap-state",
        "runner",
        "federated-credentials",
        "ci-protection",
    ):
        assert results[name].outcome is Outcome.UNCHECKED, name
        assert results[name].next_step
        assert "az login" in results[name].next_step or "GH_TOKEN" in results[name].next_step


def test_a_credential_that_cannot_log_in_leaves_azure_unchecked(
    server: RecordingServer, names: dict[str, Any]
) -> None:
    result = check(server, names, "identity", StaticCredential(fail=True))
    assert result.outcome is Outcome.UNCHECKED
    assert "az login" in str(result.next_step)


def test_only_a_check_that_could_not_run_fails_the_preflight(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """release.yml's preflight jobs run `--only ci-protection`: without a GitHub token it must not pass."""
    shutil.copytree(REPO / "envs" / "bootstrap", tmp_path / "envs" / "bootstrap")
    (tmp_path / "envs" / "bootstrap" / "terraform.tfvars").write_text(
        (REPO / "envs" / "bootstrap" / "example.tfvars").read_text()
    )
    monkeypatch.setattr(doctor_command, "repo_root", lambda: tmp_path)
    for variable in ("GH_TOKEN", "GITHUB_TOKEN", "AZURE_SUBSCRIPTION_ID", "ARM_SUBSCRIPTION_ID"):
        monkeypatch.delenv(variable, raising=False)
    parser = __import__("argparse").ArgumentParser()
    doctor_command.configure(parser)
    assert doctor_command.run(parser.parse_args(["--env", "prod", "--only", "ci-protection"])) == 1


def test_a_missing_bootstrap_tfvars_is_the_first_step(tmp_path: Path) -> None:
    from stackctl.doctor.run import doctor

    shutil.copytree(REPO / "envs" / "bootstrap", tmp_path / "envs" / "bootstrap")
    (tmp_path / "envs" / "bootstrap" / "terraform.tfvars").unlink(missing_ok=True)
    results = doctor("dev", tmp_path, environ={}, credential=None)
    assert results[0].outcome is Outcome.FAIL
    assert "example.tfvars" in str(results[0].next_step)


def test_bad_bootstrap_values_fail_with_terraform_s_own_message(tmp_path: Path) -> None:
    from stackctl.doctor.run import doctor

    shutil.copytree(REPO / "envs" / "bootstrap", tmp_path / "envs" / "bootstrap")
    text = (
        (REPO / "envs" / "bootstrap" / "example.tfvars")
        .read_text()
        .replace('owner_id      = "1000001"', 'owner_id      = "contoso"')
    )
    (tmp_path / "envs" / "bootstrap" / "terraform.tfvars").write_text(text)
    results = doctor("dev", tmp_path, environ={}, credential=None)
    assert results[0].check == "bootstrap-values"
    assert results[0].outcome is Outcome.FAIL
    assert "owner_id" in results[0].detail


# --- one check at a time: each failure the next step names -----------------------------------------


def test_identity_before_the_bootstrap_needs_owner_rights(
    server: RecordingServer, names: dict[str, Any]
) -> None:
    server.add(STATE, None, status=404)
    assert check(server, names, "identity").outcome is Outcome.PASS  # "*" on the subscription
    server.add(
        f"/subscriptions/{SUB}/providers/Microsoft.Authorization/permissions",
        {"value": [{"actions": ["*"], "notActions": ["Microsoft.Authorization/*/write"]}]},
    )
    result = check(server, names, "identity")
    assert result.outcome is Outcome.FAIL
    assert "roleAssignments/write" in result.detail
    assert "owner@contoso.example" in result.detail


def test_identity_after_the_bootstrap_needs_to_read_the_stack(
    server: RecordingServer, names: dict[str, Any]
) -> None:
    assert check(server, names, "identity").outcome is Outcome.PASS
    server.add(
        f"/subscriptions/{SUB}/resourceGroups/rg-fcst-prod-weu/providers/Microsoft.Authorization/permissions",
        {"value": []},
    )
    assert check(server, names, "identity").outcome is Outcome.FAIL


def test_an_unregistered_provider_is_named(server: RecordingServer, names: dict[str, Any]) -> None:
    server.add(
        f"/subscriptions/{SUB}/providers/Microsoft.PowerPlatform",
        {"namespace": "Microsoft.PowerPlatform", "registrationState": "NotRegistered"},
    )
    result = check(server, names, "providers")
    assert result.outcome is Outcome.FAIL
    assert "Microsoft.PowerPlatform" in result.detail
    assert "az provider register" in str(result.next_step)


@pytest.mark.parametrize(
    ("usage", "size", "expected", "words"),
    [
        (
            {"name": {"value": "standardNCASv3_T4Family"}, "currentValue": 60, "limit": 64},
            None,
            Outcome.FAIL,
            "needs 8 cores, 4 free",
        ),
        (None, "Standard_NC96_vX", Outcome.FAIL, "not offered"),
        (
            {"name": {"value": "somethingElse"}, "currentValue": 0, "limit": 1},
            None,
            Outcome.UNCHECKED,
            "no usage",
        ),
    ],
    ids=["short-of-cores", "size-not-in-region", "usage-not-reported"],
)
def test_quotas(
    server: RecordingServer, names: dict[str, Any], usage: Any, size: Any, expected: Outcome, words: str
) -> None:
    stack = json.loads(json.dumps(STACK))
    if size:
        stack["aml"]["gpu_vm_size"] = size
    if usage:
        others = [{"name": {"value": "standardDSv2Family"}, "currentValue": 0, "limit": 100}]
        server.add(f"{AML}/usages", {"value": [usage, *others]})
    result = check(server, names, "quotas", stack=stack)
    assert result.outcome is expected, result
    assert words in result.detail


def test_low_priority_clusters_draw_on_the_shared_quota(
    server: RecordingServer, names: dict[str, Any]
) -> None:
    stack = json.loads(json.dumps(STACK))
    stack["aml"]["vm_priority"] = "LowPriority"
    server.add(
        f"{AML}/usages",
        {"value": [{"name": {"value": "lowPriorityCores"}, "currentValue": 95, "limit": 100}]},
    )
    result = check(server, names, "quotas", stack=stack)
    assert result.outcome is Outcome.FAIL
    assert "lowPriorityCores: needs 16 cores, 5 free" in result.detail


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        (STATE, None, 404, "no state storage account"),
        (
            STATE,
            {
                "id": STATE,
                "name": "x",
                "properties": {"allowSharedKeyAccess": True, "networkAcls": {"defaultAction": "Deny"}},
            },
            200,
            "shared keys",
        ),
        (f"{STATE}/blobServices/default/containers/tfstate-prod", None, 404, "tfstate-prod"),
        (f"{IDENTITIES}/id-fcst-plan-prod", None, 404, "id-fcst-plan-prod"),
    ],
    ids=["no-account", "shared-keys", "no-container", "no-plan-identity"],
)
def test_bootstrap_state(
    server: RecordingServer, names: dict[str, Any], path: str, body: Any, status: int, words: str
) -> None:
    assert check(server, names, "bootstrap-state").outcome is Outcome.PASS
    server.add(path, body, status=status)
    result = check(server, names, "bootstrap-state")
    assert result.outcome is Outcome.FAIL
    assert words in result.detail


def test_an_identity_trusting_the_legacy_subject_fails_for_an_immutable_repository(
    server: RecordingServer, names: dict[str, Any]
) -> None:
    server.add(
        f"{IDENTITIES}/id-fcst-deploy-prod/federatedIdentityCredentials",
        {"value": [{"properties": {"issuer": ISSUER, "subject": f"repo:{ORG}/{NAME}:environment:prod"}}]},
    )
    result = check(server, names, "federated-credentials")
    assert result.outcome is Outcome.FAIL
    assert f"identity: {IMMUTABLE}:environment:prod" in result.detail


@pytest.mark.parametrize(
    ("identity", "issuer", "subject"),
    [
        ("id-fcst-deploy-prod", ISSUER, f"{IMMUTABLE}:ref:refs/heads/*"),
        ("id-fcst-deploy-prod", ISSUER, f"{IMMUTABLE}:pull_request"),
        ("id-fcst-plan-prod", ISSUER, f"repo:{ORG}/{NAME}:environment:prod-plan"),
        ("id-fcst-deploy-prod", "https://vstoken.dev.azure.com/0000", f"{IMMUTABLE}:environment:prod"),
        ("id-fcst-plan-prod", ISSUER, f"{IMMUTABLE}:environment:dev-plan"),
    ],
    ids=["any-branch", "pull-requests", "legacy-left-after-migration", "other-issuer", "dev-s-subject"],
)
def test_an_extra_credential_on_prod_s_identities_fails(
    server: RecordingServer, names: dict[str, Any], identity: str, issuer: str, subject: str
) -> None:
    """Review 23, A4: only missing subjects failed; an extra one gives its job the identity."""
    assert check(server, names, "federated-credentials").outcome is Outcome.PASS
    path = f"{IDENTITIES}/{identity}/federatedIdentityCredentials"
    listed = json.loads(json.dumps(server.routes[path].body))
    listed["value"].append({"name": "extra", "properties": {"issuer": issuer, "subject": subject}})
    server.add(path, listed)
    result = check(server, names, "federated-credentials")
    assert result.outcome is Outcome.FAIL
    assert f"{subject} (issuer {issuer})" in result.detail


def test_the_legacy_subject_is_expected_while_the_bootstrap_migrates(
    server: RecordingServer, names: dict[str, Any]
) -> None:
    path = f"{IDENTITIES}/id-fcst-deploy-prod/federatedIdentityCredentials"
    listed = json.loads(json.dumps(server.routes[path].body))
    legacy = {"issuer": ISSUER, "subject": f"repo:{ORG}/{NAME}:environment:prod"}
    listed["value"].append({"name": "prod-github-prod-legacy", "properties": legacy})
    server.add(path, listed)
    bootstrap = json.loads(json.dumps(BOOTSTRAP_VALUES))
    bootstrap["github"]["subject_forms"] = ["immutable", "legacy"]
    assert check(server, names, "federated-credentials", bootstrap=bootstrap).outcome is Outcome.PASS
    assert check(server, names, "federated-credentials").outcome is Outcome.FAIL


def test_the_repository_s_own_sub_claim_prefix_wins(server: RecordingServer, names: dict[str, Any]) -> None:
    server.add(
        f"/repos/{ORG}/{NAME}/actions/oidc/customization/sub",
        {"use_default": False, "sub_claim_prefix": f"repo:{ORG}/{NAME}"},
    )
    result = check(server, names, "federated-credentials")
    assert result.outcome is Outcome.FAIL
    assert f"repo:{ORG}/{NAME}:environment:prod-plan" in result.detail


def test_ids_in_the_bootstrap_that_are_not_github_s_are_named(
    server: RecordingServer, names: dict[str, Any]
) -> None:
    bootstrap = json.loads(json.dumps(BOOTSTRAP_VALUES))
    bootstrap["github"]["repository_id"] = "999"
    result = check(server, names, "federated-credentials", bootstrap=bootstrap)
    assert result.outcome is Outcome.FAIL
    assert "are not GitHub's (1000001/2000002)" in result.detail


def test_an_azure_devops_connection_s_subject_must_be_trusted(
    server: RecordingServer, names: dict[str, Any]
) -> None:
    bootstrap = json.loads(json.dumps(BOOTSTRAP_VALUES))
    subject = (
        "/eid1/c/pub/t/AbC/a/DeF/sc/00000000-0000-0000-0000-000000000001/00000000-0000-0000-0000-000000000002"
    )
    issuer = f"https://login.microsoftonline.com/{TENANT}/v2.0"
    bootstrap["azure_devops"] = {
        "organization": "contoso",
        "project": "forecast",
        "service_connections": {"prod": {"issuer": issuer, "subject": subject}},
    }
    result = check(server, names, "federated-credentials", bootstrap=bootstrap)
    assert result.outcome is Outcome.FAIL
    assert subject in result.detail


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda env: env.update(protection_rules=[]), "no required reviewers"),
        (lambda env: env["protection_rules"][0].update(prevent_self_review=False), "approve their own runs"),
        (lambda env: env.update(can_admins_bypass=True), "bypass"),
        (
            lambda env: env.update(
                deployment_branch_policy={"protected_branches": True, "custom_branch_policies": False}
            ),
            "no custom deployment-branch policy",
        ),
    ],
    ids=["no-reviewers", "self-review", "admin-bypass", "protected-branches-only"],
)
def test_prod_s_github_protection(
    server: RecordingServer, names: dict[str, Any], change: Any, words: str
) -> None:
    assert check(server, names, "ci-protection").outcome is Outcome.PASS
    path = f"/repos/{ORG}/{NAME}/environments/prod"
    environment = json.loads(json.dumps(server.routes[path].body))
    change(environment)
    server.add(path, environment)
    result = check(server, names, "ci-protection")
    assert result.outcome is Outcome.FAIL
    assert words in result.detail


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        ([], "no ruleset with creation, update"),
        ([{"type": "creation"}], "no ruleset with update"),
        ([{"type": "deletion"}, {"type": "pull_request"}], "no ruleset with creation, update"),
    ],
    ids=["no-ruleset", "creation-only", "other-rules"],
)
def test_release_branches_need_a_ruleset(
    server: RecordingServer, names: dict[str, Any], rules: Any, words: str
) -> None:
    server.add(f"/repos/{ORG}/{NAME}/rules/branches/release%2Fdoctor-probe", rules)
    result = check(server, names, "ci-protection")
    assert result.outcome is Outcome.FAIL
    assert f"release/*: {words}" in result.detail


def test_a_plan_environment_open_to_every_branch_is_caught(
    server: RecordingServer, names: dict[str, Any]
) -> None:
    server.add(
        f"/repos/{ORG}/{NAME}/environments/prod-plan/deployment-branch-policies",
        {"branch_policies": [{"name": "release/*", "type": "branch"}, {"name": "*", "type": "branch"}]},
    )
    result = check(server, names, "ci-protection")
    assert result.outcome is Outcome.FAIL
    assert "prod-plan: branches ['*', 'release/*']" in result.detail


# --- review 23, A2: main's review is real, and no workflow approves a pull request ------------------


def _main_rules(**parameters: Any) -> list[dict[str, Any]]:
    rule = json.loads(json.dumps(MAIN_REVIEW))
    rule["parameters"].update(parameters)
    return [{**rule, "ruleset_id": 4}]


@pytest.mark.parametrize(
    ("rules", "words"),
    [
        (_main_rules(required_approving_review_count=0), "main: pull requests need 0 approvals"),
        (_main_rules(require_last_push_approval=False), "do not require approval of the most recent push"),
        (_main_rules(dismiss_stale_reviews_on_push=False), "do not require stale approvals dismissed"),
        (_main_rules(require_code_owner_review=False), "do not require a code owner's review"),
        ([{"type": "pull_request", "ruleset_id": 4}], "main: pull requests need 0 approvals"),
        ([{"type": "deletion", "ruleset_id": 4}], "main: no ruleset with pull_request"),
    ],
    ids=["no-approval", "approve-then-push", "stale-approval", "no-code-owner", "no-parameters", "no-rule"],
)
@pytest.mark.parametrize("env", ["prod", "dev"])
def test_main_needs_a_real_review(
    server: RecordingServer, names: dict[str, Any], rules: Any, words: str, env: str
) -> None:
    """prod is cut from main, dev deploys it: both check main's pull_request rule."""
    if env == "dev":
        _dev_environments(server)
    assert check(server, names, "ci-protection", env=env).outcome is Outcome.PASS
    server.add(f"/repos/{ORG}/{NAME}/rules/branches/main", rules)
    result = check(server, names, "ci-protection", env=env)
    assert result.outcome is Outcome.FAIL
    assert words in result.detail


def _dev_environments(server: RecordingServer) -> None:
    for gh_env in ("dev-plan", "dev"):
        server.add(
            f"/repos/{ORG}/{NAME}/environments/{gh_env}",
            {
                "name": gh_env,
                "protection_rules": [],
                "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
            },
        )
        server.add(
            f"/repos/{ORG}/{NAME}/environments/{gh_env}/deployment-branch-policies",
            {"branch_policies": [{"name": "main", "type": "branch"}]},
        )


def test_several_pull_request_rules_combine_the_most_restrictive(
    server: RecordingServer, names: dict[str, Any]
) -> None:
    loose = _main_rules(required_approving_review_count=0, require_code_owner_review=False)
    strict = _main_rules(required_approving_review_count=2)
    server.add(f"/repos/{ORG}/{NAME}/rules/branches/main", loose + strict)
    assert check(server, names, "ci-protection").outcome is Outcome.PASS


@pytest.mark.parametrize(
    ("path", "body", "status", "words"),
    [
        (
            "actions/permissions/workflow",
            {"default_workflow_permissions": "read", "can_approve_pull_request_reviews": True},
            200,
            "Actions may approve pull requests",
        ),
        (
            "actions/permissions/workflow",
            {"default_workflow_permissions": "write"},
            200,
            "Actions may approve",
        ),
        ("actions/permissions/workflow", {"message": "x"}, 403, "not visible to this token"),
        ("codeowners/errors", None, 404, "main: no CODEOWNERS file"),
        (
            "codeowners/errors",
            {
                "errors": [
                    {
                        "line": 3,
                        "kind": "Unknown owner",
                        "source": ".github/ @contoso/release-managers\n",
                    }
                ]
            },
            200,
            "main: CODEOWNERS line 3: Unknown owner (.github/ @contoso/release-managers)",
        ),
    ],
    ids=["actions-approve", "setting-absent", "setting-hidden", "no-codeowners", "codeowners-error"],
)
@pytest.mark.parametrize("env", ["prod", "dev"])
def test_no_workflow_approves_and_code_owners_parse(
    server: RecordingServer, names: dict[str, Any], path: str, body: Any, status: int, words: str, env: str
) -> None:
    if env == "dev":
        _dev_environments(server)
    server.add(f"/repos/{ORG}/{NAME}/{path}", body, status=status)
    result = check(server, names, "ci-protection", env=env)
    assert result.outcome is Outcome.FAIL
    assert words in result.detail


def test_the_preflight_names_the_workflow_setting_its_token_cannot_read(
    server: RecordingServer, tmp_path: Path
) -> None:
    """The job token has no Administration: read; the preflight passes and says what it left to make
    doctor, as for the rulesets' bypass lists."""
    from stackctl.doctor.run import doctor

    server.add(f"/repos/{ORG}/{NAME}/actions/permissions/workflow", {"message": "x"}, status=403)
    shutil.copytree(REPO / "envs" / "bootstrap", tmp_path / "envs" / "bootstrap")
    (tmp_path / "envs" / "bootstrap" / "terraform.tfvars").unlink(missing_ok=True)
    environ = {"GITHUB_API_URL": server.url, "GH_TOKEN": "ghs_recorded", "GITHUB_REPOSITORY": f"{ORG}/{NAME}"}
    environ["FORECAST_STACK_RELEASE_MANAGERS_TEAM_ID"] = str(RELEASE_MANAGERS)
    (result,) = doctor("prod", tmp_path, only=["ci-protection"], environ=environ, credential=None)
    assert result.outcome is Outcome.PASS, result
    assert "not checked: the Actions workflow permissions are not visible" in result.detail


# --- review 23, A3: a tag deployment policy opens an environment to any writer's tag -----------------


@pytest.mark.parametrize(
    ("env", "gh_env", "policies", "words"),
    [
        (
            "prod",
            "prod-plan",
            [{"name": "release/*", "type": "branch"}, {"name": "*", "type": "tag"}],
            "prod-plan: admits tag '*'",
        ),
        (
            "prod",
            "prod",
            [{"name": "release/*", "type": "branch"}, {"name": "release/*", "type": "tag"}],
            "prod: admits tag 'release/*'",
        ),
        ("prod", "prod", [{"name": "release/*", "type": "tag"}], "prod: admits tag 'release/*'"),
        (
            "dev",
            "dev-plan",
            [{"name": "main", "type": "branch"}, {"name": "v*", "type": "tag"}],
            "admits tag",
        ),
    ],
    ids=["plan-any-tag", "prod-release-tags", "prod-tags-only", "dev-plan-version-tags"],
)
def test_a_tag_deployment_policy_fails(
    server: RecordingServer, names: dict[str, Any], env: str, gh_env: str, policies: Any, words: str
) -> None:
    if env == "dev":
        _dev_environments(server)
    assert check(server, names, "ci-protection", env=env).outcome is Outcome.PASS
    server.add(
        f"/repos/{ORG}/{NAME}/environments/{gh_env}/deployment-branch-policies", {"branch_policies": policies}
    )
    result = check(server, names, "ci-protection", env=env)
    assert result.outcome is Outcome.FAIL
    assert words in result.detail


@pytest.mark.parametrize(
    ("policy", "policies", "words"),
    [
        ({"protected_branches": False, "custom_branch_policies": True}, [{"name": "main"}], ""),
        (None, [], "provider-locks: no custom deployment-branch policy"),
        (
            {"protected_branches": False, "custom_branch_policies": True},
            [{"name": "*", "type": "branch"}],
            "provider-locks: branches ['*'] instead of only main",
        ),
        (
            {"protected_branches": False, "custom_branch_policies": True},
            [{"name": "main", "type": "branch"}, {"name": "*", "type": "tag"}],
            "provider-locks: admits tag '*'",
        ),
    ],
    ids=["main-only", "any-branch", "wildcard", "tags"],
)
def test_the_provider_locks_app_key_reaches_only_main(
    server: RecordingServer, names: dict[str, Any], policy: Any, policies: Any, words: str
) -> None:
    """The environment holding the GitHub App's key (it can open and approve pull requests)."""
    path = f"/repos/{ORG}/{NAME}/environments/provider-locks"
    server.add(path, {"name": "provider-locks", "deployment_branch_policy": policy})
    server.add(f"{path}/deployment-branch-policies", {"branch_policies": policies})
    result = check(server, names, "ci-protection")
    assert result.outcome is (Outcome.FAIL if words else Outcome.PASS), result
    assert words in result.detail


DEVOPS = "/contoso/forecast/_apis"
APPROVAL = {"type": {"name": "Approval"}, "settings": {"requesterCannotBeApprover": True}}
LOCK = {"type": {"name": "ExclusiveLock"}, "settings": {}}


def branch_control(
    branches: str = "refs/heads/release/*", verify: str = "true", unknown: str = "false"
) -> dict[str, Any]:
    """A Branch control check as the checks API returns it (a Task Check, evaluatebranchProtection)."""
    return {
        "type": {"name": "Task Check"},
        "settings": {
            "definitionRef": {
                "id": "86b05a0c-73e6-4f7d-b3cf-e38f3b39a75b",
                "name": "evaluatebranchProtection",
            },
            "inputs": {
                "allowedBranches": branches,
                "ensureProtectionOfBranch": verify,
                "allowUnknownStatusBranch": unknown,
            },
        },
    }


# Azure Repos' Git security namespace (review 23, A5): who may create branches under release/.
PROJECT_GUID, REPO_GUID = "11111111-0000-0000-0000-000000000001", "22222222-0000-0000-0000-000000000002"
ACL_PATH = "/contoso/_apis/accesscontrollists/2e9eb7ed-3c0a-47d4-87c1-0ffdd275fd87"
RELEASE_FOLDER = f"repoV2/{PROJECT_GUID}/{REPO_GUID}/refs/heads/{'release'.encode('utf-16-le').hex()}/"
CONTRIBUTORS = "Microsoft.TeamFoundation.Identity;S-1-9-1551374245-contributors"
RM = "Microsoft.TeamFoundation.Identity;S-1-9-1551374245-release-managers"
PROJECT_BUILD = "Microsoft.TeamFoundation.ServiceIdentity;project-build-service"
COLLECTION_BUILD = "Microsoft.TeamFoundation.ServiceIdentity;collection-build-service"
READ_CONTRIBUTE_CREATE = 2 | 4 | 16


def ace(descriptor: str, allow: int = 0, deny: int = 0) -> dict[str, Any]:
    return {"descriptor": descriptor, "allow": allow, "deny": deny}


def acl(token: str, *aces: dict[str, Any], inherit: bool = True) -> dict[str, Any]:
    return {
        "token": token,
        "inheritPermissions": inherit,
        "acesDictionary": {a["descriptor"]: a for a in aces},
    }


# Azure DevOps' defaults (contributors and both build services may create branches in the repository),
# with "Create branch" denied under release/ to all of them and allowed to the release managers.
HEALTHY_ACLS = [
    acl("repoV2", ace(COLLECTION_BUILD, READ_CONTRIBUTE_CREATE)),
    acl(
        f"repoV2/{PROJECT_GUID}",
        ace(CONTRIBUTORS, READ_CONTRIBUTE_CREATE),
        ace(PROJECT_BUILD, READ_CONTRIBUTE_CREATE),
    ),
    acl(f"repoV2/{PROJECT_GUID}/{REPO_GUID}", ace(RM, 2)),
    acl(
        RELEASE_FOLDER,
        ace(CONTRIBUTORS, deny=16),
        ace(PROJECT_BUILD, deny=16),
        ace(COLLECTION_BUILD, deny=16),
        ace(RM, allow=16),
    ),
]


def git_acls(server: RecordingServer, acls: list[dict[str, Any]]) -> None:
    """The ACL query's answers: the namespace root alone, and the project's tokens recursively."""
    root = [a for a in acls if a["token"] == "repoV2"]
    project = [a for a in acls if a["token"] != "repoV2"]
    server.add(f"{ACL_PATH}?token=repoV2&recurse=false", {"count": len(root), "value": root})
    server.add(
        f"{ACL_PATH}?token=repoV2/{PROJECT_GUID}&recurse=true", {"count": len(project), "value": project}
    )


def _resource_checks(
    server: RecordingServer, kind: str, resource_id: str, checks: list[dict[str, Any]]
) -> None:
    server.add(
        f"{DEVOPS}/pipelines/checks/configurations?resourceType={kind}&resourceId={resource_id}",
        {"count": len(checks), "value": checks},
    )


def _azure_devops(
    server: RecordingServer,
    checks: list[dict[str, Any]],
    connection: list[dict[str, Any]] | None = None,
    plan: list[dict[str, Any]] | None = None,
    pool: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Prod's Azure DevOps project: the environment's checks are `checks`; the service connections and
    the pool carry the full set unless given."""
    server.add(
        f"{DEVOPS}/distributedtask/environments", {"count": 1, "value": [{"id": 12, "name": "forecast-prod"}]}
    )
    server.add(
        f"{DEVOPS}/serviceendpoint/endpoints?endpointNames=forecast-prod", {"value": [{"id": "se-deploy"}]}
    )
    server.add(
        f"{DEVOPS}/serviceendpoint/endpoints?endpointNames=forecast-prod-plan", {"value": [{"id": "se-plan"}]}
    )
    server.add(f"{DEVOPS}/distributedtask/queues?queueName=ci-fcst-prod-weu", {"value": [{"id": 31}]})
    _resource_checks(server, "environment", "12", checks)
    _resource_checks(
        server,
        "endpoint",
        "se-deploy",
        [APPROVAL, LOCK, branch_control()] if connection is None else connection,
    )
    _resource_checks(server, "endpoint", "se-plan", [branch_control()] if plan is None else plan)
    _resource_checks(server, "queue", "31", [branch_control()] if pool is None else pool)
    server.add(
        f"{DEVOPS}/git/repositories/forecast",
        {"id": REPO_GUID, "name": "forecast", "project": {"id": PROJECT_GUID}},
    )
    git_acls(server, HEALTHY_ACLS)
    bootstrap = json.loads(json.dumps(BOOTSTRAP_VALUES))
    bootstrap["azure_devops"] = {
        "organization": "contoso",
        "project": "forecast",
        "release_managers": RM,
        "service_connections": {},
    }
    return bootstrap


@pytest.mark.parametrize(
    ("checks", "outcome", "words"),
    [
        (
            [
                {"type": {"name": "Approval"}, "settings": {"requesterCannotBeApprover": True}},
                {"type": {"name": "ExclusiveLock"}, "settings": {}},
            ],
            Outcome.PASS,
            "",
        ),
        (
            [
                {"type": {"name": "Approval"}, "settings": {"requesterCannotBeApprover": False}},
                {"type": {"name": "ExclusiveLock"}, "settings": {}},
            ],
            Outcome.FAIL,
            "requesterCanApprove",
        ),
        (
            [{"type": {"name": "Approval"}, "settings": {"requesterCannotBeApprover": True}}],
            Outcome.FAIL,
            "no Exclusive lock",
        ),
        ([{"type": {"name": "ExclusiveLock"}, "settings": {}}], Outcome.FAIL, "no Approvals check"),
    ],
    ids=["protected", "requester-can-approve", "no-lock", "no-approval"],
)
def test_azure_devops_prod_checks(
    server: RecordingServer, names: dict[str, Any], checks: Any, outcome: Outcome, words: str
) -> None:
    result = check(server, names, "ci-protection", bootstrap=_azure_devops(server, checks))
    assert result.outcome is outcome
    assert words in result.detail


@pytest.mark.parametrize(
    ("path", "body", "words"),
    [
        (
            f"/orgs/{ORG}/actions/runner-groups",
            {
                "runner_groups": [
                    {
                        "id": 7,
                        "name": "forecast-stack-prod",
                        "visibility": "selected",
                        "restricted_to_workflows": False,
                    }
                ]
            },
            "is not restricted",
        ),
        (
            f"/orgs/{ORG}/actions/runner-groups/7/repositories",
            {"repositories": [{"id": REPO_ID}, {"id": 5}]},
            "not only this one",
        ),
        (
            f"/orgs/{ORG}/settings/network-configurations",
            {"network_configurations": []},
            "no network configuration",
        ),
        (f"/orgs/{ORG}/actions/hosted-runners", {"runners": []}, "no GitHub-hosted runner"),
        (f"{BOOT}/providers/GitHub.Network/networkSettings/ci-fcst-prod-weu", None, "run the bootstrap"),
    ],
    ids=[
        "group-any-workflow",
        "group-other-repository",
        "no-network-configuration",
        "no-hosted-runner",
        "no-network-settings",
    ],
)
def test_prod_s_github_runner(
    server: RecordingServer, names: dict[str, Any], path: str, body: Any, words: str
) -> None:
    assert check(server, names, "runner").outcome is Outcome.PASS
    server.add(path, body, status=404 if body is None else 200)
    result = check(server, names, "runner")
    assert result.outcome is Outcome.FAIL
    assert words in result.detail


@pytest.mark.parametrize(
    ("pool", "outcome", "words"),
    [
        ({"name": "ci-fcst-prod-weu", "properties": {"provisioningState": "Succeeded"}}, Outcome.PASS, ""),
        (
            {
                "name": "ci-fcst-prod-weu",
                "identity": {"type": "UserAssigned"},
                "properties": {"provisioningState": "Succeeded"},
            },
            Outcome.FAIL,
            "managed identity",
        ),
        (
            {"name": "ci-fcst-prod-weu", "properties": {"provisioningState": "Failed"}},
            Outcome.FAIL,
            "is Failed",
        ),
    ],
    ids=["healthy", "pool-identity", "failed"],
)
def test_a_managed_devops_pool(
    server: RecordingServer, names: dict[str, Any], pool: Any, outcome: Outcome, words: str
) -> None:
    server.add(f"{BOOT}/providers/Microsoft.DevOpsInfrastructure/pools/ci-fcst-prod-weu", pool)
    bootstrap = json.loads(json.dumps(BOOTSTRAP_VALUES))
    bootstrap["ci_runner"]["platform"] = "azure-pipelines"
    result = check(server, names, "runner", bootstrap=bootstrap)
    assert result.outcome is outcome
    assert words in result.detail


def test_state_backend(server: RecordingServer, names: dict[str, Any], tmp_path: Path) -> None:
    assert check(server, names, "state-backend", root=backend(tmp_path / "a")).outcome is Outcome.PASS
    wrong = check(server, names, "state-backend", root=backend(tmp_path / "b", container="tfstate-dev"))
    assert wrong.outcome is Outcome.FAIL
    assert "tfstate-dev" in wrong.detail
    missing = check(server, names, "state-backend", root=tmp_path / "c")
    assert missing.outcome is Outcome.FAIL
    assert "backend.hcl is missing" in missing.detail
    server.add(
        "/blob/tfstate-prod", {"error": "x"}, status=403, headers={"x-ms-error-code": "AuthorizationFailure"}
    )
    blocked = check(server, names, "state-backend", root=backend(tmp_path / "d"))
    assert blocked.outcome is Outcome.FAIL
    assert "state_allowed_ip_ranges" in str(blocked.next_step)


def test_the_first_state_must_exist_before_the_first_plan(
    server: RecordingServer, names: dict[str, Any], tmp_path: Path
) -> None:
    """Walk review B1: the plan identity cannot create the state; the bootstrap writes it."""
    assert check(server, names, "state-backend", root=backend(tmp_path / "a")).outcome is Outcome.PASS
    server.add("/blob/tfstate-prod/forecast-stack/prod.tfstate", None, status=404)
    missing = check(server, names, "state-backend", root=backend(tmp_path / "b"))
    assert missing.outcome is Outcome.FAIL
    assert "forecast-stack/prod.tfstate does not exist" in missing.detail
    assert "scripts/bootstrap_state.sh" in str(missing.next_step)


def test_names_come_from_terraform(names: dict[str, Any]) -> None:
    """The names the recorded responses use are the ones naming.tf gives (so the routes above are real)."""
    assert names["bootstrap_resource_group"] == "rg-fcst-bootstrap-weu"
    assert names["runner"]["prod"] == "ci-fcst-prod-weu"
    assert names["plan_identity"]["prod"] == "id-fcst-plan-prod"


def test_the_preflight_reads_its_repository_from_github_actions(
    server: RecordingServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In CI there is no bootstrap tfvars: the preflight (`--only ci-protection`) takes the repository
    from GITHUB_REPOSITORY, and without one it fails rather than pass on nothing."""
    from stackctl.doctor.run import doctor

    shutil.copytree(REPO / "envs" / "bootstrap", tmp_path / "envs" / "bootstrap")
    (tmp_path / "envs" / "bootstrap" / "terraform.tfvars").unlink(missing_ok=True)
    environ = {
        "GITHUB_API_URL": server.url,
        "GH_TOKEN": "ghs_recorded",
        "GITHUB_REPOSITORY": f"{ORG}/{NAME}",
        "FORECAST_STACK_RELEASE_MANAGERS_TEAM_ID": str(RELEASE_MANAGERS),
    }
    (result,) = doctor("prod", tmp_path, only=["ci-protection"], environ=environ, credential=None)
    assert result.outcome is Outcome.PASS, result
    server.add(f"/repos/{ORG}/{NAME}/environments/prod", None, status=404)
    (result,) = doctor("prod", tmp_path, only=["ci-protection"], environ=environ, credential=None)
    assert result.outcome is Outcome.FAIL
    assert "prod: no such environment" in result.detail
    del environ["GITHUB_REPOSITORY"]
    (result,) = doctor("prod", tmp_path, only=["ci-protection"], environ=environ, credential=None)
    assert result.outcome is Outcome.UNCHECKED


def healthy_dev_runner(server: RecordingServer) -> dict[str, Any]:
    """Dev's runner group (id 8), network settings and hosted runner, all as they should be."""
    group = {
        "id": 8,
        "name": "forecast-stack-dev",
        "visibility": "selected",
        "restricted_to_workflows": True,
        "selected_workflows": [f"{ORG}/{NAME}/.github/workflows/release.yml@refs/heads/main"],
        "network_configuration_id": "nc-dev",
    }
    server.add(f"/orgs/{ORG}/actions/runner-groups", {"runner_groups": [group]})
    server.add(f"/orgs/{ORG}/actions/runner-groups/8/repositories", {"repositories": [{"id": REPO_ID}]})
    server.add(
        f"{BOOT}/providers/GitHub.Network/networkSettings/ci-fcst-dev-weu", {"tags": {"GitHubId": "NS-DEV"}}
    )
    server.add(
        f"/orgs/{ORG}/settings/network-configurations",
        {"network_configurations": [{"id": "nc-dev", "network_settings_ids": ["NS-DEV"]}]},
    )
    server.add(f"/orgs/{ORG}/actions/hosted-runners", {"runners": [{"runner_group_id": 8}]})
    return group


def test_dev_s_group_is_restricted_to_release_yml_on_main(
    server: RecordingServer, names: dict[str, Any]
) -> None:
    """A pull-request job in dev's runner VNet would reach dev's storage by VNet rule: dev's group, too,
    admits only release.yml, and only on main."""
    group = healthy_dev_runner(server)
    assert check(server, names, "runner", env="dev").outcome is Outcome.PASS
    group["selected_workflows"] = [f"{ORG}/{NAME}/.github/workflows/release.yml@refs/heads/*"]
    server.add(f"/orgs/{ORG}/actions/runner-groups", {"runner_groups": [group]})
    result = check(server, names, "runner", env="dev")
    assert result.outcome is Outcome.FAIL
    assert "release.yml@refs/heads/main" in result.detail
    # main's own deploy.yml (2e75381), the reusable workflow the attacker review called from a branch
    group["selected_workflows"] = [f"{ORG}/{NAME}/.github/workflows/deploy.yml@refs/heads/main"]
    server.add(f"/orgs/{ORG}/actions/runner-groups", {"runner_groups": [group]})
    assert "is not restricted to" in check(server, names, "runner", env="dev").detail


# --- review finding 1: a runner group's selected workflows match refs exactly, never a pattern ------

WORKFLOW = f"{ORG}/{NAME}/.github/workflows/release.yml"


@pytest.mark.parametrize(
    ("workflows", "words"),
    [
        ([f"{WORKFLOW}@refs/heads/release/*"], "GitHub matches no patterns"),
        (
            [*PROD_WORKFLOWS, f"{WORKFLOW}@refs/heads/release/**"],
            "admits " + WORKFLOW + "@refs/heads/release/**",
        ),
        ([f"{WORKFLOW}@refs/heads/main"], "admits " + WORKFLOW + "@refs/heads/main"),
        ([f"{ORG}/other/.github/workflows/deploy.yml@refs/heads/release/1"], f"admits {ORG}/other/"),
        ([f"{ORG}/{NAME}/.github/workflows/deploy.yml@refs/heads/release/1"], "deploy.yml@"),
        ([], "is not restricted"),
    ],
    ids=["review-wildcard", "double-star", "main", "other-repo", "other-workflow", "empty"],
)
def test_prod_s_group_lists_release_refs_exactly(
    server: RecordingServer, names: dict[str, Any], workflows: list[str], words: str
) -> None:
    group = json.loads(json.dumps(server.routes[f"/orgs/{ORG}/actions/runner-groups"].body))
    group["runner_groups"][0]["selected_workflows"] = workflows
    server.add(f"/orgs/{ORG}/actions/runner-groups", group)
    result = check(server, names, "runner")
    assert result.outcome is Outcome.FAIL
    assert words in result.detail


def test_the_release_being_deployed_must_be_listed(server: RecordingServer, names: dict[str, Any]) -> None:
    """In the preflight (GITHUB_REF set), a release branch the group does not list would queue forever."""
    assert check(server, names, "runner", ci_ref="refs/heads/release/2026.2").outcome is Outcome.PASS
    result = check(server, names, "runner", ci_ref="refs/heads/release/2026.3")
    assert result.outcome is Outcome.FAIL
    assert "does not admit this release" in result.detail
    assert "release/2026.3" in result.detail


# --- review 23, A1: the workflow the group admits cannot be called by another workflow ---------------


@pytest.mark.parametrize(
    "triggers",
    [
        "  workflow_call:\n    inputs:\n      runner: {type: string}\n",
        "  workflow_call:\n",
        None,
    ],
    ids=["callable-with-runner-input", "callable", "callable-as-a-list"],
)
@pytest.mark.parametrize("env", ["prod", "dev"])
def test_an_admitted_workflow_that_others_can_call_fails(
    server: RecordingServer, names: dict[str, Any], triggers: str | None, env: str
) -> None:
    """A caller on any branch naming release.yml@<listed ref> would get its jobs onto the group."""
    if env == "dev":
        healthy_dev_runner(server)
    text = RELEASE_YML.read_text(encoding="utf-8")
    if triggers is None:
        text = text.replace("on:\n  push:", "on: [push, workflow_call]\nnot_on:\n  push:", 1)
    else:
        text = text.replace("on:\n  push:", "on:\n" + triggers + "  push:", 1)
    assert check(server, names, "runner", env=env).outcome is Outcome.PASS
    server.add(CONTENTS, contents(text))
    result = check(server, names, "runner", env=env)
    assert result.outcome is Outcome.FAIL
    assert "which other workflows can call (workflow_call)" in result.detail


@pytest.mark.parametrize(
    ("environ", "ref"),
    [
        ({"FORECAST_STACK_RELEASE_REF": "release/2026.3"}, "refs/heads/release/2026.3"),
        ({"FORECAST_STACK_RELEASE_REF": "refs/heads/release/2026.3"}, "refs/heads/release/2026.3"),
        ({"GITHUB_REF": "refs/heads/release/2026.4"}, "refs/heads/release/2026.4"),
        ({}, None),
    ],
    ids=["short", "full", "in-actions", "none"],
)
def test_a_release_manager_checks_the_release_before_pushing_it(
    environ: dict[str, str], ref: str | None
) -> None:
    """Walk review M2: the preflight's token cannot read runner groups, so the check of the listed ref
    runs where an admin's token is: `FORECAST_STACK_RELEASE_REF=release/<name> make doctor ENV=prod`."""
    from stackctl.doctor.settings import load_settings

    assert load_settings("prod", REPO, environ).ci_ref == ref


# --- review finding 8: the group runs on the private network configuration ------------------------


@pytest.mark.parametrize("configuration", [None, "nc-public", ""], ids=["github-network", "other", "empty"])
def test_prod_s_group_must_use_the_private_network_configuration(
    server: RecordingServer, names: dict[str, Any], configuration: str | None
) -> None:
    group = json.loads(json.dumps(server.routes[f"/orgs/{ORG}/actions/runner-groups"].body))
    group["runner_groups"][0]["network_configuration_id"] = configuration
    server.add(f"/orgs/{ORG}/actions/runner-groups", group)
    result = check(server, names, "runner")
    assert result.outcome is Outcome.FAIL
    assert "not the private one nc-1" in result.detail


# --- review 23, A6: no other group uses prod's private network configuration ------------------------


@pytest.mark.parametrize(
    ("other", "words"),
    [
        (
            {"id": 1, "name": "Default", "visibility": "all", "network_configuration_id": "nc-1"},
            "group Default also uses prod's private network configuration nc-1",
        ),
        (
            {"id": 9, "name": "other-team", "visibility": "selected", "network_configuration_id": "nc-1"},
            "group other-team also uses prod's private network configuration nc-1",
        ),
        (
            {"id": 8, "name": "forecast-stack-dev", "network_configuration_id": "nc-1"},
            "group forecast-stack-dev also uses",
        ),
        ({"id": 9, "name": "other-team", "network_configuration_id": "nc-other"}, ""),
        ({"id": 9, "name": "other-team"}, ""),
    ],
    ids=["default-group", "other-team", "dev-s-group", "own-configuration", "github-network"],
)
def test_no_other_group_runs_in_prod_s_runner_network(
    server: RecordingServer, names: dict[str, Any], other: dict[str, Any], words: str
) -> None:
    groups = json.loads(json.dumps(server.routes[f"/orgs/{ORG}/actions/runner-groups"].body))
    groups["runner_groups"].append(other)
    server.add(f"/orgs/{ORG}/actions/runner-groups", groups)
    result = check(server, names, "runner")
    assert result.outcome is (Outcome.FAIL if words else Outcome.PASS), result
    assert words in result.detail


# --- review finding 5: who may bypass the release ruleset ------------------------------------------


@pytest.mark.parametrize(
    ("change", "team", "words"),
    [
        (lambda r: r.update(enforcement="evaluate"), RELEASE_MANAGERS, "is not enforced"),
        (
            lambda r: r["bypass_actors"].append({"actor_id": 1, "actor_type": "OrganizationAdmin"}),
            RELEASE_MANAGERS,
            "lets OrganizationAdmin 1 bypass it",
        ),
        (
            lambda r: r["bypass_actors"].append({"actor_id": 5, "actor_type": "RepositoryRole"}),
            RELEASE_MANAGERS,
            "lets RepositoryRole 5 bypass it",
        ),
        (
            lambda r: r.update(bypass_actors=[{"actor_id": 99, "actor_type": "Team"}]),
            RELEASE_MANAGERS,
            "lets Team 99 bypass it",
        ),
        (lambda r: r.update(bypass_actors=[]), RELEASE_MANAGERS, "team 42 is not on its bypass list"),
        (lambda r: r.pop("bypass_actors"), RELEASE_MANAGERS, "not visible to this token"),
        (lambda r: None, None, "no release managers team named"),
    ],
    ids=["evaluate-only", "org-admins", "repo-admins", "other-team", "nobody", "hidden", "team-unnamed"],
)
def test_the_release_ruleset_s_bypass_list(
    server: RecordingServer, names: dict[str, Any], change: Any, team: int | None, words: str
) -> None:
    path = f"/repos/{ORG}/{NAME}/rulesets/3"
    ruleset = json.loads(json.dumps(server.routes[path].body))
    change(ruleset)
    server.add(path, ruleset)
    result = check(server, names, "ci-protection", release_managers_team_id=team)
    assert result.outcome is Outcome.FAIL
    assert words in result.detail


def test_a_non_numeric_release_managers_team_is_a_clear_error() -> None:
    from stackctl.doctor.settings import load_settings
    from stackctl.errors import StackctlError

    with pytest.raises(StackctlError, match="not a numeric team id"):
        load_settings("prod", REPO, {"FORECAST_STACK_RELEASE_MANAGERS_TEAM_ID": "release-managers"})


def test_the_preflight_names_a_bypass_list_its_token_cannot_read(
    server: RecordingServer, tmp_path: Path
) -> None:
    """The job token of the preflight can never administer a ruleset, so GitHub hides the bypass list:
    the preflight says it did not check it; a person's doctor run (bootstrap tfvars) fails instead."""
    from stackctl.doctor.run import doctor

    path = f"/repos/{ORG}/{NAME}/rulesets/3"
    ruleset = json.loads(json.dumps(server.routes[path].body))
    del ruleset["bypass_actors"]
    server.add(path, ruleset)
    shutil.copytree(REPO / "envs" / "bootstrap", tmp_path / "envs" / "bootstrap")
    (tmp_path / "envs" / "bootstrap" / "terraform.tfvars").unlink(missing_ok=True)
    environ = {"GITHUB_API_URL": server.url, "GH_TOKEN": "ghs_recorded", "GITHUB_REPOSITORY": f"{ORG}/{NAME}"}
    environ["FORECAST_STACK_RELEASE_MANAGERS_TEAM_ID"] = str(RELEASE_MANAGERS)
    (result,) = doctor("prod", tmp_path, only=["ci-protection"], environ=environ, credential=None)
    assert result.outcome is Outcome.PASS, result
    assert "not checked: release/*: ruleset release: its bypass list is not visible" in result.detail


# --- review finding 3: Azure DevOps checks on the service connections and the pool ------------------


@pytest.mark.parametrize(
    ("where", "checks", "words"),
    [
        ("connection", [branch_control()], "service connection forecast-prod: no Approvals check"),
        (
            "connection",
            [APPROVAL, branch_control()],
            "service connection forecast-prod: no Exclusive lock check",
        ),
        (
            "connection",
            [
                {"type": {"name": "Approval"}, "settings": {"requesterCannotBeApprover": False}},
                LOCK,
                branch_control(),
            ],
            "service connection forecast-prod: the requester may approve",
        ),
        ("connection", [APPROVAL, LOCK], "service connection forecast-prod: no Branch control check"),
        (
            "connection",
            [APPROVAL, LOCK, branch_control("refs/heads/release/*, refs/heads/*")],
            "Branch control admits ['refs/heads/*', 'refs/heads/release/*']",
        ),
        (
            "connection",
            [APPROVAL, LOCK, branch_control(verify="false")],
            "service connection forecast-prod: Branch control does not verify branch protection",
        ),
        ("plan", [], "service connection forecast-prod-plan: no Branch control check"),
        (
            "plan",
            [branch_control("refs/heads/main")],
            "forecast-prod-plan: Branch control admits ['refs/heads/main']",
        ),
        ("pool", [], "agent pool ci-fcst-prod-weu: no Branch control check"),
        ("pool", [branch_control("*")], "agent pool ci-fcst-prod-weu: Branch control admits ['*']"),
    ],
    ids=[
        "review-branch-control-only",
        "no-lock",
        "self-approval",
        "no-branch-control",
        "any-branch",
        "no-protection-verified",
        "plan-unchecked",
        "plan-main",
        "pool-unchecked",
        "pool-any",
    ],
)
def test_azure_devops_prod_resources_carry_their_checks(
    server: RecordingServer, names: dict[str, Any], where: str, checks: Any, words: str
) -> None:
    bootstrap = _azure_devops(server, [APPROVAL, LOCK], **{where: checks})
    result = check(server, names, "ci-protection", bootstrap=bootstrap)
    assert result.outcome is Outcome.FAIL
    assert words in result.detail


def test_a_missing_prod_service_connection_is_named(server: RecordingServer, names: dict[str, Any]) -> None:
    bootstrap = _azure_devops(server, [APPROVAL, LOCK])
    server.add(f"{DEVOPS}/serviceendpoint/endpoints?endpointNames=forecast-prod", {"value": []})
    result = check(server, names, "ci-protection", bootstrap=bootstrap)
    assert result.outcome is Outcome.FAIL
    assert "service connection forecast-prod: not found" in result.detail


# --- review 23, A5: Branch control refuses an unknown protection status; release/ branches ----------


@pytest.mark.parametrize(
    ("where", "checks", "words"),
    [
        (
            "connection",
            [APPROVAL, LOCK, branch_control(unknown="true")],
            "service connection forecast-prod: Branch control admits a branch whose protection status",
        ),
        (
            "plan",
            [branch_control(unknown="True")],
            "service connection forecast-prod-plan: Branch control admits a branch whose protection",
        ),
        ("pool", [branch_control(unknown="")], "agent pool ci-fcst-prod-weu: Branch control admits a branch"),
    ],
    ids=["connection", "plan-connection", "pool-unset"],
)
def test_branch_control_must_refuse_an_unknown_protection_status(
    server: RecordingServer, names: dict[str, Any], where: str, checks: Any, words: str
) -> None:
    bootstrap = _azure_devops(server, [APPROVAL, LOCK])
    assert check(server, names, "ci-protection", bootstrap=bootstrap).outcome is Outcome.PASS
    bootstrap = _azure_devops(server, [APPROVAL, LOCK], **{where: checks})
    result = check(server, names, "ci-protection", bootstrap=bootstrap)
    assert result.outcome is Outcome.FAIL
    assert words in result.detail


def _without(descriptor: str) -> list[dict[str, Any]]:
    """HEALTHY_ACLS with the release folder's entry for `descriptor` removed."""
    acls = json.loads(json.dumps(HEALTHY_ACLS))
    del acls[-1]["acesDictionary"][descriptor]
    return acls


@pytest.mark.parametrize(
    ("acls", "names_found"),
    [
        (_without(PROJECT_BUILD), [PROJECT_BUILD]),
        (_without(COLLECTION_BUILD), [COLLECTION_BUILD]),
        (HEALTHY_ACLS[:-1], [CONTRIBUTORS, COLLECTION_BUILD, PROJECT_BUILD]),
        (
            [
                *HEALTHY_ACLS[:-1],
                acl(RELEASE_FOLDER, ace(CONTRIBUTORS, allow=16), ace(RM, allow=16), inherit=False),
            ],
            [CONTRIBUTORS],
        ),
        (
            [
                *HEALTHY_ACLS,
                acl(
                    f"repoV2/{PROJECT_GUID}/{REPO_GUID}", ace("Microsoft.TeamFoundation.Identity;readers", 16)
                ),
            ],
            ["Microsoft.TeamFoundation.Identity;readers"],
        ),
    ],
    ids=[
        "project-build-service",
        "collection-build-service",
        "no-deny",
        "folder-not-inheriting",
        "repo-level-grant",
    ],
)
def test_only_release_managers_create_release_branches_in_azure_repos(
    server: RecordingServer, names: dict[str, Any], acls: list[dict[str, Any]], names_found: list[str]
) -> None:
    bootstrap = _azure_devops(server, [APPROVAL, LOCK])
    git_acls(server, acls)
    result = check(server, names, "ci-protection", bootstrap=bootstrap)
    assert result.outcome is Outcome.FAIL
    found = [f for f in result.detail.split("; ") if "may create branches under release/" in f]
    assert found == [
        f"Azure Repos: {d} may create branches under release/ (deny Create branch there)" for d in names_found
    ]


def test_other_folders_and_single_release_branches_do_not_count(
    server: RecordingServer, names: dict[str, Any]
) -> None:
    """`releases/` shares release/'s encoded prefix, and a branch release/2026.1 is below the folder:
    neither decides who may create branches under release/."""
    releases = RELEASE_FOLDER.rstrip("/") + "s".encode("utf-16-le").hex() + "/"
    one_branch = RELEASE_FOLDER + "2026.1".encode("utf-16-le").hex() + "/"
    acls = [
        *HEALTHY_ACLS,
        acl(releases, ace(CONTRIBUTORS, allow=16)),
        acl(one_branch, ace(CONTRIBUTORS, allow=16)),
    ]
    bootstrap = _azure_devops(server, [APPROVAL, LOCK])
    git_acls(server, acls)
    assert check(server, names, "ci-protection", bootstrap=bootstrap).outcome is Outcome.PASS
    bootstrap["azure_devops"].pop("release_managers")
    result = check(server, names, "ci-protection", bootstrap=bootstrap)
    assert result.outcome is Outcome.FAIL
    assert f"Azure Repos: {RM} may create branches under release/" in result.detail
    assert "no release managers group named" in result.detail
    bootstrap = _azure_devops(server, [APPROVAL, LOCK])
    server.add(f"{ACL_PATH}?token=repoV2&recurse=false", {"message": "denied"}, status=403)
    result = check(server, names, "ci-protection", bootstrap=bootstrap)
    assert result.outcome is Outcome.FAIL
    assert "who may create release/ branches is not visible to this token" in result.detail


# --- review finding 7: the Azure Pipelines preflight reads the checks with System.AccessToken ------


@pytest.mark.parametrize(
    ("uri", "organization"),
    [
        ("https://dev.azure.com/contoso/", "contoso"),
        ("https://dev.azure.com/contoso", "contoso"),
        ("https://contoso.visualstudio.com/", "contoso"),
    ],
)
def test_the_pipeline_s_organisation_comes_from_the_collection_uri(uri: str, organization: str) -> None:
    from stackctl.doctor.settings import _pipeline_project

    project = _pipeline_project({"SYSTEM_COLLECTIONURI": uri, "SYSTEM_TEAMPROJECT": "forecast"})
    assert project == {"organization": organization, "project": "forecast"}
    assert _pipeline_project({"SYSTEM_COLLECTIONURI": uri}) is None


def test_the_azure_pipelines_preflight_reads_prod_s_checks(server: RecordingServer, tmp_path: Path) -> None:
    """No bootstrap tfvars in the pipeline: organisation and project come from System.CollectionUri and
    System.TeamProject, the token is System.AccessToken; a missing check fails the release."""
    from stackctl.doctor.run import doctor

    _azure_devops(server, [APPROVAL, LOCK])
    shutil.copytree(REPO / "envs" / "bootstrap", tmp_path / "envs" / "bootstrap")
    (tmp_path / "envs" / "bootstrap" / "terraform.tfvars").unlink(missing_ok=True)
    environ = {
        "FORECAST_STACK_AZURE_DEVOPS_URL": server.url,
        "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
        "SYSTEM_TEAMPROJECT": "forecast",
        "SYSTEM_ACCESSTOKEN": "ado_recorded",
        "BUILD_REPOSITORY_NAME": "forecast",
        "FORECAST_STACK_RELEASE_MANAGERS_DESCRIPTOR": RM,
    }
    (result,) = doctor("prod", tmp_path, only=["ci-protection"], environ=environ, credential=None)
    assert result.outcome is Outcome.PASS, result
    assert "not checked: prod's agent pool" in result.detail
    _resource_checks(server, "endpoint", "se-deploy", [branch_control()])
    (result,) = doctor("prod", tmp_path, only=["ci-protection"], environ=environ, credential=None)
    assert result.outcome is Outcome.FAIL
    assert "service connection forecast-prod: no Approvals check" in result.detail
