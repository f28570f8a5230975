"""Every check sees the files Terraform loads (issue 26 item 12, cases v01, v02, v03, and b03's
regression): tfvars files in Terraform's order, `.tf.json` files, override files, and a root file
kept as two identical copies. Each kind: the handed case and instances of our own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from infra_helpers import messages

from stackctl.checks.checkov import ScanTarget, check_checkov
from stackctl.checks.config import check_config
from stackctl.checks.hclmodel import read_dir
from stackctl.checks.overrides import merged_copy
from stackctl.checks.parity import check_parity
from stackctl.checks.policy import check_prod_policy
from stackctl.checks.references import check_references
from stackctl.checks.schema import check_provider_schema
from stackctl.checks.tfvars import root_values, tfvars_files

pytestmark = pytest.mark.slow

CASES = Path(__file__).resolve().parent / "validate_cases"
SHARED_CASES = Path(__file__).resolve().parent / "validate_cases"


def drop(case: str, tree: Path) -> None:
    """Copy a handed case's files into the tree copy at the paths they sit under, as handed."""
    (source,) = CASES.glob(f"{case}_*")
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        target = tree / file.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        shutil.copy(file, target)


# --- tfvars: the values Terraform assigns, from every file it loads -------------------------------


def test_v03_prod_values_from_auto_tfvars_and_tfvars_json_are_judged(tree: Path) -> None:
    drop("v03", tree)
    report = check_prod_policy(tree)
    found = {(f.location, f.message.split(" =")[0]) for f in report.findings}
    assert found == {
        ("envs/prod/zz-incident-4711.auto.tfvars", "public_network_access_enabled"),
        ("envs/prod/zz-incident-4711.auto.tfvars", "resource_locks_enabled"),
        ("envs/prod/terraform.tfvars.json", "zone_redundant"),
    }, messages(report)


def test_v03_parity_lists_the_values_terraform_uses(tree: Path) -> None:
    drop("v03", tree)
    notes = check_parity(tree).notes
    assert "public_network_access_enabled: dev=True prod=True" not in notes
    assert not any(n.startswith("public_network_access_enabled") for n in notes), notes
    assert "zone_redundant: dev=False prod=False" not in notes
    assert not any(n.startswith("zone_redundant") for n in notes), notes


def test_the_last_auto_tfvars_in_lexical_order_wins(tree: Path) -> None:
    prod = tree / "envs" / "prod"
    (prod / "a.auto.tfvars").write_text("diagnostic_settings_enabled = false\n")
    (prod / "b.auto.tfvars").write_text("diagnostic_settings_enabled = true\n")
    assert check_prod_policy(tree).ok
    (prod / "c.auto.tfvars.json").write_text(json.dumps({"diagnostic_settings_enabled": False}))
    (finding,) = check_prod_policy(tree).findings
    assert finding.location == "envs/prod/c.auto.tfvars.json"
    assert [p.name for p in tfvars_files(prod)] == [
        "terraform.tfvars",
        "a.auto.tfvars",
        "b.auto.tfvars",
        "c.auto.tfvars.json",
    ]


def test_a_tfvars_value_replaces_the_whole_object_and_gets_optional_defaults(tree: Path) -> None:
    """Terraform replaces a variable's value per file (no deep merge) and applies the type's
    optional defaults: both are Terraform's rules, so the values come from Terraform."""
    prod = tree / "envs" / "prod"
    before = root_values(prod).values["network"]
    (prod / "zz.auto.tfvars").write_text("network = {\n  enabled = false\n}\n")
    after = root_values(prod).values["network"]
    assert before["enabled"] is True
    assert after["enabled"] is False
    assert after["address_space"] != before["address_space"]  # the optional default, not prod's
    assert any("network.enabled" in f.message for f in check_prod_policy(tree).findings)


def test_a_variable_set_only_in_one_roots_auto_tfvars_is_a_parity_finding(tree: Path) -> None:
    (tree / "envs" / "dev" / "local.auto.tfvars").write_text('ci_runner_egress_ip = "203.0.113.7"\n')
    report = check_parity(tree)
    dev_sets = "ci_runner_egress_ip" in root_values(tree / "envs" / "prod").values
    if dev_sets:  # prod sets it too: the value difference shows instead
        assert any(n.startswith("ci_runner_egress_ip") for n in report.notes), report.notes
    else:
        assert [f.location for f in report.findings] == ["envs/dev/local.auto.tfvars"]


