"""The stack-wide Azure rules (stackctl.checks.wiring, check "wiring" of `make validate`): each passes
on the tree and fails with its exact id and target on a copy of the tree broken the way the Azure
review found (issue 10, faults 2 and 7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from infra_helpers import Edit, messages

from stackctl.checks import CHECKS
from stackctl.checks.wiring import RULES, check_wiring

JOBS = "azurerm_user_assigned_identity.jobs.principal_id"
LAKE = "module.data_lake.azurerm_storage_account.this"
WORKSPACE_STORAGE = "module.aml_workspace.azurerm_storage_account.workspace"


def _drop_line(tree: Path, path: str, marker: str) -> None:
    """Remove the one line of `path` in the copy that holds `marker` (a map entry of the HCL)."""
    file = tree / path
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    matching = [line for line in lines if marker in line]
    assert len(matching) == 1, f"{marker!r} is on {len(matching)} lines of {path}; the anchor is out of date"
    file.write_text("".join(line for line in lines if marker not in line), encoding="utf-8")


def _failures(tree: Path) -> list[str]:
    return [f.message.split(":", 1)[0] for f in check_wiring(tree).findings]


def test_wiring_rules_pass_on_the_tree_and_run_in_validate(root: Path) -> None:
    report = check_wiring(root)
    assert report.ok, messages(report)
    assert report.figures["rules"] == ["CKV_FS_12", "CKV_FS_13", "CKV_FS_14"] == list(RULES)
    # Both key-less accounts (the lake, the workspace storage); lake, workspace storage and SQL.
    assert report.figures["keyless_accounts"] == 2
    assert report.figures["job_targets"] == 3
    # Data Factory's OutputData and the deployments' default_datastore.
    assert report.figures["output_targets"] == 2
    assert "wiring" in CHECKS


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        # fault 2: the jobs' identity without its role on the workspace storage (snapshots, MLflow)
        (
            "wsstore-blob-jobs ",
            f"CKV_FS_12 failed on {WORKSPACE_STORAGE}",
        ),
        # the factory, which invokes batch endpoints whose outputs land in workspaceblobstore
        (
            "wsstore-blob-factory ",
            f"CKV_FS_12 failed on {WORKSPACE_STORAGE}",
        ),
        # the factory's copy activity on the lake
        (
            "lake-factory ",
            f"CKV_FS_12 failed on {LAKE}",
        ),
    ],
)
def test_a_user_of_a_keyless_account_without_a_data_role_is_caught(
    tree: Path, marker: str, expected: str
) -> None:
    _drop_line(tree, "infra/main.rbac.tf", marker)
    assert _failures(tree) == [expected]


def test_the_jobs_identity_without_any_lake_role_is_caught(tree: Path) -> None:
    for purpose in ("read", "conditioned", "scored"):
        _drop_line(tree, "infra/main.rbac.tf", f"lake-{purpose}-jobs ")
    findings = check_wiring(tree).findings
    assert [f.message.split(":", 1)[0] for f in findings] == [f"CKV_FS_12 failed on {LAKE}"]
    # The message says who, why it counts as a user, and what Azure does.
    assert JOBS in findings[0].message
    assert "datastores" in findings[0].message
    assert "403" in findings[0].message


def test_the_deploying_identity_without_its_workspace_storage_role_is_caught(tree: Path) -> None:
    _drop_line(tree, "infra/main.rbac.tf", "wsstore-blob-deployer ")
    findings = check_wiring(tree).findings
    assert [f.message.split(":", 1)[0] for f in findings] == [f"CKV_FS_12 failed on {WORKSPACE_STORAGE}"]
    assert "var.deployer_object_id" in findings[0].message


def test_a_role_that_is_not_a_blob_data_role_does_not_count(tree: Path, edit: Edit) -> None:
    edit(
        "infra/main.rbac.tf",
        'wsstore-blob-jobs    = { scope = local.workspace_storage, role = "Storage Blob Data Contributor"',
        'wsstore-blob-jobs    = { scope = local.workspace_storage, role = "Reader"',
    )
    assert _failures(tree) == [f"CKV_FS_12 failed on {WORKSPACE_STORAGE}"]


@pytest.mark.parametrize(
    ("marker", "expected"),
    [
        # fault 7: the lake's dfs endpoint (ADLS Gen2 datastores) unreachable from the managed network
        (
            "lake-dfs ",
            "CKV_FS_13 failed on module.data_lake.resource_id (dfs)",
        ),
        # SQL, where the publish step writes as the jobs' identity
        (
            "sql           = {",
            "CKV_FS_13 failed on module.sql.resource_id (sqlServer)",
        ),
        # the workspace storage's queue (batch endpoints)
        (
            "wsstore-queue ",
            "CKV_FS_13 failed on module.aml_workspace.storage_account_id (queue)",
        ),
    ],
)
def test_a_private_resource_jobs_use_without_an_outbound_rule_is_caught(
    tree: Path, marker: str, expected: str
) -> None:
    _drop_line(tree, "infra/main.tf", marker)
    findings = check_wiring(tree).findings
    assert [f.message.split(":", 1)[0] for f in findings] == [expected]
    assert "cannot connect" in findings[0].message


def test_a_new_datastore_target_needs_its_outbound_rules(tree: Path, edit: Edit) -> None:
    """The targets come from the wiring: a datastore on the key vault's module (a stand-in for any
    new storage) makes that module's resource a job target at once."""
    edit(
        "infra/main.tf",
        "datastore => module.data_lake.file_system_container_ids[fs] }",
        "datastore => module.data_lake.file_system_container_ids[fs] if module.key_vault.name != null }",
    )
    failures = _failures(tree)
    assert "CKV_FS_13 failed on module.key_vault.resource_id (blob)" in failures
    assert "CKV_FS_13 failed on module.key_vault.resource_id (dfs)" in failures


