"""Who is logged in and what it may do; whether the identities trust the repository's real subject."""

from __future__ import annotations

import fnmatch
from typing import Any

from stackctl.doctor.context import DoctorContext, names, require_arm
from stackctl.doctor.report import CheckResult, failed, passed, unchecked

# https://learn.microsoft.com/rest/api/authorization/permissions/list-for-resource-group
PERMISSIONS_API = "2022-04-01"
# https://learn.microsoft.com/rest/api/managedidentity/federated-identity-credentials/list
IDENTITY_API = "2023-01-31"
STORAGE_API = "2023-05-01"
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def _allows(permissions: list[dict[str, Any]], action: str) -> bool:
    """Whether ARM's effective permissions grant `action` (wildcards as ARM matches them)."""

    def matches(pattern: str) -> bool:
        # ARM's `*` stands for any string, slashes included (Contributor's notActions use
        # "Microsoft.Authorization/*/Write"); matching ignores case.
        # https://learn.microsoft.com/azure/role-based-access-control/role-definitions#actions
        return fnmatch.fnmatchcase(action.lower(), pattern.lower())

    granted = any(matches(p) for entry in permissions for p in entry.get("actions", []))
    denied = any(matches(p) for entry in permissions for p in entry.get("notActions", []))
    return granted and not denied


def identity_and_rights(ctx: DoctorContext) -> CheckResult:
    """Who is logged in; before the bootstrap, whether it can run it (Owner-level rights on the
    subscription); after, whether it can read the stack's group (what `make plan` needs)."""
    arm = require_arm(ctx)
    claims = arm.token_claims()
    who = claims.get("upn") or claims.get("unique_name") or claims.get("appid") or claims.get("oid")
    subscription = f"/subscriptions/{arm.subscription_id}"
    state = arm.get(
        f"{subscription}/resourceGroups/{names(ctx, 'bootstrap_resource_group')}/providers/Microsoft.Storage"
        f"/storageAccounts/{ctx.settings.bootstrap['state_storage_account_name']}",
        STORAGE_API,
    )
    if state is None:
        rights = arm.list(f"{subscription}/providers/Microsoft.Authorization/permissions", PERMISSIONS_API)
        needed = [
            "Microsoft.Authorization/roleAssignments/write",
            "Microsoft.Resources/subscriptions/resourceGroups/write",
        ]
        missing = [action for action in needed if not _allows(rights, action)]
        if missing:
            return failed(
                "identity",
                f"{who} (tenant {claims.get('tid')}) cannot run the bootstrap: "
                f"no {', '.join(missing)} on the subscription",
                "an owner of the subscription runs the bootstrap "
                "(scripts/bootstrap_state.sh, README 'Azure: first deploy', step 3)",
            )
        return passed(
            "identity", f"{who} (tenant {claims.get('tid')}) can run the bootstrap (Owner-level rights)"
        )
    group = f"{subscription}/resourceGroups/{names(ctx, 'stack_resource_group')}"
    rights = arm.list(f"{group}/providers/Microsoft.Authorization/permissions", PERMISSIONS_API)
    if not _allows(rights, "Microsoft.Resources/subscriptions/resourceGroups/read"):
        return failed(
            "identity",
            f"{who} cannot read {names(ctx, 'stack_resource_group')}",
            "plan from a laptop needs at least Reader on the stack's group (the plan identity's rights); "
            "or let the pipeline plan",
        )
    return passed(
        "identity", f"{who} (tenant {claims.get('tid')}) reads {names(ctx, 'stack_resource_group')}"
    )


def _expected_github_prefix(ctx: DoctorContext) -> tuple[str | None, str]:
    """The `sub` prefix the repository sends, from GitHub: its customization's `sub_claim_prefix`
    when it has one, else the form the bootstrap trusts with GitHub's real ids filled in.
    https://learn.microsoft.com/entra/workload-id/workload-identities-github-immutable-subjects"""
    repo = ctx.settings.github or {}
    owner, name = repo.get("owner"), repo.get("repository")
    metadata = ctx.github.get(f"/repos/{owner}/{name}")
    if metadata is None:
        return None, f"GitHub has no repository {owner}/{name}"
    customization = ctx.github.get(f"/repos/{owner}/{name}/actions/oidc/customization/sub") or {}
    if customization.get("sub_claim_prefix"):
        return str(customization["sub_claim_prefix"]), "the repository's sub_claim_prefix"
    ids_match = str(metadata["owner"]["id"]) == str(repo.get("owner_id")) and str(metadata["id"]) == str(
        repo.get("repository_id")
    )
    if not ids_match and "immutable" in repo.get("subject_forms", ["immutable"]):
        return None, (
            "owner_id/repository_id in the bootstrap "
            f"({repo.get('owner_id')}/{repo.get('repository_id')}) are not "
            f"GitHub's ({metadata['owner']['id']}/{metadata['id']})"
        )
    immutable = f"repo:{owner}@{metadata['owner']['id']}/{name}@{metadata['id']}"
    return (
        immutable if "immutable" in repo.get("subject_forms", ["immutable"]) else f"repo:{owner}/{name}"
    ), "GitHub's ids"


