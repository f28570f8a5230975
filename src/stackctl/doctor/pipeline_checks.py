"""The CI side: the environments' protection (GitHub environments, Azure DevOps checks) and the
runners (GitHub-hosted runners with Azure private networking, or a Managed DevOps Pool)."""

from __future__ import annotations

import base64
import re
from typing import Any

import yaml

from stackctl.doctor.clients import Unreachable
from stackctl.doctor.context import DoctorContext, names, require_arm
from stackctl.doctor.report import CheckResult, failed, passed

# The branch each environment deploys from (README "Azure: first deploy", step 6; the workflows'
# conditions). The environments' branch policies take patterns; runner groups do not (RELEASE_REF).
BRANCH = {"dev": "main", "prod": "release/*"}
NETWORK_SETTINGS_API = "2024-04-02"
POOL_API = "2024-10-19"


def _github_environment_findings(ctx: DoctorContext, gh_env: str, repo: str) -> list[str]:
    """What the GitHub environment lacks: a custom branch policy naming only its branch; for the
    apply environment of prod, required reviewers who may not approve their own run, no admin bypass.
    https://docs.github.com/rest/deployments/environments#get-an-environment
    https://docs.github.com/actions/managing-workflow-runs-and-deployments/managing-deployments/reviewing-deployments"""
    environment = ctx.github.get(f"/repos/{repo}/environments/{gh_env}")
    if environment is None:
        return [f"{gh_env}: no such environment"]
    findings = []
    policy = environment.get("deployment_branch_policy") or {}
    if not policy.get("custom_branch_policies") or policy.get("protected_branches"):
        findings.append(f"{gh_env}: no custom deployment-branch policy")
    else:
        listed = ctx.github.get(f"/repos/{repo}/environments/{gh_env}/deployment-branch-policies") or {}
        branches = {
            p["name"] for p in listed.get("branch_policies", []) if p.get("type", "branch") == "branch"
        }
        if branches != {BRANCH[ctx.settings.env]}:
            findings.append(
                f"{gh_env}: branches {sorted(branches)} instead of only {BRANCH[ctx.settings.env]}"
            )
    if gh_env == "prod":
        rules = environment.get("protection_rules", [])
        reviewers = [r for r in rules if r.get("type") == "required_reviewers" and r.get("reviewers")]
        if not reviewers:
            findings.append(
                "prod: no required reviewers (private repositories need GitHub Enterprise Cloud for them)"
            )
        elif not all(r.get("prevent_self_review") for r in reviewers):
            findings.append("prod: reviewers may approve their own runs (prevent self-review is off)")
        if environment.get("can_admins_bypass", True):
            findings.append("prod: administrators may bypass the protection rules")
    return findings


# Who may move the branch an environment deploys from: prod's release/* only release managers may
# create or push (a pushed release/* branch runs its code as prod's plan identity before approval);
# main changes only through a reviewed pull request. A ruleset's rules apply to every writer but its
# bypass list. https://docs.github.com/rest/repos/rules#get-rules-for-a-branch
BRANCH_RULES = {"dev": ("main", {"pull_request"}), "prod": ("release/doctor-probe", {"creation", "update"})}


# A finding that marks what this run could not check rather than a fault (ci_protection names it).
NOT_CHECKED = "not checked: "


def _branch_rule_findings(ctx: DoctorContext, repo: str) -> list[str]:
    branch, needed = BRANCH_RULES[ctx.settings.env]
    rules = ctx.github.get(f"/repos/{repo}/rules/branches/{branch.replace('/', '%2F')}") or []
    missing = needed - {str(rule.get("type")) for rule in rules}
    shown = "release/*" if ctx.settings.env == "prod" else branch
    if missing:
        return [
            f"{shown}: no ruleset with {', '.join(sorted(missing))} "
            f"(any writer can move the branch {ctx.settings.env} deploys from)"
        ]
    ruleset_ids = sorted(
        {rule["ruleset_id"] for rule in rules if rule.get("type") in needed and "ruleset_id" in rule}
    )
    findings: list[str] = []
    for ruleset_id in ruleset_ids:
        findings += _ruleset_findings(ctx, repo, ruleset_id, shown)
    return findings


