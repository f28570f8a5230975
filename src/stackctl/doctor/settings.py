"""What doctor compares Azure, GitHub and Azure DevOps against: the bootstrap's values and names, the
stack's tfvars, and where to reach each service (no secret is ever printed)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stackctl.checks.parity import load_tfvars
from stackctl.errors import StackctlError
from stackctl.tools import Terraform

BOOTSTRAP = Path("envs") / "bootstrap"
ARM_ENDPOINT = "https://management.azure.com"
GITHUB_API = "https://api.github.com"
AZURE_DEVOPS = "https://dev.azure.com"


@dataclass(frozen=True)
class Endpoints:
    """Where each service answers. GitHub Actions sets GITHUB_API_URL (GHE.com data residency);
    FORECAST_STACK_ARM_ENDPOINT points ARM at a sovereign cloud."""

    arm: str = ARM_ENDPOINT
    github: str = GITHUB_API
    azure_devops: str = AZURE_DEVOPS

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> Endpoints:
        return cls(
            arm=env.get("FORECAST_STACK_ARM_ENDPOINT", ARM_ENDPOINT).rstrip("/"),
            github=env.get("GITHUB_API_URL", GITHUB_API).rstrip("/"),
            azure_devops=env.get("FORECAST_STACK_AZURE_DEVOPS_URL", AZURE_DEVOPS).rstrip("/"),
        )


@dataclass(frozen=True)
class DoctorSettings:
    """One doctor run: `bootstrap` holds envs/bootstrap/terraform.tfvars' values, `names` the names
    the bootstrap gives (Terraform's evaluation of naming.tf), `stack` envs/<env>/terraform.tfvars."""

    env: str
    root: Path
    subscription_id: str | None
    endpoints: Endpoints
    bootstrap: dict[str, Any] = field(default_factory=dict)
    names: dict[str, Any] = field(default_factory=dict)
    stack: dict[str, Any] = field(default_factory=dict)
    github_token: str | None = field(default=None, repr=False)
    # GITHUB_REPOSITORY ("owner/name"), which GitHub Actions sets: the preflight job has no
    # bootstrap tfvars (they are not committed), but knows its own repository.
    ci_repository: str | None = None
    # The release to check prod's runner group against (pipeline_checks.py, runner): GITHUB_REF inside
    # Actions, or FORECAST_STACK_RELEASE_REF (release/<name>) for the release manager who runs
    # `make doctor ENV=prod` with an organisation admin's token before pushing the branch (README
    # "Azure: first deploy", step 9). The preflight job runs only ci-protection: its token cannot read
    # runner groups, so this is where a missing entry is caught before a job queues forever.
    ci_ref: str | None = None
    # The team that alone may bypass the release rulesets (FORECAST_STACK_RELEASE_MANAGERS_TEAM_ID,
    # the repository variable RELEASE_MANAGERS_TEAM_ID in CI); None: no bypass actor is accepted.
    release_managers_team_id: int | None = None
    # Azure Pipelines' preflight: the organisation and project of the run (System.CollectionUri,
    # System.TeamProject) and the job's System.AccessToken, used as a bearer token.
    # https://learn.microsoft.com/azure/devops/pipelines/build/variables#system-variables
    ci_azure_devops: dict[str, str] | None = None
    azure_devops_token: str | None = field(default=None, repr=False)
    # The Azure DevOps release managers' group (its identity descriptor), the only identity that may
    # create branches under release/ (pipeline_checks.py, _create_branch_findings): the bootstrap's
    # azure_devops.release_managers, or FORECAST_STACK_RELEASE_MANAGERS_DESCRIPTOR in the pipeline.
    release_managers_descriptor: str | None = None

    @property
    def github(self) -> dict[str, Any] | None:
        value = self.bootstrap.get("github")
        if isinstance(value, dict):
            return value
        if self.ci_repository and "/" in self.ci_repository:
            owner, repository = self.ci_repository.split("/", 1)
            return {"owner": owner, "repository": repository}
        return None

    @property
    def azure_devops(self) -> dict[str, Any] | None:
        value = self.bootstrap.get("azure_devops")
        return value if isinstance(value, dict) else self.ci_azure_devops

    @property
    def platform(self) -> str:
        runner = self.bootstrap.get("ci_runner")
        return str(runner.get("platform", "github")) if isinstance(runner, dict) else "github"


def bootstrap_names(root: Path, values: dict[str, Any], terraform: Terraform | None = None) -> dict[str, Any]:
    """Every name the bootstrap gives for `values`, evaluated by Terraform itself from
    envs/bootstrap/variables.tf and naming.tf (provider-free, offline). Raises StackctlError with
    Terraform's message when the values break a validation or a name breaks Azure's rule."""
    terraform = terraform or Terraform()
    with tempfile.TemporaryDirectory(prefix="doctor-names-") as work:
        here = Path(work)
        for name in ("variables.tf", "naming.tf"):
            shutil.copy2(root / BOOTSTRAP / name, here / name)
        (here / "values.auto.tfvars.json").write_text(json.dumps(values), encoding="utf-8")
        for args in (
            ["init", "-backend=false", "-input=false", "-no-color"],
            ["plan", "-input=false", "-no-color", "-out=names.tfplan"],
        ):
            result = terraform.run(args, here)
            if not result.ok:
                message = " ".join((result.stdout + result.stderr).replace("│", " ").split())
                raise StackctlError(
                    f"the bootstrap's values do not evaluate: {message[-600:]}",
                    where=str(BOOTSTRAP / "terraform.tfvars"),
                    fix="correct the value Terraform names (envs/bootstrap/variables.tf describes each)",
                )
        shown = terraform.run(["show", "-json", "names.tfplan"], here)
    outputs = json.loads(shown.stdout)["planned_values"]["outputs"]
    names: dict[str, Any] = outputs["names"]["value"]
    return names


def load_settings(env: str, root: Path, environ: Mapping[str, str] | None = None) -> DoctorSettings:
    """Settings from the checkout and the process environment. A missing bootstrap tfvars leaves
    `bootstrap` empty (the first check then says how to write it); bad values raise StackctlError."""
    environ = os.environ if environ is None else environ
    tfvars = root / BOOTSTRAP / "terraform.tfvars"
    bootstrap = load_tfvars(tfvars) if tfvars.is_file() else {}
    stack_tfvars = root / "envs" / env / "terraform.tfvars"
    return DoctorSettings(
        env=env,
        root=root,
        subscription_id=environ.get("AZURE_SUBSCRIPTION_ID") or environ.get("ARM_SUBSCRIPTION_ID") or None,
        endpoints=Endpoints.from_environment(environ),
        bootstrap=bootstrap,
        names=bootstrap_names(root, bootstrap) if bootstrap else {},
        stack=load_tfvars(stack_tfvars) if stack_tfvars.is_file() else {},
        github_token=environ.get("GH_TOKEN") or environ.get("GITHUB_TOKEN") or None,
        ci_repository=environ.get("GITHUB_REPOSITORY") or None,
        ci_ref=_release_ref(environ),
        release_managers_team_id=_team_id(environ.get("FORECAST_STACK_RELEASE_MANAGERS_TEAM_ID")),
        ci_azure_devops=_pipeline_project(environ),
        azure_devops_token=environ.get("SYSTEM_ACCESSTOKEN") or None,
        release_managers_descriptor=environ.get("FORECAST_STACK_RELEASE_MANAGERS_DESCRIPTOR") or None,
    )


def _pipeline_project(environ: Mapping[str, str]) -> dict[str, str] | None:
    """{organization, project[, repository]} of an Azure Pipelines run: System.CollectionUri is
    https://dev.azure.com/<org>/ or https://<org>.visualstudio.com/, Build.Repository.Name the
    repository; None outside a pipeline."""
    uri, project = environ.get("SYSTEM_COLLECTIONURI", ""), environ.get("SYSTEM_TEAMPROJECT", "")
    if not uri or not project:
        return None
    host, _, path = uri.split("://", 1)[-1].partition("/")
    organization = path.strip("/").split("/")[0] if host == "dev.azure.com" else host.split(".")[0]
    if not organization:
        return None
    found = {"organization": organization, "project": project}
    repository = environ.get("BUILD_REPOSITORY_NAME", "")
    return {**found, "repository": repository} if repository else found


def _release_ref(environ: Mapping[str, str]) -> str | None:
    ref = environ.get("FORECAST_STACK_RELEASE_REF") or environ.get("GITHUB_REF") or ""
    if not ref:
        return None
    return ref if ref.startswith("refs/") else f"refs/heads/{ref}"


def _team_id(value: str | None) -> int | None:
    """The release managers' team id (GitHub's numeric id: `gh api orgs/<org>/teams/<slug> --jq .id`)."""
    if not value:
        return None
    if not value.strip().isdigit():
        raise StackctlError(
            f"FORECAST_STACK_RELEASE_MANAGERS_TEAM_ID is {value!r}, not a numeric team id",
            where="the environment (CI: the repository variable RELEASE_MANAGERS_TEAM_ID)",
            fix="set it to `gh api orgs/<org>/teams/<slug> --jq .id`",
        )
    return int(value)