def _trusted(ctx: DoctorContext, identity_group: str) -> set[tuple[str, str]]:
    arm = require_arm(ctx)
    identity = (
        f"/subscriptions/{arm.subscription_id}/resourceGroups/{names(ctx, 'bootstrap_resource_group')}"
        f"/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{names(ctx, identity_group)}"
    )
    credentials = arm.list(f"{identity}/federatedIdentityCredentials", IDENTITY_API)
    return {(c["properties"]["issuer"], c["properties"]["subject"]) for c in credentials}


def _extra_credentials(
    ctx: DoctorContext, expected: dict[str, set[tuple[str, str]]], trusted: dict[str, set[tuple[str, str]]]
) -> list[str]:
    """Credentials an identity trusts beyond the expected ones (review 23, finding A4): a hand-added
    `repo:<o>/<r>:ref:refs/heads/*` or `:pull_request` subject gives any writer's job the identity
    without an environment; a legacy subject kept after a migration, or another issuer, does the same
    for whoever can produce it. While the bootstrap migrates (github.subject_forms names both), the
    legacy `repo:<owner>/<repo>:environment:<env>` form is expected too.
    https://learn.microsoft.com/entra/workload-id/workload-identity-federation-considerations"""
    allowed = {group: set(wanted) for group, wanted in expected.items()}
    repo = ctx.settings.github or {}
    if repo and "legacy" in repo.get("subject_forms", ["immutable"]):
        legacy = f"repo:{repo.get('owner')}/{repo.get('repository')}:environment:{ctx.settings.env}"
        allowed["plan_identity"].add((GITHUB_ISSUER, f"{legacy}-plan"))
        allowed["identity"].add((GITHUB_ISSUER, legacy))
    return [
        f"{group}: {subject} (issuer {issuer})"
        for group in sorted(trusted)
        for issuer, subject in sorted(trusted[group] - allowed[group])
    ]


def federated_credentials(ctx: DoctorContext) -> CheckResult:
    """Each identity trusts exactly the subject its pipeline sends: GitHub `<prefix>:environment:<env>`
    (plan identity: `<env>-plan`), Azure DevOps the service connection's issuer and subject."""
    env = ctx.settings.env
    expected: dict[str, set[tuple[str, str]]] = {"plan_identity": set(), "identity": set()}
    if ctx.settings.github:
        prefix, source = _expected_github_prefix(ctx)
        if prefix is None:
            return failed(
                "federated-credentials",
                source,
                "correct github.* in envs/bootstrap/terraform.tfvars and run the bootstrap again",
            )
        expected["plan_identity"].add((GITHUB_ISSUER, f"{prefix}:environment:{env}-plan"))
        expected["identity"].add((GITHUB_ISSUER, f"{prefix}:environment:{env}"))
    for key, connection in (ctx.settings.azure_devops or {}).get("service_connections", {}).items():
        if key in (env, f"{env}-plan"):
            group = "plan_identity" if key.endswith("-plan") else "identity"
            expected[group].add((connection["issuer"], connection["subject"]))
    if not any(expected.values()):
        return unchecked(
            "federated-credentials",
            "no GitHub repository or Azure DevOps connection configured",
            "fill github or azure_devops in envs/bootstrap/terraform.tfvars",
        )
    trusted = {group: _trusted(ctx, group) for group in expected}
    missing = [
        f"{group}: {subject}" for group, wanted in expected.items() for _, subject in wanted - trusted[group]
    ]
    extra = _extra_credentials(ctx, expected, trusted)
    if missing or extra:
        detail = [f"not trusted: {'; '.join(missing)}"] if missing else []
        detail += [f"trusted beyond what the pipeline sends: {'; '.join(extra)}"] if extra else []
        return failed(
            "federated-credentials",
            "; ".join(detail),
            "set github.subject_forms / owner_id / repository_id (or azure_devops.service_connections) in "
            "envs/bootstrap/terraform.tfvars to what the pipeline sends, and run the bootstrap again; "
            "delete any other credential the detail names (az identity federated-credential delete)",
        )
    return passed(
        "federated-credentials", f"{env}'s plan and deploying identities trust the pipeline's subjects"
    )
