"""Prod rules on the values, dev/prod parity (and the list of what differs).

The naming convention is judged by Terraform itself: tests/infra/test_naming_module.py."""

from __future__ import annotations

from pathlib import Path

from infra_helpers import Edit, messages

from stackctl.infra.parity import check_parity
from stackctl.infra.policy import check_prod_policy


def test_prod_meets_the_prod_rules(root: Path) -> None:
    report = check_prod_policy(root)
    assert report.ok, messages(report)


def test_prod_with_public_access_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "envs/prod/terraform.tfvars",
        "public_network_access_enabled = false",
        "public_network_access_enabled = true",
    )
    (finding,) = check_prod_policy(tree).findings
    assert finding.location == "envs/prod/terraform.tfvars"
    assert "public_network_access_enabled = True, but prod requires False" in finding.message
    assert finding.fix == "set public_network_access_enabled = false in envs/prod/terraform.tfvars"


def test_prod_with_low_priority_gpus_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "envs/prod/terraform.tfvars",
        'vm_priority                    = "Dedicated"',
        'vm_priority = "LowPriority"',
    )
    assert any("aml.vm_priority" in f.message for f in check_prod_policy(tree).findings)


def test_roots_have_the_same_structure_and_the_differences_are_listed(root: Path) -> None:
    report = check_parity(root)
    assert report.ok, messages(report)
    print("\nWhat differs between dev and prod:\n  " + "\n  ".join(report.notes))
    differing = {d.path for d in report.figures["differences"]}
    # What the auditor relies on seeing, not the whole list (it grows with the tfvars).
    assert {
        "public_network_access_enabled",
        "aml.gpu_vm_size",
        "aml.vm_priority",
        "network.enabled",
    } <= differing
    assert "workload" not in differing  # same naming convention in both stacks


def test_code_difference_between_roots_is_caught(tree: Path, edit: Edit) -> None:
    edit("envs/prod/main.tf", "  monitoring                    = var.monitoring\n", "")
    findings = check_parity(tree).findings
    assert any(f.location == "envs/dev/main.tf vs envs/prod/main.tf" for f in findings)


def test_backend_may_differ_only_in_the_state_key(tree: Path, edit: Edit) -> None:
    assert check_parity(tree).ok
    edit("envs/prod/backend.tf", "use_oidc         = true", "use_oidc         = false")
    assert any("backend.tf differs beyond the state key" in f.message for f in check_parity(tree).findings)


def test_variable_set_only_in_one_env_is_caught(tree: Path) -> None:
    with (tree / "envs" / "prod" / "terraform.tfvars").open("a") as handle:
        handle.write('\nallowed_ip_ranges_extra = ["10.0.0.0/8"]\n')
    assert any(
        "allowed_ip_ranges_extra is set only in prod" in f.message for f in check_parity(tree).findings
    )


def test_root_variables_must_match_infra(tree: Path, edit: Edit) -> None:
    edit("envs/dev/variables.tf", 'default     = "fcst"', 'default     = "fc"')
    edit("envs/prod/variables.tf", 'default     = "fcst"', 'default     = "fc"')
    locations = {f.location for f in check_parity(tree).findings}
    assert {"envs/dev/variables.tf", "envs/prod/variables.tf"} <= locations
