"""The release path's three guarantees (issue 23, "Done when"), each shown to fail on a broken copy:

1. no job of a prod pipeline can run on a runner that a pull request can reach, and no pull-request
   job can be scheduled where prod's network is;
2. no runner and no job can read a registration secret: the runners are managed (GitHub-hosted with
   Azure private networking, or Managed DevOps Pools) and hold no token, vault, image or identity
   of ours, and the workflows pass no secret;
3. every federated credential's subject has the repository's configured form: GitHub's immutable
   `repo:<owner>@<owner_id>/<repo>@<repo_id>:environment:<env>` (or the legacy form, when chosen),
   Azure DevOps the service connection's own issuer and subject. Judged by Terraform itself: the
   bootstrap's subjects.tf is provider-free and planned offline.

What the repository cannot show (GitHub's runner group restricted to deploy.yml on release/*, the
environments' reviewers) `stackctl doctor` reads from GitHub's API (tests/stackctl/test_doctor.py)."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from infra_helpers import Edit

from stackctl.checks.hclmodel import read_dir
from stackctl.tools import Terraform

BOOTSTRAP = Path("envs/bootstrap")
RUNNER = Path("modules/ci_runner")
WORKFLOWS = Path(".github/workflows")
AZURE_PIPELINE = Path(".azure-pipelines/release.yml")
# GitHub-hosted standard runners and Microsoft-hosted agents: in no VNet of ours.
# https://docs.github.com/actions/using-github-hosted-runners/using-github-hosted-runners/about-github-hosted-runners
STANDARD_HOSTED = re.compile(r"^(ubuntu|windows|macos)-[\w.]+$")
PR_EVENTS = {"pull_request", "pull_request_target"}
# A job condition that keeps pull requests out (the only forms the workflows use).
NO_PR = re.compile(r"github\.event_name\s*==\s*'push'|github\.event_name\s*!=\s*'pull_request'")


def _yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle)
    return loaded


def _triggers(workflow: dict[str, Any]) -> set[str]:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    return set(on) if isinstance(on, (dict, list)) else {str(on)}


# --- 1. prod's runners are out of every pull request's reach ------------------------------------


def _prod_runner_names(release: dict[str, Any]) -> set[str]:
    """The group and label defaults release.yml's prod job asks for (format(..., vars.X || 'name'))."""
    return set(re.findall(r"\|\|\s*'([^']+)'", str(release["jobs"]["prod"]["with"]["runner"])))


def pr_reachable_prod_findings(workflows: dict[str, dict[str, Any]], azure: dict[str, Any]) -> list[str]:
    """Jobs a pull request can start that are not on a standard hosted runner or that name prod's
    runner or environment; prod jobs a pull request can start; prod sharing dev's runner group."""
    findings: list[str] = []
    release = workflows["release.yml"]
    prod_names = _prod_runner_names(release)
    dev_names = set(re.findall(r"\|\|\s*'([^']+)'", str(release["jobs"]["dev"]["with"]["runner"])))
    if prod_names & dev_names:
        findings.append(f"dev and prod share the runner group or label {sorted(prod_names & dev_names)}")
    prod_if = str(release["jobs"]["prod"].get("if", ""))
    if not NO_PR.search(prod_if) or "refs/heads/release/" not in prod_if:
        findings.append(
            f"release.yml prod: a pull request or another branch can start it (if: {prod_if or 'none'})"
        )
    for name, workflow in workflows.items():
        if not _triggers(workflow) & PR_EVENTS:
            continue
        for job_name, job in workflow["jobs"].items():
            if NO_PR.search(str(job.get("if", ""))):
                continue
            where = f"{name} {job_name} (runs on pull requests)"
            text = json.dumps(job)
            if any(prod in text for prod in prod_names) or "'prod'" in text or '"prod"' in text:
                findings.append(f"{where}: names prod's runner or environment")
            elif "uses" not in job and not STANDARD_HOSTED.match(str(job.get("runs-on", ""))):
                findings.append(f"{where}: runs on {job.get('runs-on')}, not a standard hosted runner")
    findings += _azure_pr_findings(azure)
    return findings