# --- b03: an `import` block in both roots, as two identical copies ------------------------------


def test_b03_import_block_in_both_roots_as_handed_passes(tree: Path) -> None:
    for env in ("dev", "prod"):
        shutil.copy(SHARED_CASES / "b03_import_block_root" / "envs" / env / "imports.tf", tree / "envs" / env)
    assert check_parity(tree).ok, messages(check_parity(tree))
    report = check_config(tree, provider_version="5.10.0")
    assert report.ok, messages(report)


@pytest.mark.parametrize("name", ["checks.tf", "moved.tf", "locals.tf"])
def test_identical_copies_pass_and_differing_copies_do_not(tree: Path, name: str) -> None:
    text = 'locals {\n  qa_marker = "same in both roots"\n}\n'
    for env in ("dev", "prod"):
        (tree / "envs" / env / name).write_text(text)
    assert check_parity(tree).ok
    (tree / "envs" / "prod" / name).write_text(text.replace("same", "different"))
    (finding,) = check_parity(tree).findings
    assert "the roots differ in code" in finding.message


def test_an_identical_copy_of_a_shared_file_is_still_refused(tree: Path) -> None:
    """A copy of envs/shared/versions.tf stops following the shared file: still a finding."""
    for env in ("dev", "prod"):
        target = tree / "envs" / env / "versions.tf"
        text = target.read_text()
        target.unlink()
        target.write_text(text)
    assert any("two copies of versions.tf" in f.message for f in check_parity(tree).findings)


# --- .tf.json files: read like .tf files ----------------------------------------------------------


def test_v01_a_tf_json_file_is_checked(tree: Path) -> None:
    drop("v01", tree)
    schema = check_provider_schema(tree)
    assert [(f.location, f.message) for f in schema.findings] == [
        (
            "modules/data_lake/exports.tf.json:13",
            "azurerm_storage_container.partner_drop: container_acess_type is not an argument or block "
            "of this type",
        )
    ]
    config = check_config(tree, provider_version="5.10.0")
    assert any(
        f.location.startswith("modules/data_lake/exports.tf.json") and "var.data_owner" in f.message
        for f in config.findings
    ), messages(config)


def test_v01_checkov_reads_the_tf_json_file(tree: Path) -> None:
    drop("v01", tree)
    target = ScanTarget("data_lake", tree / "modules" / "data_lake", None)
    report = check_checkov(tree, targets=[target])
    assert any("CKV_AZURE_34" in f.message and "exports.tf.json" in f.location for f in report.findings)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        # a required argument missing
        ({"resource": {"azurerm_storage_container": {"qa": {"name": "qa"}}}}, "missing required argument"),
        # a nested block as an object, with a misspelt argument inside
        (
            {
                "resource": {
                    "azurerm_storage_account": {
                        "qa": {
                            "name": "qa",
                            "resource_group_name": "rg",
                            "location": "westeurope",
                            "account_tier": "Standard",
                            "account_replication_type": "ZRS",
                            "network_rules": {"default_acton": "Deny"},
                        }
                    }
                }
            },
            "network_rules[0].default_acton is not an argument",
        ),
        # a data source with an argument of another type
        ({"data": {"azurerm_client_config": {"qa": {"name": "x"}}}}, "name is not an argument"),
    ],
)
def test_tf_json_blocks_meet_the_schema(tree: Path, document: dict[str, object], expected: str) -> None:
    (tree / "modules" / "data_lake" / "qa.tf.json").write_text(json.dumps(document, indent=2))
    findings = check_provider_schema(tree).findings
    assert {f.location.split(":")[0] for f in findings} == {"modules/data_lake/qa.tf.json"}, findings
    assert any(expected in f.message for f in findings), findings


def test_tf_json_declarations_count_for_references(tree: Path) -> None:
    """A variable declared in JSON resolves a reference from HCL; an undeclared local in JSON does not."""
    data_lake = tree / "modules" / "data_lake"
    document = {
        "variable": {"qa_owner": {"type": "string", "default": "x"}},
        "output": {"qa": {"value": "${local.qa_nope}"}},
    }
    (data_lake / "qa.tf.json").write_text(json.dumps(document, indent=2))
    (data_lake / "qa_use.tf").write_text("locals {\n  qa_owner = var.qa_owner\n}\n")
    findings = [f for f in check_references(tree, [data_lake])]
    assert [f.message for f in findings] == ["reference to undefined local.qa_nope"]


