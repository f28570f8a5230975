"""Review-22 U2 (kind: *an identity that must reach the private registry lacks the right on it*):
every identity that reads or writes the workspace registry holds a role there that allows it.

The workspace registry refuses public access, so AML builds environment images on the image-build
cluster (https://learn.microsoft.com/azure/machine-learning/how-to-network-isolation-planning); that
cluster pulls the base image from the registry (stackctl.aml.base_image imports it there) and pushes
the built image back: AcrPush (pull and push,
https://learn.microsoft.com/azure/container-registry/container-registry-roles). The jobs' user-assigned
identity pulls the built image: AcrPull. AML grants AcrPull itself to a cluster's system-assigned
identity, so the build cluster gets no separate AcrPull (a duplicate fails RoleAssignmentExists)."""

from __future__ import annotations

from pathlib import Path

import hcl2
import pytest
from infra_helpers import Edit

REGISTRY = "${module.aml_workspace.container_registry_id}"
BUILD = '${module.aml_compute.principal_ids["build"]}'
JOBS = "${local.jobs}"
# Who must do what on the registry, and the built-in roles that allow it.
NEEDS = {BUILD: ("pull and push", {"AcrPush"}), JOBS: ("pull", {"AcrPull", "AcrPush"})}


def registry_findings(tree: Path) -> list[str]:
    with (tree / "infra" / "main.rbac.tf").open() as handle:
        parsed = hcl2.load(handle, serialization_options=hcl2.SerializationOptions(strip_string_quotes=True))
    assignments = parsed["locals"][0]["role_assignments"].values()
    on_registry = [(a["principal_id"], a["role"]) for a in assignments if a["scope"] == REGISTRY]
    findings = []
    for principal, (action, roles) in NEEDS.items():
        if not any(p == principal and role in roles for p, role in on_registry):
            findings.append(f"{principal} must {action} on the workspace registry: none of {sorted(roles)}")
    findings += [
        f"{principal}: AcrPull again (AML grants it to the system-assigned build identity; 409)"
        for principal, role in on_registry
        if principal == BUILD and role == "AcrPull"
    ]
    return findings


def test_every_registry_user_holds_its_role(root: Path) -> None:
    assert registry_findings(root) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # main's tree: the build cluster had only its storage role (review-22 U2)
        (
            'registry-push-build = { scope = module.aml_workspace.container_registry_id, role = "AcrPush"',
            "# gone",
            "must pull and push",
        ),
        (
            'registry-push-build = { scope = module.aml_workspace.container_registry_id, role = "AcrPush"',
            'registry-push-build = { scope = module.aml_workspace.container_registry_id, role = "AcrPull"',
            "AcrPull again",
        ),
        (
            "registry-pull-jobs = { scope = module.aml_workspace.container_registry_id",
            "registry-pull-jobs = { scope = local.workspace_storage",
            "must pull on the workspace registry",
        ),
    ],
    ids=["no-build-role", "pull-only-build", "jobs-role-elsewhere"],
)
def test_a_missing_registry_role_is_caught(tree: Path, edit: Edit, old: str, new: str, expected: str) -> None:
    edit("infra/main.rbac.tf", old, new)
    assert any(expected in finding for finding in registry_findings(tree)), registry_findings(tree)