def _azure_pr_findings(azure: dict[str, Any]) -> list[str]:
    findings = []
    for stage in azure["stages"]:
        condition = str(stage.get("condition", ""))
        pr_excluded = "ne(variables['Build.Reason'], 'PullRequest')" in condition
        is_prod = str(stage["stage"]).startswith("prod")
        if is_prod and not (pr_excluded and "isRelease" in condition):
            findings.append(
                f"azure-pipelines {stage['stage']}: a pull request or another branch can start it"
            )
        if pr_excluded:
            continue
        for job in stage["jobs"]:
            if "vmImage" not in job.get("pool", {}):
                findings.append(
                    f"azure-pipelines {stage['stage']} (runs on pull requests): pool {job.get('pool')}"
                )
    return findings


def _workflows(root: Path) -> dict[str, dict[str, Any]]:
    return {path.name: _yaml(path) for path in sorted((root / WORKFLOWS).glob("*.yml"))}


def test_no_prod_job_runs_where_a_pull_request_can(root: Path) -> None:
    assert pr_reachable_prod_findings(_workflows(root), _yaml(root / AZURE_PIPELINE)) == []


def test_pull_request_paths_to_prod_s_runner_are_caught(root: Path) -> None:
    workflows, azure = _workflows(root), _yaml(root / AZURE_PIPELINE)
    release = workflows["release.yml"]
    # a PR job asking for prod's group, a PR job on a self-hosted label, prod startable by a PR,
    # dev falling back to prod's group
    release["jobs"]["test"]["runs-on"] = {"group": "forecast-stack-prod", "labels": ["forecast-stack-prod"]}
    workflows["release.yml"]["jobs"]["lint"] = {"runs-on": ["self-hosted", "linux"], "steps": []}
    release["jobs"]["prod"]["if"] = "startsWith(github.ref, 'refs/heads/release/')"
    release["jobs"]["dev"]["with"]["runner"] = release["jobs"]["dev"]["with"]["runner"].replace(
        "'forecast-stack-dev'", "'forecast-stack-prod'", 1
    )
    validate = next(stage for stage in azure["stages"] if stage["stage"] == "validate")
    validate["jobs"][0]["pool"] = {"name": "$(PROD_AGENT_POOL)"}
    prod_plan = next(stage for stage in azure["stages"] if stage["stage"] == "prod_plan")
    prod_plan["condition"] = "and(succeeded(), eq(variables.isRelease, true))"
    assert pr_reachable_prod_findings(workflows, azure) == [
        "dev and prod share the runner group or label ['forecast-stack-prod']",
        "release.yml prod: a pull request or another branch can start it "
        "(if: startsWith(github.ref, 'refs/heads/release/'))",
        "release.yml test (runs on pull requests): names prod's runner or environment",
        "release.yml prod (runs on pull requests): names prod's runner or environment",
        "release.yml lint (runs on pull requests): runs on ['self-hosted', 'linux'], "
        "not a standard hosted runner",
        "azure-pipelines validate (runs on pull requests): pool {'name': '$(PROD_AGENT_POOL)'}",
        "azure-pipelines prod_plan: a pull request or another branch can start it",
        "azure-pipelines prod_plan (runs on pull requests): pool {'name': '$(PROD_AGENT_POOL)'}",
    ]


def test_a_new_workflow_that_runs_pull_requests_on_prod_s_runner_is_caught(root: Path) -> None:
    workflows = _workflows(root)
    workflows["evil.yml"] = {
        "on": {"pull_request": None},
        "jobs": {
            "x": {"runs-on": {"group": "forecast-stack-prod"}, "steps": [{"run": "make plan ENV=prod"}]}
        },
    }
    assert pr_reachable_prod_findings(workflows, _yaml(root / AZURE_PIPELINE)) == [
        "evil.yml x (runs on pull requests): names prod's runner or environment"
    ]


