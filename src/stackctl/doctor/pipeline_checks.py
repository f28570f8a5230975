"""The CI side: the environments' protection (GitHub environments, Azure DevOps checks) and the
runners (GitHub-hosted runners with Azure private networking, or a Managed DevOps Pool)."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from typing import Any, TypedDict

import yaml

from stackctl.doctor.clients import Forbidden, Unreachable
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
    findings = _branch_policy_findings(
        ctx, repo, gh_env, environment.get("deployment_branch_policy") or {}, BRANCH[ctx.settings.env]
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


def _branch_policy_findings(
    ctx: DoctorContext, repo: str, gh_env: str, policy: Mapping[str, object], branch: str
) -> list[str]:
    """The environment admits only `branch` (a name pattern) through a custom deployment policy, and
    no tag: a tag policy (type "tag") lets a job on any matching tag use the environment, and no
    release/** branch ruleset covers tags, so any writer could push tag release/x at their own commit
    and get the environment's token (review 23, finding A3).
    https://docs.github.com/rest/deployments/branch-policies#list-deployment-branch-policies"""
    if not policy.get("custom_branch_policies") or policy.get("protected_branches"):
        return [f"{gh_env}: no custom deployment-branch policy"]
    listed = ctx.github.get(f"/repos/{repo}/environments/{gh_env}/deployment-branch-policies") or {}
    policies = listed.get("branch_policies", [])
    branches = {p["name"] for p in policies if p.get("type", "branch") == "branch"}
    findings = [
        f"{gh_env}: admits {p.get('type')} {p.get('name')!r} (only the branch {branch} may deploy)"
        for p in policies
        if p.get("type", "branch") != "branch"
    ]
    if branches != {branch}:
        findings.append(f"{gh_env}: branches {sorted(branches)} instead of only {branch}")
    return findings


# Who may move the branch an environment deploys from: prod's release/* only release managers may
# create or push (a pushed release/* branch runs its code as prod's plan identity before approval);
# main changes only through a reviewed pull request, for both environments (dev deploys main, and
# each release/* is cut from main). A ruleset's rules apply to every writer but its bypass list.
# https://docs.github.com/rest/repos/rules#get-rules-for-a-branch
MAIN_RULE = ("main", {"pull_request"})
BRANCH_RULES = {"dev": [MAIN_RULE], "prod": [("release/doctor-probe", {"creation", "update"}), MAIN_RULE]}


# A finding that marks what this run could not check rather than a fault (ci_protection names it).
NOT_CHECKED = "not checked: "


def _branch_rule_findings(ctx: DoctorContext, repo: str) -> list[str]:
    findings: list[str] = []
    for branch, needed in BRANCH_RULES[ctx.settings.env]:
        rules = ctx.github.get(f"/repos/{repo}/rules/branches/{branch.replace('/', '%2F')}") or []
        missing = needed - {str(rule.get("type")) for rule in rules}
        shown = "release/*" if branch.startswith("release/") else branch
        if missing:
            findings.append(
                f"{shown}: no ruleset with {', '.join(sorted(missing))} "
                f"(any writer can move the branch {ctx.settings.env} deploys from)"
            )
            continue
        if branch == "main":
            findings += _review_findings(rules)
        ruleset_ids = sorted(
            {rule["ruleset_id"] for rule in rules if rule.get("type") in needed and "ruleset_id" in rule}
        )
        for ruleset_id in ruleset_ids:
            findings += _ruleset_findings(ctx, repo, ruleset_id, shown)
    return findings


# What makes main's review real (review 23, finding A2): at least one approval by someone else, given
# after the last push (an approval of a harmless diff does not carry over to the payload pushed after
# it), stale approvals dismissed on push, and a code owner's review (.github/CODEOWNERS covers the code
# the plan and apply jobs run). Several pull_request rules combine, the most restrictive winning.
# https://docs.github.com/rest/repos/rules#get-rules-for-a-branch (pull_request parameters)
# https://docs.github.com/repositories/configuring-branches-and-merges-in-your-repository/managing-rulesets/available-rules-for-rulesets#require-a-pull-request-before-merging
REVIEW_PARAMETERS = {
    "require_last_push_approval": "approval of the most recent push",
    "dismiss_stale_reviews_on_push": "stale approvals dismissed on push",
    "require_code_owner_review": "a code owner's review",
}


class PullRequestRule(TypedDict, total=False):
    """A rule of GET /repos/{owner}/{repo}/rules/branches/{branch} (the fields read here)."""

    type: str
    ruleset_id: int
    parameters: dict[str, int | bool]


def _review_findings(rules: list[PullRequestRule]) -> list[str]:
    parameters = [rule.get("parameters") or {} for rule in rules if rule.get("type") == "pull_request"]
    approvals = max((int(p.get("required_approving_review_count") or 0) for p in parameters), default=0)
    findings = []
    if approvals < 1:
        findings.append(f"main: pull requests need {approvals} approvals (at least 1: a writer merges alone)")
    findings += [
        f"main: pull requests do not require {words}"
        for key, words in REVIEW_PARAMETERS.items()
        if not any(p.get(key) is True for p in parameters)
    ]
    return findings


# The environment that holds the provider-locks GitHub App's key (.github/workflows/provider-locks.yml):
# the App can open pull requests, and approve them, so its key must reach only jobs on main.
PROVIDER_LOCKS_ENVIRONMENT = "provider-locks"


def _provider_locks_findings(ctx: DoctorContext, repo: str) -> list[str]:
    """Absent is fine (no App: lock files are proposed by hand); present, it admits only main."""
    environment = ctx.github.get(f"/repos/{repo}/environments/{PROVIDER_LOCKS_ENVIRONMENT}")
    if environment is None:
        return []
    policy = environment.get("deployment_branch_policy") or {}
    return [
        f"{finding}: its GitHub App key would reach a writer's branch"
        for finding in _branch_policy_findings(ctx, repo, PROVIDER_LOCKS_ENVIRONMENT, policy, "main")
    ]


def _actions_review_findings(ctx: DoctorContext, repo: str) -> list[str]:
    """No workflow may approve a pull request (review 23, A2: a workflow in the writer's branch would
    approve its own pull request with GITHUB_TOKEN), and CODEOWNERS on main parses without errors (an
    unknown owner or a bad pattern makes a code owner's review require nothing for those paths).
    The workflow setting needs Administration: read, which the preflight's job token never has: there
    it is named as not checked, and `make doctor` with an admin's token checks it.
    https://docs.github.com/rest/actions/permissions#get-default-workflow-permissions-for-a-repository
    https://docs.github.com/rest/repos/repos#list-codeowners-errors
    https://github.blog/changelog/2022-05-03-github-actions-prevent-github-actions-from-creating-and-approving-pull-requests/"""
    findings = _provider_locks_findings(ctx, repo)
    try:
        workflow = ctx.github.get(f"/repos/{repo}/actions/permissions/workflow")
    except Forbidden:
        workflow = None
    if workflow is None:
        hidden = "the Actions workflow permissions are not visible to this token (needs Administration: read)"
        in_preflight = ctx.settings.ci_repository is not None and not ctx.settings.bootstrap
        findings.append(NOT_CHECKED + hidden if in_preflight else hidden)
    elif workflow.get("can_approve_pull_request_reviews") is not False:
        findings.append(
            "Actions may approve pull requests ('Allow GitHub Actions to create and approve pull requests' "
            "is on): a workflow in a writer's branch can approve its own pull request"
        )
    errors = ctx.github.get(f"/repos/{repo}/codeowners/errors", {"ref": "main"})
    if errors is None:
        findings.append(
            "main: no CODEOWNERS file (.github/CODEOWNERS), so a code owner's review requires nobody"
        )
    else:
        findings += [
            f"main: CODEOWNERS line {e.get('line')}: {e.get('kind')} ({e.get('source', '').strip()})"
            for e in errors.get("errors", [])
        ]
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
    if shown != "release/*":
        return findings
    if team is None:
        findings.append(f"{name}: no release managers team named (FORECAST_STACK_RELEASE_MANAGERS_TEAM_ID)")
    elif not actors & allowed:
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
# allowedBranches, ensureProtectionOfBranch and allowUnknownStatusBranch (terraform-provider-azuredevops,
# azuredevops_check_branch_control: `inputs["allowUnknownStatusBranch"] =
# ignore_unknown_protection_status`); with the last "true", a branch whose protection cannot be
# determined passes the verification (review 23, finding A5).
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
    if str(inputs.get("allowUnknownStatusBranch", "true")).lower() != "false":
        findings.append(f"{label}: Branch control admits a branch whose protection status is unknown")
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
    findings += _create_branch_findings(ctx, devops)
    pool = (ctx.settings.names.get("runner") or {}).get("prod")
    if pool is None:
        return [*findings, f"{NOT_CHECKED}prod's agent pool (no bootstrap names here)"]
    queue = _resource_id(ctx, base, "distributedtask/queues", {"queueName": pool})
    if queue is None:
        return [*findings, f"agent pool {pool}: not found in the project"]
    return findings + _branch_control_findings(f"agent pool {pool}", _check_kinds(ctx, base, "queue", queue))


# Who may create a branch under release/ in Azure Repos (review 23, A5; U1): a created release/<x>
# inherits the folder's branch policy, so Branch control's "verify branch protection" passes, and
# forecast-prod-plan and prod's pool run its code before any approval. The Git Repositories security
# namespace holds the permission; a ref's token is repoV2/<project id>/<repository id>/refs/heads/
# followed by each '/'-separated segment of the name hex-encoded as UTF-16LE
# (GitPermissionsUtil.GetRefNameFromToken; Microsoft's sample "Azure Repos Git security token").
# An explicit allow or deny on a token overrides what it inherits; a token that does not inherit
# starts empty; deny wins on one token.
# https://learn.microsoft.com/rest/api/azure/devops/security/access-control-lists/query
# CreateBranch = 16: GitRepositoryPermissions,
# https://learn.microsoft.com/dotnet/api/microsoft.teamfoundation.sourcecontrol.webapi.gitrepositorypermissions
# https://learn.microsoft.com/azure/devops/repos/git/require-branch-folders
GIT_NAMESPACE = "2e9eb7ed-3c0a-47d4-87c1-0ffdd275fd87"
CREATE_BRANCH = 16
# Build service accounts (the project's and the collection's) are service identities: a pull-request
# build maps System.AccessToken, so neither may create a release branch (review 23, U1).
SERVICE_IDENTITY = "Microsoft.TeamFoundation.ServiceIdentity;"


def ref_token(project_id: str, repository_id: str, ref_folder: str) -> str:
    """The security token of a branch folder, e.g. ref_folder "release" -> .../refs/heads/7200...00/."""
    segments = [segment.encode("utf-16-le").hex() for segment in ref_folder.strip("/").split("/")]
    return f"repoV2/{project_id}/{repository_id}/refs/heads/{'/'.join(segments)}/"


class AccessControlList(TypedDict, total=False):
    """An entry of GET _apis/accesscontrollists/{namespace} (the fields read here)."""

    token: str
    inheritPermissions: bool
    acesDictionary: dict[str, dict[str, int | str]]


def _allowed_to_create(acls: list[AccessControlList], token: str) -> set[str]:
    """The descriptors whose ACEs, from the namespace's root down to `token`, leave CreateBranch
    allowed there (per descriptor: group membership is not expanded)."""
    leaf = token.rstrip("/")

    def above(acl: AccessControlList) -> bool:
        own = str(acl.get("token", "")).rstrip("/")
        return leaf == own or leaf.startswith(own + "/")

    chain = sorted(filter(above, acls), key=lambda acl: len(str(acl.get("token", "")).rstrip("/")))
    state: dict[str, bool] = {}
    for acl in chain:
        if acl.get("inheritPermissions", True) is False:
            state = {}
        for descriptor, ace in (acl.get("acesDictionary") or {}).items():
            if int(ace.get("deny", 0)) & CREATE_BRANCH:
                state[descriptor] = False
            elif int(ace.get("allow", 0)) & CREATE_BRANCH:
                state[descriptor] = True
    return {descriptor for descriptor, allowed in state.items() if allowed}


def _create_branch_findings(ctx: DoctorContext, devops: Mapping[str, object]) -> list[str]:
    """Only the release managers' group may create branches under release/ in the pipeline's
    repository. Reading ACLs may be refused to the pipeline's token: there it is named as not checked."""
    organization, project = devops.get("organization"), devops.get("project")
    repository = devops.get("repository") or project
    try:
        found = ctx.azure_devops.get(
            f"/{organization}/{project}/_apis/git/repositories/{repository}", {"api-version": "7.1"}
        )
        if found is None:
            return [f"Azure Repos: no repository {repository} in {project} (azure_devops.repository)"]
        project_id, repository_id = found["project"]["id"], found["id"]
        acls = [
            acl
            for root, recurse in (("repoV2", "false"), (f"repoV2/{project_id}", "true"))
            for acl in (
                ctx.azure_devops.get(
                    f"/{organization}/_apis/accesscontrollists/{GIT_NAMESPACE}",
                    {"token": root, "recurse": recurse, "api-version": "7.1"},
                )
                or {}
            ).get("value", [])
        ]
    except Forbidden:
        hidden = "Azure Repos: who may create release/ branches is not visible to this token"
        return [NOT_CHECKED + hidden if not ctx.settings.bootstrap else hidden]
    allowed = _allowed_to_create(acls, ref_token(project_id, repository_id, "release"))
    named = devops.get("release_managers") or ctx.settings.release_managers_descriptor
    managers = str(named) if named else None
    findings = [
        f"Azure Repos: {descriptor} may create branches under release/ (deny Create branch there)"
        for descriptor in sorted(allowed - {managers})
    ]
    if managers is None and allowed:
        findings.append("Azure Repos: no release managers group named (azure_devops.release_managers)")
    return findings


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
        findings += _actions_review_findings(ctx, repo)
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
# https://docs.github.com/actions/hosting-your-own-runners/managing-self-hosted-runners/managing-access-to-self-hosted-runners-using-groups#changing-which-workflows-can-access-a-runner-group
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
    groups = (ctx.github.get(f"/orgs/{org}/actions/runner-groups", {"per_page": "100"}) or {}).get(
        "runner_groups", []
    )
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
    # Review 23, A6: the configuration puts a group's runners in this environment's runner VNet, so
    # no other group (another repository's, or an unrestricted one) may use it.
    findings += [
        f"group {other['name']} also uses {ctx.settings.env}'s private network configuration "
        f"{other.get('network_configuration_id')}: its jobs run in {ctx.settings.env}'s runner VNet"
        for other in groups
        if other["id"] != group["id"] and other.get("network_configuration_id") in private
    ]
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