OUTPUT_DATA = "CKV_FS_14 failed on module.data_factory input aml.datastores (OutputData)"
DEFAULT_DATASTORE = (
    "CKV_FS_14 failed on output.stack.aml.output_datastores (the deployments' default_datastore)"
)


def test_outputdata_on_the_gen2_datastores_is_caught(tree: Path, edit: Edit) -> None:
    """The Azure review's blocker: batch endpoints write outputs only to Blob Storage datastores
    (https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs)."""
    edit("infra/main.tf", "datastores = local.output_datastore_names", "datastores = local.datastore_names")
    findings = check_wiring(tree).findings
    assert [f.message.split(":", 1)[0] for f in findings] == [OUTPUT_DATA]
    assert "is local.datastore_names" in findings[0].message
    assert findings[0].location == "infra/main.tf"


def test_a_default_datastore_on_the_gen2_datastores_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "infra/outputs.tf",
        "output_datastores = local.output_datastore_names",
        "output_datastores = local.datastore_names",
    )
    findings = check_wiring(tree).findings
    assert [f.message.split(":", 1)[0] for f in findings] == [DEFAULT_DATASTORE]
    assert findings[0].location == "infra/outputs.tf"


def test_a_stack_output_without_the_output_datastores_is_caught(tree: Path) -> None:
    _drop_line(tree, "infra/outputs.tf", "output_datastores = local.output_datastore_names")
    findings = check_wiring(tree).findings
    assert [f.message.split(":", 1)[0] for f in findings] == [DEFAULT_DATASTORE]
    assert "is missing" in findings[0].message


def test_output_datastores_registered_as_another_kind_are_caught(tree: Path, edit: Edit) -> None:
    """The kind comes from the datastore resource itself, not from its name."""
    edit(
        "modules/aml_workspace/main.tf",
        'datastoreType                 = "AzureBlob"',
        'datastoreType = "AzureDataLakeGen2"',
    )
    assert _failures(tree) == [OUTPUT_DATA, DEFAULT_DATASTORE]


def test_the_azureblob_datastores_make_the_lake_a_job_target_on_their_own(tree: Path) -> None:
    """CKV_FS_12/13 learn datastores created with azapi too: without the Gen2 datastores, the
    AzureBlob ones (the output targets) still make the lake a target of the jobs' blob traffic."""
    _drop_line(tree, "infra/main.tf", "data_lake_datastores = {")
    assert check_wiring(tree).ok
    _drop_line(tree, "infra/main.tf", "lake-blob ")
    assert _failures(tree) == ["CKV_FS_13 failed on module.data_lake.resource_id (blob)"]


def test_policies_readme_lists_the_wiring_rules(root: Path) -> None:
    readme = (root / "infra" / "policies" / "README.md").read_text(encoding="utf-8")
    for rule in RULES:
        assert f"| {rule} |" in readme, f"{rule} is missing from infra/policies/README.md"
