"""Prod's GitHub runners are organisation runners in a runner group, and prod's jobs ask for that group.

The review's finding: a registration token scoped to the repository (dev's, which every job on dev's
runner can read through the runner identity) registers a self-hosted runner with any label, prod's
included; a rogue runner labelled like prod's would then receive prod's approved jobs and their OIDC
token for prod's deploying identity. Labels are no boundary; a runner group is: a repository runner
is in no group, so a job with `runs-on: { group, labels }` never lands on one.
https://docs.github.com/actions/writing-workflows/choosing-where-your-workflow-runs/choosing-the-runner-for-a-job#choosing-runners-in-a-group
https://docs.github.com/actions/hosting-your-own-runners/managing-self-hosted-runners/managing-access-to-self-hosted-runners-using-groups

The module's registration settings (modules/ci_runner/main.registration.tf) are judged by real
Terraform, offline (`terraform console`, provider-free); the bootstrap's per-environment choice and
the workflow's runs-on are read from the files."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from infra_helpers import Edit, terraform_console

pytestmark = pytest.mark.slow

RUNNER = Path("modules/ci_runner")
BOOTSTRAP = Path("envs/bootstrap")
RELEASE = Path(".github/workflows/release.yml")
DEPLOY = Path(".github/workflows/deploy.yml")
ENTRYPOINT = RUNNER / "image" / "entrypoint.sh"

RUNNER_TFVARS = """
name                             = "caj-fcst-runner-prod"
location                         = "westeurope"
resource_group_name              = "rg-fcst-bootstrap-weu"
infrastructure_subnet_id = "/subscriptions/0/resourceGroups/rg/providers/Microsoft.Network/vnet/s"
identity = { resource_id = "/subscriptions/0/id", client_id = "0" }
image                            = { registry_login_server = "crfcstcip01.azurecr.io", tag = "latest" }
registration_key_vault_reference = "https://kv-fcst-ci-p01.vault.azure.net/secrets/runner-registration-token"
platform                         = "github"
labels                           = ["forecast-stack-prod"]
tags                             = {}
"""
REGISTRATION = "jsonencode({ keda = local.scale_rule.metadata, env = local.container_env })"


def _registration(tmp_path: Path, root: Path, github: str) -> tuple[bool, str]:
    files = {
        name: (root / RUNNER / name).read_text(encoding="utf-8")
        for name in ("variables.tf", "main.registration.tf")
    }
    files["stack.tfvars"] = RUNNER_TFVARS + f"github = {github}\n"
    return terraform_console(tmp_path / "runner", files, REGISTRATION)


def _decoded(output: str) -> dict[str, Any]:
    """console prints jsonencode's result as a quoted string first (warnings may follow)."""
    quoted, _ = json.JSONDecoder().raw_decode(output[output.index('"') :])
    decoded: dict[str, Any] = json.loads(quoted)
    return decoded


def test_an_organisation_runner_registers_into_its_group(tmp_path: Path, root: Path) -> None:
    ok, output = _registration(
        tmp_path,
        root,
        '{ owner = "contoso", repository = "forecast-stack", scope = "org", runner_group = "fs-prod" }',
    )
    assert ok, output
    registration = _decoded(output)
    assert registration["keda"]["runnerScope"] == "org"
    assert registration["keda"]["repos"] == "forecast-stack"  # KEDA counts this repository's jobs only
    env = registration["env"]
    assert env["RUNNER_GROUP"] == "fs-prod"
    assert env["GH_URL"] == "https://github.com/contoso"
    assert (
        env["REGISTRATION_TOKEN_API_URL"]
        == "https://api.github.com/orgs/contoso/actions/runners/registration-token"
    )


def test_a_repository_runner_registers_on_the_repository_in_no_group(tmp_path: Path, root: Path) -> None:
    ok, output = _registration(tmp_path, root, '{ owner = "contoso", repository = "forecast-stack" }')
    assert ok, output
    registration = _decoded(output)
    assert registration["keda"]["runnerScope"] == "repo"
    assert "RUNNER_GROUP" not in registration["env"]
    assert registration["env"]["REGISTRATION_TOKEN_API_URL"].startswith(
        "https://api.github.com/repos/contoso/forecast-stack/"
    )


