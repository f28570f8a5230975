"""Checks 1 and 2: Terraform's formatter and loader, references, module inputs and version pins."""

from __future__ import annotations

from pathlib import Path

import pytest
from infra_helpers import Edit, messages

from stackctl.checks.config import check_config
from stackctl.checks.evaluation import check_evaluation
from stackctl.checks.fmt import check_format
from stackctl.checks.loader import terraform_load
from stackctl.checks.references import check_references
from stackctl.checks.version_pins import check_version_pins


def test_the_tree_is_formatted(root: Path) -> None:
    report = check_format(root)
    assert report.ok, messages(report)


def test_bad_formatting_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "modules/key_vault/main.tf",
        "  sku_name                      = var.sku_name",
        "  sku_name = var.sku_name",
    )
    report = check_format(tree)
    assert [f.location for f in report.findings] == ["modules/key_vault/main.tf"]


def test_fmt_write_repairs_formatting(tree: Path, edit: Edit) -> None:
    edit(
        "modules/key_vault/main.tf",
        "  sku_name                      = var.sku_name",
        "  sku_name = var.sku_name",
    )
    check_format(tree, write=True)
    assert check_format(tree).ok


def test_every_directory_loads_and_resolves(root: Path) -> None:
    report = check_config(root, provider_version="5.10.0")
    assert report.ok, messages(report)
    # 11 modules, their 11 runnable examples (checked like the roots), infra, dev, prod, bootstrap
    assert report.figures["directories"] == 26
    # The provider-free naming module is judged by Terraform itself (init + validate); the rest
    # need azurerm, which cannot be installed offline: one note says so, naming them (issue 26).
    (offline,) = [note for note in report.offline if "cannot run offline" in note]
    assert not [note for note in report.notes if "offline" in note]  # said once, with the others
    unvalidated = offline.rsplit(": ", 1)[1].split(", ")
    assert "modules/naming" not in unvalidated
    assert "modules/naming/examples/basic" not in unvalidated  # provider-free: planned for real
    assert {"infra", "envs/dev", "envs/prod", "envs/bootstrap", "modules/sql"} <= set(unvalidated)


def test_terraform_validate_judges_the_provider_free_module(tree: Path, edit: Edit) -> None:
    edit(
        "modules/naming/main.tf",
        'resource_group       = "rg-${local.base}"',
        'resource_group       = "rg-${local.bse}"',
    )
    messages_ = [f.message for f in check_config(tree, provider_version="5.10.0").findings]
    assert any(m.startswith("terraform validate: Reference to undeclared local value") for m in messages_), (
        messages_
    )


def test_terraform_loader_reports_invalid_configuration(tree: Path, edit: Edit) -> None:
    edit("modules/sql/variables.tf", 'variable "database_name" {', 'variable "database_name" {\n  typo = 1')
    (finding,) = terraform_load(tree)  # once, though three directories load modules/sql
    lines = (tree / "modules" / "sql" / "variables.tf").read_text(encoding="utf-8").splitlines()
    typo_line = lines.index("  typo = 1") + 1
    assert finding.location == f"modules/sql/variables.tf:{typo_line}"
    assert finding.message == 'Unsupported argument: An argument named "typo" is not expected here.'


def test_undeclared_variable_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "modules/data_lake/main.tf",
        "account_replication_type          = var.replication_type",
        "account_replication_type          = var.replication_kind",
    )
    report = check_references(tree)
    assert any("undeclared variable var.replication_kind" in f.message for f in report), report


def test_undefined_local_is_caught(tree: Path, edit: Edit) -> None:
    edit("infra/main.tf", "  tags = local.tags", "  tags = local.tag")
    assert any("undefined local.tag" in f.message for f in check_references(tree))


def test_wrong_module_input_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "infra/main.tf",
        "  database_sku                  = var.sql.database_sku",
        "  database_skus                 = var.sql.database_sku",
    )
    messages_ = [f.message for f in check_references(tree)]
    assert 'module "sql" passes "database_skus", which modules/sql does not declare' in messages_


def test_missing_required_module_input_is_caught(tree: Path, edit: Edit) -> None:
    edit("infra/main.tf", "  log_analytics_workspace_id    = module.monitoring.resource_id\n", "")
    messages_ = [f.message for f in check_references(tree)]
    assert (
        'module "sql" does not pass required input "log_analytics_workspace_id" of modules/sql' in messages_
    )


def test_undeclared_module_output_is_caught(tree: Path, edit: Edit) -> None:
    edit("infra/outputs.tf", "module.aml_workspace.principal_id", "module.aml_workspace.identity_principal")
    findings = check_references(tree)
    assert any('declares no output "identity_principal"' in f.message for f in findings)


def test_secret_looking_variable_default_is_caught(tree: Path) -> None:
    (tree / "modules" / "sql" / "extra.tf").write_text(
        'variable "admin_password" {\n  type    = string\n  default = "hunter2"\n}\n', encoding="utf-8"
    )
    findings = check_references(tree)
    assert any('variable "admin_password" looks like a secret' in f.message for f in findings)


def test_version_pins_agree_and_admit_the_schema_version(root: Path) -> None:
    assert check_version_pins(root, "5.10.0") == []


@pytest.mark.parametrize(
    ("constraint", "problem"),
    [
        (">= 5.10.0, < 5.80.0", "version pins differ"),
        (">= 5.10.0", "has no upper bound"),
        (">= 5.11.0, < 6.0.0", "excludes 5.10.0"),
    ],
)
def test_drifting_version_pins_are_caught(tree: Path, edit: Edit, constraint: str, problem: str) -> None:
    edit("modules/network/versions.tf", '">= 5.10.0, < 6.0.0"', f'"{constraint}"')
    findings = check_version_pins(tree, "5.10.0")
    assert any(problem in f.message for f in findings), [f.message for f in findings]


def test_conditional_between_object_and_empty_map_is_left_to_terraform(tree: Path, edit: Edit) -> None:
    """`cond ? { vault = ... } : {}` unifies to a map, so Terraform accepts it (issue 26 v07a);
    our former text rule called it an error. Terraform's own evaluation now decides."""
    edit(
        "infra/main.tf",
        '  private_endpoints             = { for group in ["vault"] : group => local.private_endpoint[group] '
        "if local.private_network }",
        "  private_endpoints = local.private_network ? { vault = local.private_endpoint.vault } : {}",
    )
    assert check_evaluation(tree, [tree / "infra"]) == []