def _ruleset_findings(ctx: DoctorContext, repo: str, ruleset_id: int, shown: str) -> list[str]:
    """A ruleset binds every writer but its bypass list, so the rule is only as strong as that list:
    it must be active and hold only the release managers' team (prod: exactly that team, which is how
    "restrict creations and updates" lets release managers, and only them, push release/*). The
    bypass list is returned only to a token that may administer the ruleset; an absent one fails,
    except in the preflight (GITHUB_REPOSITORY, no bootstrap tfvars), whose job token can never
    administer: there it is named as not checked (NOT_CHECKED) and `make doctor` checks it.
    https://docs.github.com/rest/repos/rules#get-a-repository-ruleset
    https://docs.github.com/repositories/configuring-branches-and-merges-in-your-repository/managing-rulesets/creating-rulesets-for-a-repository#granting-bypass-permissions-for-your-ruleset"""
    ruleset = ctx.github.get(f"/repos/{repo}/rulesets/{ruleset_id}") or {}
    name = f"{shown}: ruleset {ruleset.get('name', ruleset_id)}"
    if ruleset.get("enforcement") != "active":
        return [f"{name} is not enforced (enforcement {ruleset.get('enforcement')!r}, not 'active')"]
    if "bypass_actors" not in ruleset:
        hidden = f"{name}: its bypass list is not visible to this token (needs Administration: read)"
        in_preflight = ctx.settings.ci_repository is not None and not ctx.settings.bootstrap
        return [NOT_CHECKED + hidden if in_preflight else hidden]
    team = ctx.settings.release_managers_team_id
    allowed = set() if team is None else {("Team", team)}
    actors = {(str(a.get("actor_type")), a.get("actor_id")) for a in ruleset["bypass_actors"]}
    findings = [
        f"{name} lets {kind} {actor_id} bypass it" for kind, actor_id in sorted(actors - allowed, key=str)
    ]
    if ctx.settings.env == "prod" and team is None:
        findings.append(f"{name}: no release managers team named (FORECAST_STACK_RELEASE_MANAGERS_TEAM_ID)")
    elif ctx.settings.env == "prod" and not actors & allowed:
        findings.append(f"{name}: the release managers team {team} is not on its bypass list")
    return findings


# Azure DevOps evaluates the checks of every protected resource a stage uses: an environment's
# checks bind only the stages that name it, so a plain job on any branch that names the
# forecast-prod service connection would get prod's token unless the connection carries the
# approval too. Prod's deploying connection: Approvals (requester cannot approve), Exclusive lock and
# Branch control (release/* only, branch protection verified); the plan connection and prod's pool:
# Branch control. https://learn.microsoft.com/azure/devops/pipelines/process/approvals#branch-control
# https://learn.microsoft.com/rest/api/azure/devops/approvalsandchecks/check-configurations/list
# Branch control is a "Task Check" whose definition is evaluatebranchProtection with the inputs
# allowedBranches and ensureProtectionOfBranch (terraform-provider-azuredevops,
# azuredevops_check_branch_control).
RELEASE_BRANCHES = "refs/heads/release/*"
CHECKS_API = "7.1-preview.1"


def _check_kinds(ctx: DoctorContext, base: str, kind: str, resource_id: str) -> dict[str, dict[str, Any]]:
    """The checks on one resource: check name (Approval, ExclusiveLock, or a Task Check's definition
    name, e.g. evaluatebranchProtection) -> its settings."""
    params = {
        "resourceType": kind,
        "resourceId": resource_id,
        "$expand": "settings",
        "api-version": CHECKS_API,
    }
    checks = (ctx.azure_devops.get(f"{base}/pipelines/checks/configurations", params) or {}).get("value", [])
    kinds: dict[str, dict[str, Any]] = {}
    for found in checks:
        settings = found.get("settings") or {}
        name = str(found.get("type", {}).get("name"))
        if name == "Task Check":
            name = str((settings.get("definitionRef") or {}).get("name"))
        kinds[name] = settings
    return kinds


def _approval_findings(label: str, kinds: dict[str, dict[str, Any]]) -> list[str]:
    findings = []
    approval = kinds.get("Approval")
    if approval is None:
        findings.append(f"{label}: no Approvals check")
    elif approval.get("requesterCannotBeApprover") is not True and approval.get("requesterCanApprove", True):
        findings.append(f"{label}: the requester may approve their own run (requesterCanApprove)")
    if "ExclusiveLock" not in kinds:
        findings.append(f"{label}: no Exclusive lock check")
    return findings