def test_each_environment_has_its_own_runner_network(root: Path) -> None:
    """Prod's runners sit in prod's runner subnet only: module ci_runner is per environment and takes
    its own subnet (tests/infra/test_release_path.py checks the VNets and peerings)."""
    call = next(
        m for m in read_dir(root / BOOTSTRAP).module_calls.values() if m.source == "../../modules/ci_runner"
    )
    assert "local.runners" in str(call.arguments.get("for_each"))
    assert "azurerm_subnet.runner[each.key]" in str(call.arguments.get("subnet_id"))


# --- 2. no registration secret anywhere a runner or job can read ---------------------------------

# What a self-hosted runner needs and a managed one does not: a vault for its token, a registry and
# job for its image, its own identity (reachable from every step through the identity endpoint).
# https://learn.microsoft.com/azure/container-apps/managed-identity
SELF_HOSTED = {
    "azurerm_key_vault",
    "azurerm_key_vault_secret",
    "azurerm_container_registry",
    "azurerm_container_app_environment",
    "azurerm_container_app_job",
    "azurerm_container_app",
}
# A pipeline may pass GitHub's own job token to a step that reads GitHub's API, nothing else.
SECRET_REFERENCE = re.compile(r"secrets\.(?!GITHUB_TOKEN\b)\w+")


def registration_secret_findings(root: Path) -> list[str]:
    findings: list[str] = []
    for directory in (BOOTSTRAP, RUNNER):
        for block in read_dir(root / directory).blocks:
            where = f"{directory}: {block.address}"
            if block.type in SELF_HOSTED:
                findings.append(f"{where}: self-hosted runner surface (a token, image or job of ours)")
            if block.type == "azurerm_managed_devops_pool" and "identity" in block.body:
                findings.append(f"{where}: a pool identity, reachable from every job through IMDS")
            if block.type == "azurerm_user_assigned_identity" and block.name not in {"deploy", "plan"}:
                findings.append(f"{where}: an identity besides the deploying and plan ones")
    for path in sorted((root / WORKFLOWS).glob("*.yml")):
        text = path.read_text(encoding="utf-8")
        findings += [f"{path.name}: {m.group(0)}" for m in SECRET_REFERENCE.finditer(text)]
        if "pull_request_target" in text:
            findings.append(
                f"{path.name}: pull_request_target runs fork code with the base repository's secrets"
            )
    azure = (root / AZURE_PIPELINE).read_text(encoding="utf-8")
    findings += [
        f"azure-pipelines: {m}"
        for m in re.findall(r"\$\((?!System\.AccessToken)\w*(?:PAT|TOKEN|SECRET)\w*\)", azure, re.I)
    ]
    return findings


def test_no_runner_or_job_can_read_a_registration_secret(root: Path) -> None:
    assert registration_secret_findings(root) == []


def test_self_hosted_runner_surface_and_secrets_are_caught(tree: Path, edit: Edit) -> None:
    edit(
        "modules/ci_runner/main.tf",
        "  stateless_agent {}",
        '  stateless_agent {}\n\n  identity {\n    type         = "UserAssigned"\n'
        '    identity_ids = ["x"]\n  }',
    )
    (tree / BOOTSTRAP / "main.vault.tf").write_text(
        'resource "azurerm_key_vault" "runner" {\n  name = "kv"\n}\n'
        'resource "azurerm_user_assigned_identity" "runner" {\n  name = "id"\n}\n'
    )
    workflows = tree / WORKFLOWS
    workflows.mkdir(parents=True)
    shutil.copy2(Path(__file__).resolve().parents[2] / WORKFLOWS / "deploy.yml", workflows / "deploy.yml")
    text = (workflows / "deploy.yml").read_text(encoding="utf-8")
    (workflows / "deploy.yml").write_text(
        text.replace("GH_TOKEN: ${{ github.token }}", "GH_TOKEN: ${{ secrets.RUNNER_PAT }}")
    )
    (tree / AZURE_PIPELINE).parent.mkdir(parents=True)
    (tree / AZURE_PIPELINE).write_text("steps:\n  - script: ./config.sh --token $(AZP_TOKEN)\n")
    assert registration_secret_findings(tree) == [
        "envs/bootstrap: azurerm_key_vault.runner: "
        "self-hosted runner surface (a token, image or job of ours)",
        "envs/bootstrap: azurerm_user_assigned_identity.runner: "
        "an identity besides the deploying and plan ones",
        "modules/ci_runner: azurerm_managed_devops_pool.this: "
        "a pool identity, reachable from every job through IMDS",
        "deploy.yml: secrets.RUNNER_PAT",
        "azure-pipelines: $(AZP_TOKEN)",
    ]