@pytest.mark.parametrize(
    ("github", "message"),
    [
        (
            '{ owner = "contoso", repository = "forecast-stack", scope = "org" }',
            "github.runner_group is needed exactly when github.scope = org",
        ),
        (
            '{ owner = "contoso", repository = "forecast-stack", runner_group = "forecast-stack-prod" }',
            "github.runner_group is needed exactly when github.scope = org",
        ),
        (
            '{ owner = "contoso", repository = "forecast-stack", scope = "ent", runner_group = "g" }',
            "github.scope must be repo (repository runners) or org",
        ),
    ],
    ids=["org-without-group", "repo-with-group", "enterprise"],
)
def test_the_module_refuses_a_group_without_organisation_scope_and_back(
    tmp_path: Path, root: Path, github: str, message: str
) -> None:
    ok, output = _registration(tmp_path, root, github)
    assert not ok
    assert message in output


def test_the_entrypoint_passes_the_group_to_config_sh(root: Path) -> None:
    script = (root / ENTRYPOINT).read_text(encoding="utf-8")
    config = script[script.index("./config.sh --url") : script.index("exec ./run.sh")]
    assert '"${group[@]}"' in config
    assert 'group=(--runnergroup "$RUNNER_GROUP")' in script


# --- the bootstrap: prod's runners are organisation runners, dev's repository runners ------------


def _unquote(value: Any) -> str:
    return str(value).strip('"')


def registration_scope_findings(tree: Path) -> list[str]:
    """Prod's runners register at organisation scope into var.github.prod_runner_group, dev's on the
    repository, and the module call passes each environment its own."""
    with (tree / BOOTSTRAP / "main.runner.tf").open(encoding="utf-8") as handle:
        runner = hcl2.load(handle)
    findings: list[str] = []
    registration = next(
        (
            block["github_registration"]
            for block in runner.get("locals", [])
            if "github_registration" in block
        ),
        None,
    )
    if registration is None:
        return [
            "the bootstrap says nowhere where each environment's runners register (local.github_registration)"
        ]
    prod, dev = (
        {key: None if value is None else _unquote(value) for key, value in registration.get(env, {}).items()}
        for env in ("prod", "dev")
    )
    if prod.get("scope") != "org":
        findings.append(
            f"prod's runners register at {prod.get('scope')} scope: a repository-scoped token (dev's) "
            "could register a runner with prod's label"
        )
    if "var.github.prod_runner_group" not in str(prod.get("runner_group")):
        findings.append(f"prod's runners join {prod.get('runner_group')}, not var.github.prod_runner_group")
    if dev.get("scope") != "repo" or dev.get("runner_group") is not None:
        findings.append(
            f"dev's runners register as {dev}: dev's token must not reach the organisation's runners"
        )
    call = next(
        body for block in runner["module"] for name, body in block.items() if name.strip('"') == "ci_runner"
    )
    github = str(call.get("github"))
    for attribute in ("scope", "runner_group"):
        if f"local.github_registration[each.key].{attribute}" not in github:
            findings.append(f"module ci_runner: github.{attribute} is not the environment's own")
    return findings


def test_prod_s_runners_register_into_the_organisation_runner_group(root: Path) -> None:
    assert registration_scope_findings(root) == []


def test_prod_runners_registering_on_the_repository_are_caught(tree: Path, edit: Edit) -> None:
    edit(
        "envs/bootstrap/main.runner.tf",
        'prod = { scope = "org", runner_group = try(var.github.prod_runner_group, null) }',
        'prod = { scope = "repo", runner_group = null }',
    )
    assert registration_scope_findings(tree) == [
        "prod's runners register at repo scope: a repository-scoped token (dev's) could register a "
        "runner with prod's label",
        "prod's runners join None, not var.github.prod_runner_group",
    ]


def test_a_bootstrap_without_registration_scopes_is_caught(tree: Path, edit: Edit) -> None:
    # The reviewed tree: one `github = var.github` for both runners, both on the repository.
    edit("envs/bootstrap/main.runner.tf", "github_registration = {", "github_registration_unused = {")
    assert registration_scope_findings(tree) == [
        "the bootstrap says nowhere where each environment's runners register (local.github_registration)"
    ]