def _branch_control_findings(label: str, kinds: dict[str, dict[str, Any]]) -> list[str]:
    control = kinds.get("evaluatebranchProtection")
    if control is None:
        return [f"{label}: no Branch control check ({RELEASE_BRANCHES} only)"]
    inputs = control.get("inputs") or {}
    findings = []
    allowed = {b.strip() for b in str(inputs.get("allowedBranches", "")).split(",") if b.strip()}
    if allowed != {RELEASE_BRANCHES}:
        findings.append(f"{label}: Branch control admits {sorted(allowed)}, not only {RELEASE_BRANCHES}")
    if str(inputs.get("ensureProtectionOfBranch", "false")).lower() != "true":
        findings.append(f"{label}: Branch control does not verify branch protection")
    return findings


def _resource_id(ctx: DoctorContext, base: str, path: str, params: dict[str, str]) -> str | None:
    found = (ctx.azure_devops.get(f"{base}/{path}", {**params, "api-version": "7.1"}) or {}).get("value", [])
    return str(found[0]["id"]) if found else None


def _azure_devops_findings(ctx: DoctorContext) -> list[str]:
    """forecast-<env> exists; for prod the environment, the service connections and the pool carry
    the checks above (review finding 3)."""
    devops = ctx.settings.azure_devops or {}
    base = f"/{devops.get('organization')}/{devops.get('project')}/_apis"
    environment = _resource_id(
        ctx, base, "distributedtask/environments", {"name": f"forecast-{ctx.settings.env}"}
    )
    if environment is None:
        return [f"forecast-{ctx.settings.env}: no such Azure DevOps environment"]
    if ctx.settings.env != "prod":
        return []
    findings = _approval_findings("forecast-prod", _check_kinds(ctx, base, "environment", environment))
    for connection, needs_approval in (("forecast-prod", True), ("forecast-prod-plan", False)):
        endpoint = _resource_id(ctx, base, "serviceendpoint/endpoints", {"endpointNames": connection})
        if endpoint is None:
            findings.append(f"service connection {connection}: not found")
            continue
        kinds = _check_kinds(ctx, base, "endpoint", endpoint)
        label = f"service connection {connection}"
        findings += (_approval_findings(label, kinds) if needs_approval else []) + _branch_control_findings(
            label, kinds
        )
    pool = (ctx.settings.names.get("runner") or {}).get("prod")
    if pool is None:
        return [*findings, f"{NOT_CHECKED}prod's agent pool (no bootstrap names here)"]
    queue = _resource_id(ctx, base, "distributedtask/queues", {"queueName": pool})
    if queue is None:
        return [*findings, f"agent pool {pool}: not found in the project"]
    return findings + _branch_control_findings(f"agent pool {pool}", _check_kinds(ctx, base, "queue", queue))


def ci_protection(ctx: DoctorContext) -> CheckResult:
    """The CI environments protect the environment: the release fails this check (release.yml's
    <env>-preflight job) rather than apply prod without an approval."""
    findings: list[str] = []
    if not ctx.settings.github and not ctx.settings.azure_devops:
        # Nothing to ask about is not a pass: the preflight must not succeed vacuously.
        raise Unreachable(
            "no GitHub repository (github in the bootstrap tfvars, or GITHUB_REPOSITORY) "
            "or Azure DevOps project named"
        )
    if ctx.settings.github:
        repo = f"{ctx.settings.github['owner']}/{ctx.settings.github['repository']}"
        for gh_env in (f"{ctx.settings.env}-plan", ctx.settings.env):
            findings += _github_environment_findings(ctx, gh_env, repo)
        findings += _branch_rule_findings(ctx, repo)
    if ctx.settings.azure_devops:
        findings += _azure_devops_findings(ctx)
    notes = [f for f in findings if f.startswith(NOT_CHECKED)]
    findings = [f for f in findings if not f.startswith(NOT_CHECKED)]
    if findings:
        return failed(
            "ci-protection",
            "; ".join(findings),
            "set the environment's protection as README 'Azure: first deploy' step 6 shows "
            "(gh api / Azure DevOps checks)",
        )
    return passed(
        "ci-protection",
        f"{ctx.settings.env}'s environments are protected (branch {BRANCH[ctx.settings.env]})"
        + "".join(
            f"; {note} (make doctor ENV={ctx.settings.env} with an admin's token checks it)" for note in notes
        ),
    )


