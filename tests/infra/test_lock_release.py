"""No role assignment Terraform manages may be left under a CanNotDelete lock it cannot get past.

A CanNotDelete lock is inherited by every child and extension resource of its scope and refuses
their DELETE, role assignments included (ScopeLocked):
https://learn.microsoft.com/azure/azure-resource-manager/management/lock-resources#considerations-before-applying-your-locks,
MicrosoftDocs/azure-docs#110791, hashicorp/terraform-provider-azurerm#11770 ("Terraform can't remove
role assignment when azurerm_management_lock is used"). azurerm replaces an assignment (delete, then
create) whenever its scope, role, principal or principal type changes (ForceNew in
internal/services/authorization/role_assignment_resource.go, v5.2.0-14), so an assignment under a
lock fails a prod apply half-way whenever the factory or the workspace gets a new identity, or a role
changes or goes (review 22, item 10 residual).

The rule, two halves:
- static: each role assignment in infra/ whose scope comes from a locked module is listed in
  UNDER_LOCKS with the reason it is there, and every lock is replaced around a change of the
  assignments under it (infra/main.locks.tf: terraform_data.locked_role_assignments covers all of
  infra/'s azurerm_role_assignment resources, and the lock's replace_triggered_by names it);
- run: Terraform itself (provider-free, terraform_data stand-ins for the assignments and the lock,
  the real tracker block copied from infra/main.locks.tf) shows the lock is destroyed before an
  assignment under it is deleted or replaced, re-created after, and left alone otherwise.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from infra_helpers import Edit

from stackctl.checks.hclmodel import Block, TerraformDir, read_dir

REPO = Path(__file__).resolve().parents[2]
MODULE = re.compile(r"module\.([a-z0-9_]+)")
LOCAL = re.compile(r"\$\{local\.([a-z0-9_]+)\}")
TRACKER = "terraform_data.locked_role_assignments"

# Role assignments at or under a locked scope (the same module as a lock's scope counts: the check
# cannot see ids, so it fails closed), each with why it sits there.
UNDER_LOCKS = {
    'azurerm_role_assignment.this["lake-workspace"]': "AML's datastores read the lake as the workspace",
    'azurerm_role_assignment.this["lake-factory"]': "the factory copies raw -> conditioned",
    'azurerm_role_assignment.this["lake-read-jobs"]': "the jobs read raw (identity-based datastores)",
    'azurerm_role_assignment.this["lake-conditioned-jobs"]': "validate writes conditioned (that container)",
    'azurerm_role_assignment.this["lake-scored-jobs"]': "score and monitor write scored (that container)",
    'azurerm_role_assignment.network_approver["lake"]': "the workspace approves its lake private endpoints",
    # Same module as the database's lock, but the server is the database's parent: not under it.
    'azurerm_role_assignment.network_approver["sql"]': "on the SQL server, the locked database's parent",
    # Same module as the Log Analytics lock; App Insights is its sibling, not under it.
    'azurerm_role_assignment.this["telemetry-jobs"]': "on App Insights, beside the locked Log Analytics",
}


def _scopes(model: TerraformDir, block: Block) -> dict[str, str]:
    """address -> the scope expression of each instance of a for_each role assignment."""
    for_each = block.body.get("for_each")
    local = LOCAL.fullmatch(str(for_each)) if isinstance(for_each, str) else None
    if local and isinstance(model.locals.get(local[1]), dict):
        entries = {key: str(value.get("scope")) for key, value in model.locals[local[1]].items()}
    elif isinstance(for_each, dict):
        entries = {key: str(value) for key, value in for_each.items()}
    else:
        return {block.address: f"unreadable for_each {for_each!r}"}
    return {f'{block.address}["{key}"]': _expanded(model, scope) for key, scope in entries.items()}


def _expanded(model: TerraformDir, expression: str) -> str:
    match = LOCAL.fullmatch(expression)
    return _expanded(model, str(model.locals[match[1]])) if match and match[1] in model.locals else expression


def locked_assignment_findings(root: Path) -> list[str]:
    """What breaks the rule in root/infra (empty when it holds)."""
    model = read_dir(root / "infra")
    locked = {
        name for scope in model.locals.get("locked_data", {}).values() for name in MODULE.findall(str(scope))
    }
    assignments = [b for b in model.blocks if b.type == "azurerm_role_assignment"]
    findings: list[str] = []
    under: set[str] = set()
    for block in assignments:
        for address, scope in _scopes(model, block).items():
            if set(MODULE.findall(scope)) & locked or "unreadable" in scope:
                under.add(address)
                if address not in UNDER_LOCKS:
                    findings.append(f"{address} ({scope}) sits under a lock, not allow-listed")
    findings += [
        f"{address} is allow-listed but not under a lock" for address in sorted(set(UNDER_LOCKS) - under)
    ]
    tracked = str(model.locals.get("managed_role_assignments", ""))
    findings += [
        f"local.managed_role_assignments leaves out {block.address}: the locks are not released for it"
        for block in assignments
        if block.address not in tracked
    ]
    for lock in (b for b in model.blocks if b.type == "azurerm_management_lock"):
        triggers = str([entry.get("replace_triggered_by") for entry in lock.body.get("lifecycle", [])])
        if f"{TRACKER}[each.key]" not in triggers:
            findings.append(f"{lock.address} is not replaced when the role assignments under it change")
    return findings


def test_no_role_assignment_is_stuck_under_a_lock(root: Path) -> None:
    assert locked_assignment_findings(root) == []


@pytest.mark.parametrize(
    ("path", "old", "new", "expected"),
    [
        # main's tree: no release at all (the lock has no replace_triggered_by)
        (
            "infra/main.locks.tf",
            "replace_triggered_by = [terraform_data.locked_role_assignments[each.key]]",
            "replace_triggered_by = []",
            "azurerm_management_lock.data is not replaced when the role assignments under it change",
        ),
        # a new data role on the lake that nobody justified
        (
            "infra/main.rbac.tf",
            "    # The workspace storage (identity-based system datastores).\n",
            '    lake-raw-factory = { scope = module.data_lake.file_system_container_ids["raw"], '
            'role = "Storage Blob Data Reader", principal_id = module.data_factory.principal_id }\n',
            'azurerm_role_assignment.this["lake-raw-factory"] '
            '(${module.data_lake.file_system_container_ids["raw"]})'
            " sits under a lock, not allow-listed",
        ),
        # a new lock over the workspace storage, where the deployer's and the jobs' roles sit
        (
            "infra/main.locks.tf",
            "    logs     = module.monitoring.resource_id\n",
            "    logs     = module.monitoring.resource_id\n"
            "    wsstore  = module.aml_workspace.storage_account_id\n",
            'azurerm_role_assignment.deployer["wsstore-blob-deployer"] '
            "(${module.aml_workspace.storage_account_id})"
            " sits under a lock, not allow-listed",
        ),
        # the approver assignments dropped from what the locks track
        (
            "infra/main.locks.tf",
            "    { for key, assignment in azurerm_role_assignment.network_approver : "
            '"approver-${key}" => assignment },\n',
            "",
            "local.managed_role_assignments leaves out azurerm_role_assignment.network_approver: "
            "the locks are not released for it",
        ),
    ],
    ids=["no-release", "unlisted-lake-role", "lock-over-workspace-storage", "untracked-resource"],
)
def test_an_assignment_stuck_under_a_lock_is_caught(
    tree: Path, edit: Edit, path: str, old: str, new: str, expected: str
) -> None:
    edit(path, old, new)
    assert expected in locked_assignment_findings(tree)


def test_main_s_locks_without_a_release_are_caught(tmp_path: Path) -> None:
    """The locks file as main had it before the release (no tracker, no replace_triggered_by)."""
    infra = tmp_path / "infra"
    shutil.copytree(REPO / "infra", infra, ignore=shutil.ignore_patterns(".terraform"))
    text = (infra / "main.locks.tf").read_text(encoding="utf-8")
    text = re.sub(r"\n  lifecycle \{\n    replace_triggered_by = .*\n  \}\n", "\n", text)
    text = re.sub(r"  managed_role_assignments = merge\(\n(?:    .*\n)+  \)\n", "", text)
    (infra / "main.locks.tf").write_text(text, encoding="utf-8")
    findings = locked_assignment_findings(tmp_path)
    assert (
        "azurerm_management_lock.data is not replaced when the role assignments under it change" in findings
    )
    assert sum("leaves out" in finding for finding in findings) == 3


# --- the release, run by Terraform ----------------------------------------------------------------

STAND_INS = """
variable "assignments" {
  type = map(object({ scope = string, generation = number }))
}
variable "log" {
  type = string
}
variable "resource_locks_enabled" {
  type    = bool
  default = true
}
locals {
  locked_data = { lake = "LAKE" }
  # the real local's shape: key => an object with id and scope (azurerm_role_assignment's attributes)
  managed_role_assignments = {
    for key, a in terraform_data.assignment : key => { id = a.id, scope = a.input.scope }
  }
}
resource "terraform_data" "assignment" {
  for_each         = var.assignments
  input            = { scope = each.value.scope, key = each.key, log = var.log }
  triggers_replace = each.value.generation
  provisioner "local-exec" {
    command = "echo create ${each.key} >> ${var.log}"
  }
  provisioner "local-exec" {
    when    = destroy
    command = "echo delete ${self.input.key} >> ${self.input.log}"
  }
}
resource "terraform_data" "lock" {
  for_each   = var.resource_locks_enabled ? local.locked_data : {}
  input      = { key = each.key, log = var.log }
  depends_on = [terraform_data.assignment]
  provisioner "local-exec" {
    command = "echo lock ${each.key} >> ${var.log}"
  }
  provisioner "local-exec" {
    when    = destroy
    command = "echo unlock ${self.input.key} >> ${self.input.log}"
  }
  lifecycle {
    replace_triggered_by = [REPLACE_TRIGGERED_BY]
  }
}
"""
LAKE = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/lake"


def _real_release(infra: Path) -> tuple[str, str]:
    """infra/main.locks.tf's tracker block, verbatim, and its lock's replace_triggered_by entry."""
    text = (infra / "main.locks.tf").read_text(encoding="utf-8")
    # `terraform fmt` layout: the block ends at the first line that is a lone closing brace.
    block = re.search(r'^resource "terraform_data" "locked_role_assignments" \{\n.*?^\}\n', text, re.M | re.S)
    assert block, "infra/main.locks.tf has no terraform_data.locked_role_assignments"
    lock = next(b for b in read_dir(infra).blocks if b.type == "azurerm_management_lock")
    trigger = lock.body["lifecycle"][0]["replace_triggered_by"][0]
    return block[0], str(trigger).removeprefix("${").removesuffix("}")


def _stack(tmp_path: Path, text: str) -> Path:
    """A provider-free root holding `text`, initialised."""
    work = tmp_path / "stack"
    work.mkdir()
    (work / "main.tf").write_text(text, encoding="utf-8")
    init = subprocess.run(
        [_terraform(), "init", "-backend=false", "-input=false", "-no-color"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert init.returncode == 0, init.stdout + init.stderr
    return work


def _terraform() -> str:
    terraform = shutil.which("terraform")
    assert terraform, "terraform >= 1.9 must be on PATH (make setup)"
    return terraform


def _apply(work: Path, assignments: dict[str, tuple[str, int]], command: str = "apply") -> list[str]:
    """Apply the stand-in stack with these assignments (key -> (scope, generation)); the log lines
    the apply wrote, in order."""
    log = work / "log"
    log.write_text("", encoding="utf-8")
    variables = {"assignments": {k: {"scope": s, "generation": g} for k, (s, g) in assignments.items()}}
    (work / "stack.auto.tfvars.json").write_text(json.dumps(variables), encoding="utf-8")
    result = subprocess.run(
        [_terraform(), command, "-auto-approve", "-input=false", "-no-color", f"-var=log={log}"],
        cwd=work,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return log.read_text(encoding="utf-8").split()


@pytest.mark.slow
def test_terraform_releases_the_lock_around_a_deleted_or_replaced_assignment(tmp_path: Path) -> None:
    tracker, trigger = _real_release(REPO / "infra")
    work = _stack(
        tmp_path, STAND_INS.replace("REPLACE_TRIGGERED_BY", trigger).replace("LAKE", LAKE) + tracker
    )
    container = f"{LAKE.upper()}/blobServices/default/containers/conditioned"  # ids compared without case
    elsewhere = f"{LAKE}other"  # a prefix of the lake's name, not under it
    base = {"lake-factory": (LAKE, 1), "lake-scored": (container, 1), "wsstore": (elsewhere, 1)}
    assert " ".join(_apply(work, base)).endswith("lock lake")  # the first apply locks last
    # an assignment under the lock deleted: unlock, delete, lock again
    without = {k: v for k, v in base.items() if k != "lake-factory"}
    steps = _apply(work, without)
    assert " ".join(steps) == "unlock lake delete lake-factory lock lake"
    # one replaced (a new principal): unlock, delete, create, lock again
    replaced = {**without, "lake-scored": (container, 2)}
    assert " ".join(_apply(work, replaced)) == "unlock lake delete lake-scored create lake-scored lock lake"
    # one elsewhere replaced: the lock stays
    assert " ".join(_apply(work, {**replaced, "wsstore": (elsewhere, 2)})) == "delete wsstore create wsstore"
    # nothing changed: nothing happens
    assert _apply(work, {**replaced, "wsstore": (elsewhere, 2)}) == []
    # a full destroy still unlocks first
    destroyed = " ".join(_apply(work, {**replaced, "wsstore": (elsewhere, 2)}, "destroy"))
    assert destroyed.startswith("unlock lake delete"), destroyed


@pytest.mark.slow
def test_without_the_release_terraform_deletes_under_the_lock(tmp_path: Path) -> None:
    """The same run with main's lock (no replace_triggered_by): the delete meets the lock."""
    tracker, _ = _real_release(REPO / "infra")
    text = STAND_INS.replace("LAKE", LAKE).replace(
        "  lifecycle {\n    replace_triggered_by = [REPLACE_TRIGGERED_BY]\n  }\n", ""
    )
    work = _stack(tmp_path, text + tracker)
    _apply(work, {"lake-factory": (LAKE, 1), "lake-read": (LAKE, 1)})
    assert _apply(work, {"lake-read": (LAKE, 1)}) == ["delete", "lake-factory"]  # the lock stayed on


@pytest.mark.slow
def test_adding_the_release_to_a_locked_stack_leaves_the_lock_alone(tmp_path: Path) -> None:
    """Prod's state from before the release: the first apply with it only creates the tracker."""
    tracker, trigger = _real_release(REPO / "infra")
    without = STAND_INS.replace("LAKE", LAKE).replace(
        "  lifecycle {\n    replace_triggered_by = [REPLACE_TRIGGERED_BY]\n  }\n", ""
    )
    work = _stack(tmp_path, without)
    assignments = {"lake-factory": (LAKE, 1)}
    assert " ".join(_apply(work, assignments)) == "create lake-factory lock lake"
    (work / "main.tf").write_text(
        STAND_INS.replace("REPLACE_TRIGGERED_BY", trigger).replace("LAKE", LAKE) + tracker, encoding="utf-8"
    )
    assert _apply(work, assignments) == []