# --- 3. federated subjects have the repository's configured form (Terraform judges) ---------------

TENANT = "00000000-0000-0000-0000-0000000000bb"
POOL_INPUTS = (
    "Managed DevOps Pools need azure_devops (organization, project) and devops_infrastructure_principal_id"
)
ADO_SUBJECT = (
    "/eid1/c/pub/t/AbC/a/DeF/sc/00000000-0000-0000-0000-000000000001/00000000-0000-0000-0000-000000000002"
)


def _subjects(root: Path, work: Path, values: dict[str, Any]) -> tuple[bool, Any]:
    """Plan envs/bootstrap's variables.tf, naming.tf and subjects.tf with `values`: the federated
    subjects Terraform computes, or its error."""
    for name in ("variables.tf", "naming.tf", "subjects.tf"):
        shutil.copy2(root / BOOTSTRAP / name, work / name)
    base = {
        "workload": "fcst",
        "location": "westeurope",
        "location_short": "weu",
        "name_suffix": "p01",
        "state_storage_account_name": "stfcsttfstatep01",
        "tags": {},
        "ci_runner": {"enabled": False},  # the runner's own inputs are tested separately below
    }
    (work / "values.auto.tfvars.json").write_text(json.dumps({**base, **values}))
    terraform = Terraform()
    init = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], work)
    assert init.ok, init.stderr
    plan = terraform.run(["plan", "-input=false", "-no-color", "-out=s.tfplan"], work)
    if not plan.ok:
        return False, " ".join((plan.stdout + plan.stderr).replace("│", " ").split())
    shown = json.loads(terraform.run(["show", "-json", "s.tfplan"], work).stdout)
    return True, shown["planned_values"]["outputs"]["federated_subjects"]["value"]