def _runner_group_findings(
    group: dict[str, Any], repo_ids: list[int], repo: dict[str, Any], ctx: DoctorContext
) -> list[str]:
    """Each environment's group admits only this repository's release.yml on its own branch (dev:
    main, prod: the release/<name> refs release managers listed) and no public repository, so no
    pull-request job is scheduled in its VNet. Restricting a group to workflows is a GitHub
    Enterprise Cloud feature. https://docs.github.com/rest/actions/self-hosted-runner-groups"""
    findings = []
    if group.get("visibility") != "selected" or repo_ids != [repo["id"]]:
        findings.append(
            f"group {group['name']} admits repositories {repo_ids} "
            f"(visibility {group.get('visibility')}), not only this one"
        )
    workflows = group.get("selected_workflows", []) if group.get("restricted_to_workflows") else []
    findings += _selected_workflow_findings(group["name"], workflows, repo["full_name"], ctx)
    if group.get("allows_public_repositories"):
        findings.append(f"group {group['name']} allows public repositories")
    return findings


# GitHub compares a selected workflow's ref with the job's ref exactly: the REST schema asks for "a
# ref, tag, or long SHA", and patterns never match (pytorch/test-infra#8502, iree-org/iree#9432), so
# `release.yml@refs/heads/release/*` would admit no release at all. Dev lists main; prod lists each
# release branch a release manager cut (README "Azure: first deploy", step 9), and nothing else.
# https://docs.github.com/rest/actions/self-hosted-runner-groups#set-selected-workflows (selected_workflows)
RELEASE_REF = re.compile(r"refs/heads/release/[A-Za-z0-9._/-]+")
# The group restriction binds the file a job is *defined in*, at the listed ref: "Only jobs directly
# defined within the selected workflows will have access to the runner group". A reusable workflow
# (on: workflow_call) listed there admits the jobs of any caller, on any branch, that names it at
# that ref, running the caller's checkout (review 23, finding A1). The admitted workflow is
# release.yml, which no other workflow can call; doctor reads it at each listed ref and fails when it
# has become callable.
# https://docs.github.com/actions/how-tos/manage-runners/self-hosted-runners/manage-access
# https://docs.github.com/actions/sharing-automations/reusing-workflows#overview
ADMITTED_WORKFLOW = ".github/workflows/release.yml"


def _selected_workflow_findings(
    group: str, workflows: list[str], full_name: str, ctx: DoctorContext
) -> list[str]:
    prefix = f"{full_name}/{ADMITTED_WORKFLOW}@"
    if ctx.settings.env == "dev":
        if set(workflows) != {f"{prefix}refs/heads/main"}:
            return [f"group {group} is not restricted to {prefix}refs/heads/main (GitHub Enterprise Cloud)"]
        return _callable_findings(ctx, group, full_name, ["refs/heads/main"])
    if not workflows:
        return [
            f"group {group} is not restricted to {prefix}refs/heads/release/<name> (GitHub Enterprise Cloud)"
        ]
    findings = [
        f"group {group} admits {entry}: "
        f"only {prefix}refs/heads/release/<name>, exactly (GitHub matches no patterns)"
        for entry in workflows
        if not entry.startswith(prefix) or not RELEASE_REF.fullmatch(entry[len(prefix) :])
    ]
    ref = ctx.settings.ci_ref
    if ref and ref.startswith("refs/heads/release/") and f"{prefix}{ref}" not in workflows:
        findings.append(
            f"group {group} does not admit this release ({prefix}{ref}): "
            "its jobs would wait for a runner forever"
        )
    listed = [entry[len(prefix) :] for entry in workflows if entry.startswith(prefix)]
    return findings + _callable_findings(ctx, group, full_name, listed)


def _callable_findings(ctx: DoctorContext, group: str, full_name: str, refs: list[str]) -> list[str]:
    """The admitted workflow at each listed ref may not be callable by another workflow (ADMITTED_WORKFLOW).
    A ref that no longer exists admits nothing and is skipped.
    https://docs.github.com/rest/repos/contents#get-repository-content"""
    findings = []
    for ref in refs:
        found = ctx.github.get(f"/repos/{full_name}/contents/{ADMITTED_WORKFLOW}", {"ref": ref})
        if not found or "content" not in found:
            continue
        workflow = yaml.safe_load(base64.b64decode(found["content"])) or {}
        triggers = workflow.get("on", workflow.get(True)) if isinstance(workflow, dict) else None
        if (
            isinstance(triggers, (dict, list)) and "workflow_call" in triggers
        ) or triggers == "workflow_call":
            findings.append(
                f"group {group} admits {ADMITTED_WORKFLOW}@{ref}, which other workflows can call "
                "(workflow_call): any branch's caller would run its own code on this runner"
            )
    return findings