# --- override files: merged as Terraform merges them ----------------------------------------------


def test_v02_an_override_is_merged_into_its_block_not_a_second_block(tree: Path) -> None:
    drop("v02", tree)
    assert check_provider_schema(tree).ok, messages(check_provider_schema(tree))
    model = read_dir(tree / "modules" / "data_lake")
    (account,) = [b for b in model.blocks if b.address == "azurerm_storage_account.this"]
    assert account.body["shared_access_key_enabled"] is True
    assert account.body["network_rules"][0]["default_action"] == "Allow"
    assert account.body["account_tier"]  # the original's arguments stay


@pytest.mark.parametrize("name", ["qa_override.tf", "override.tf"])
def test_an_override_without_a_base_block_is_an_error(tree: Path, name: str) -> None:
    (tree / "modules" / "data_lake" / name).write_text(
        'resource "azurerm_storage_account" "nope" {\n  min_tls_version = "TLS1_2"\n}\n'
    )
    findings = check_references(tree, [tree / "modules" / "data_lake"])
    assert any("Missing base block for override" in f.message for f in findings), findings


def test_an_override_with_a_misspelt_argument_is_a_schema_finding(tree: Path) -> None:
    (tree / "modules" / "data_lake" / "qa_override.tf").write_text(
        'resource "azurerm_storage_account" "this" {\n  min_tls_vesion = "TLS1_2"\n}\n'
    )
    (finding,) = check_provider_schema(tree).findings
    assert "min_tls_vesion is not an argument" in finding.message


def test_an_override_replaces_a_variable_default(tree: Path) -> None:
    data_lake = tree / "modules" / "data_lake"
    name = next(iter(read_dir(data_lake).variables))
    (data_lake / "variables_override.tf").write_text(f'variable "{name}" {{\n  default = null\n}}\n')
    variable = read_dir(data_lake).variables[name]
    assert variable.has_default
    assert variable.default is None


# --- check blocks' scoped data sources ------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('  name = "v"\n  resource_group_name = "rg"\n  bogus_argument = "x"\n', "bogus_argument is not an"),
        ('  name = "vnet"\n', "missing required argument resource_group_name"),
    ],
)
def test_a_check_blocks_scoped_data_source_meets_the_schema(tree: Path, body: str, expected: str) -> None:
    (tree / "infra" / "qa_check.tf").write_text(
        'check "qa" {\n  data "azurerm_virtual_network" "qa" {\n'
        + body
        + '  }\n\n  assert {\n    condition     = data.azurerm_virtual_network.qa.id != ""\n'
        '    error_message = "no network"\n  }\n}\n'
    )
    findings = check_provider_schema(tree).findings
    assert [f.location for f in findings] == ["infra/qa_check.tf:2"], findings
    assert expected in findings[0].message


def test_a_valid_check_scoped_data_source_passes(tree: Path) -> None:
    (tree / "infra" / "qa_check.tf").write_text(
        'check "qa" {\n  data "azurerm_virtual_network" "qa" {\n    name                = "vnet"\n'
        '    resource_group_name = "rg"\n  }\n\n  assert {\n'
        '    condition     = data.azurerm_virtual_network.qa.id != ""\n'
        '    error_message = "no network"\n  }\n}\n'
    )
    assert check_provider_schema(tree).ok, messages(check_provider_schema(tree))


def test_v02_checkov_judges_the_merged_resource_not_the_override_alone(tree: Path) -> None:
    """checkov reads each file alone; it scans the configuration with the override merged in."""
    drop("v02", tree)
    scratch = tree.parent / "merged"
    merged_copy(tree, scratch)
    assert not (scratch / "modules" / "data_lake" / "main_override.tf").exists()
    merged = (scratch / "modules" / "data_lake" / "main.tf").read_text()
    assert (
        "shared_access_key_enabled         = true" in merged or "shared_access_key_enabled = true" in merged
    )
    assert "#checkov:skip=CKV2_AZURE_1:" in merged  # the justified skips stay with the block
    target = ScanTarget("data_lake", scratch / "modules" / "data_lake", None)
    report = check_checkov(scratch, targets=[target])
    failed = {f.message.split(" ")[0] for f in report.findings}
    assert "CKV_AZURE_35" in failed  # default_action = "Allow", from the override
    assert all("main_override.tf" not in f.location for f in report.findings)
    assert all("missing" not in f.message for f in report.findings)