def _github(**changes: Any) -> dict[str, Any]:
    return {
        "github": {
            "owner": "contoso",
            "owner_id": "1000001",
            "repository": "forecast-stack",
            "repository_id": "2000002",
            **changes,
        }
    }


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (
            _github(),
            {
                "prod-github-prod": (
                    "deploy-prod",
                    "repo:contoso@1000001/forecast-stack@2000002:environment:prod",
                ),
                "prod-github-prod-plan": (
                    "plan-prod",
                    "repo:contoso@1000001/forecast-stack@2000002:environment:prod-plan",
                ),
                "dev-github-dev": (
                    "deploy-dev",
                    "repo:contoso@1000001/forecast-stack@2000002:environment:dev",
                ),
            },
        ),
        (
            _github(subject_forms=["legacy"], owner_id=None, repository_id=None),
            {
                "prod-github-prod-legacy": ("deploy-prod", "repo:contoso/forecast-stack:environment:prod"),
                "dev-github-dev-plan-legacy": (
                    "plan-dev",
                    "repo:contoso/forecast-stack:environment:dev-plan",
                ),
            },
        ),
        (
            _github(subject_forms=["immutable", "legacy"]),
            {
                "prod-github-prod": (
                    "deploy-prod",
                    "repo:contoso@1000001/forecast-stack@2000002:environment:prod",
                ),
                "prod-github-prod-legacy": ("deploy-prod", "repo:contoso/forecast-stack:environment:prod"),
            },
        ),
        (
            {
                "azure_devops": {
                    "organization": "contoso",
                    "project": "forecast",
                    "service_connections": {
                        "prod": {
                            "issuer": f"https://login.microsoftonline.com/{TENANT}/v2.0",
                            "subject": ADO_SUBJECT,
                        }
                    },
                }
            },
            {
                "prod-azure-devops": ("deploy-prod", ADO_SUBJECT),
            },
        ),
    ],
    ids=["immutable", "legacy", "migration-both", "azure-devops-entra-issuer"],
)
def test_federated_subjects_take_the_configured_form(
    root: Path, tmp_path: Path, values: dict[str, Any], expected: dict[str, tuple[str, str]]
) -> None:
    ok, subjects = _subjects(root, tmp_path, values)
    assert ok, subjects
    for key, (identity, subject) in expected.items():
        assert (subjects[key]["identity"], subjects[key]["subject"]) == (identity, subject), key
    forms = values.get("github", {}).get("subject_forms", ["immutable"]) if "github" in values else []
    assert len(subjects) == 4 * len(forms) + len(
        values.get("azure_devops", {}).get("service_connections", {})
    )


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            _github(owner_id="contoso"),
            "The immutable subject form needs github.owner_id and github.repository_id",
        ),
        (
            _github(repository_id=None),
            "The immutable subject form needs github.owner_id and github.repository_id",
        ),
        (
            _github(owner="contoso/forecast-stack"),
            "github.owner and github.repository are the login and the name",
        ),
        (
            _github(subject_forms=["oidc"]),
            "github.subject_forms must name one or both of immutable and legacy",
        ),
        (
            {**_github(organization_id=None), "ci_runner": {"platform": "github"}},
            "GitHub-hosted runners with Azure private networking need github.organization_id",
        ),
        (
            {"ci_runner": {"platform": "azure-pipelines"}},
            POOL_INPUTS,
        ),
        (
            {**_github(organization_id="1000001"), "ci_runner": {"platform": "azure-pipelines"}},
            POOL_INPUTS,
        ),
        (
            {
                "azure_devops": {
                    "organization": "o",
                    "project": "p",
                    "service_connections": {
                        "prod": {
                            "issuer": "https://vstoken.dev.azure.com/00000000-0000-0000-0000-000000000001",
                            "subject": ADO_SUBJECT,
                        }
                    },
                }
            },
            "Each azure_devops.service_connections entry needs the issuer and subject the connection shows",
        ),
        (
            {
                "azure_devops": {
                    "organization": "o",
                    "project": "p",
                    "service_connections": {
                        "prod": {
                            "issuer": f"https://login.microsoftonline.com/{TENANT}/v2.0",
                            "subject": "sc://o/p/forecast-prod",
                        }
                    },
                }
            },
            "Each azure_devops.service_connections entry needs the issuer and subject the connection shows",
        ),
    ],
    ids=[
        "owner-login-as-id",
        "no-repository-id",
        "owner-with-slash",
        "unknown-form",
        "github-runner-without-organization-id",
        "pool-without-azure-devops",
        "pool-without-devops-infrastructure-principal",
        "old-issuer-new-subject",
        "new-issuer-old-subject",
    ],
)
def test_a_subject_that_does_not_match_the_repository_form_stops_the_plan(
    root: Path, tmp_path: Path, values: dict[str, Any], message: str
) -> None:
    ok, output = _subjects(root, tmp_path, values)
    assert not ok
    assert message in output


def test_the_bootstrap_s_credentials_are_the_subjects_terraform_computed(root: Path) -> None:
    """main.tf's azurerm_federated_identity_credential iterates subjects.tf's map, nothing else."""
    credential = next(
        b for b in read_dir(root / BOOTSTRAP).blocks if b.type == "azurerm_federated_identity_credential"
    )
    assert "local.federated_credentials" in str(credential.body.get("for_each"))
    assert "each.value.subject" in str(credential.body.get("subject"))
    assert "each.value.issuer" in str(credential.body.get("issuer"))