# --- the workflow: prod's jobs ask for the group ---------------------------------------------------

FORMAT = re.compile(r"^\$\{\{\s*format\('(?P<template>[^']*)'(?P<arguments>.*)\)\s*\}\}$")
ARGUMENT = re.compile(r"vars\.(?P<variable>\w+)\s*\|\|\s*'(?P<default>[^']*)'")


def rendered_runner(runner: str) -> tuple[Any, list[str]]:
    """The runs-on a release.yml `runner` input gives with its defaults, and the variables it reads.
    GitHub's format() and Python's str.format share {0} and {{ }}."""
    found = FORMAT.match(runner.strip())
    if found is None:
        return runner, []
    arguments = ARGUMENT.findall(found["arguments"])
    rendered = found["template"].format(*(default for _, default in arguments))
    return json.loads(rendered), [variable for variable, _ in arguments]


def prod_runner_group_findings(release: dict[str, Any], deploy: dict[str, Any], group: str) -> list[str]:
    """Every prod job must ask for prod's organisation runner group (repository variable
    PROD_RUNNER_GROUP, default the bootstrap's github.prod_runner_group), not labels only."""
    findings: list[str] = []
    for name, job in release["jobs"].items():
        if "uses" not in job or job.get("with", {}).get("environment") != "prod":
            continue
        runs_on, variables = rendered_runner(str(job["with"]["runner"]))
        if not isinstance(runs_on, dict) or "group" not in runs_on:
            findings.append(
                f"github {name}: runs-on {runs_on} selects prod's runner by labels only; a runner "
                "registered on the repository with that label would take prod's jobs"
            )
            continue
        if "PROD_RUNNER_GROUP" not in variables or runs_on["group"] != group:
            findings.append(
                f"github {name}: runner group {runs_on['group']} is not PROD_RUNNER_GROUP ({group})"
            )
        if not runs_on.get("labels"):
            findings.append(f"github {name}: runs-on names no label of prod's runner")
    for name, job in deploy["jobs"].items():
        if job.get("runs-on") != "${{ fromJSON(inputs.runner) }}":
            findings.append(
                f"github deploy.yml {name}: runs-on {job.get('runs-on')} drops the caller's group"
            )
    return findings


def _yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = yaml.safe_load(handle)
    return loaded


def _bootstrap_default_group(root: Path) -> str:
    found = re.search(
        r'prod_runner_group\s*=\s*optional\(string,\s*"(?P<group>[^"]+)"\)',
        (root / BOOTSTRAP / "variables.tf").read_text(encoding="utf-8"),
    )
    assert found, "envs/bootstrap/variables.tf declares no github.prod_runner_group default"
    return found["group"]


def test_prod_jobs_ask_for_the_organisation_runner_group(root: Path) -> None:
    release, deploy = _yaml(root / RELEASE), _yaml(root / DEPLOY)
    assert prod_runner_group_findings(release, deploy, _bootstrap_default_group(root)) == []
    runs_on, variables = rendered_runner(release["jobs"]["prod"]["with"]["runner"])
    assert runs_on == {"group": "forecast-stack-prod", "labels": ["forecast-stack-prod"]}
    assert variables == ["PROD_RUNNER_GROUP", "PROD_RUNNER_LABEL"]


def test_a_prod_job_targeting_labels_only_is_caught(root: Path) -> None:
    # The reviewed workflow: prod's label, no group.
    release, deploy = _yaml(root / RELEASE), _yaml(root / DEPLOY)
    release["jobs"]["prod"]["with"]["runner"] = (
        "${{ format('[\"{0}\"]', vars.PROD_RUNNER_LABEL || 'forecast-stack-prod') }}"
    )
    deploy["jobs"]["apply"]["runs-on"] = ["forecast-stack-prod"]
    assert prod_runner_group_findings(release, deploy, _bootstrap_default_group(root)) == [
        "github prod: runs-on ['forecast-stack-prod'] selects prod's runner by labels only; a runner "
        "registered on the repository with that label would take prod's jobs",
        "github deploy.yml apply: runs-on ['forecast-stack-prod'] drops the caller's group",
    ]