def _github_runner(ctx: DoctorContext) -> list[str]:
    arm = require_arm(ctx)
    github = ctx.settings.github or {}
    org, name = github["owner"], github["repository"]
    runner = ctx.settings.bootstrap.get("ci_runner", {}).get("environments", {}).get(ctx.settings.env, {})
    group_name = runner.get("runner_group", f"forecast-stack-{ctx.settings.env}")
    settings = arm.get(
        f"/subscriptions/{arm.subscription_id}/resourceGroups/{names(ctx, 'bootstrap_resource_group')}"
        f"/providers/GitHub.Network/networkSettings/{names(ctx, 'runner')}",
        NETWORK_SETTINGS_API,
    )
    if settings is None:
        return [f"no GitHub.Network/networkSettings {names(ctx, 'runner')}: run the bootstrap"]
    groups = (ctx.github.get(f"/orgs/{org}/actions/runner-groups") or {}).get("runner_groups", [])
    group = next((g for g in groups if g["name"] == group_name), None)
    if group is None:
        return [f"no runner group {group_name} in {org}"]
    repo = ctx.github.get(f"/repos/{org}/{name}") or {"id": None, "full_name": f"{org}/{name}"}
    admitted = ctx.github.get(f"/orgs/{org}/actions/runner-groups/{group['id']}/repositories") or {}
    findings = _runner_group_findings(group, [r["id"] for r in admitted.get("repositories", [])], repo, ctx)
    configurations = (ctx.github.get(f"/orgs/{org}/settings/network-configurations") or {}).get(
        "network_configurations", []
    )
    github_id = settings.get("tags", {}).get("GitHubId")
    private = [c["id"] for c in configurations if github_id in c.get("network_settings_ids", [])]
    if not private:
        findings.append(f"no network configuration in {org} uses the networkSettings (GitHubId {github_id})")
    elif group.get("network_configuration_id") not in private:
        # A group on GitHub's public network (no id) or another configuration runs the jobs outside
        # the runner VNet. https://docs.github.com/rest/actions/self-hosted-runner-groups#update-a-self-hosted-runner-group-for-an-organization
        findings.append(
            f"group {group_name} uses network configuration {group.get('network_configuration_id')!r}, "
            f"not the private one {private[0]}"
        )
    hosted = (ctx.github.get(f"/orgs/{org}/actions/hosted-runners") or {}).get("runners", [])
    if not any(r.get("runner_group_id") == group["id"] for r in hosted):
        findings.append(f"no GitHub-hosted runner in group {group_name}")
    return findings


def _pool(ctx: DoctorContext) -> list[str]:
    arm = require_arm(ctx)
    pool = arm.get(
        f"/subscriptions/{arm.subscription_id}/resourceGroups/{names(ctx, 'bootstrap_resource_group')}"
        f"/providers/Microsoft.DevOpsInfrastructure/pools/{names(ctx, 'runner')}",
        POOL_API,
    )
    if pool is None:
        return [f"no Managed DevOps Pool {names(ctx, 'runner')}: run the bootstrap"]
    findings = []
    if pool["properties"].get("provisioningState") != "Succeeded":
        findings.append(f"pool {pool['name']} is {pool['properties'].get('provisioningState')}")
    if (pool.get("identity") or {}).get("type", "None") != "None":
        findings.append(f"pool {pool['name']} has a managed identity every job can use: remove it")
    return findings


def runner(ctx: DoctorContext) -> CheckResult:
    """The environment's runner exists inside its VNet and only its pipeline can reach it."""
    findings = _github_runner(ctx) if ctx.settings.platform == "github" else _pool(ctx)
    if findings:
        return failed(
            "runner",
            "; ".join(findings),
            "README 'Azure: first deploy' step 5 (runner group, network configuration, hosted runner)",
        )
    return passed("runner", f"{ctx.settings.env}'s runner is in its VNet and admits only its pipeline")
