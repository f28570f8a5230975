"""Prod rules on the values, dev/prod parity (and the list of what differs).

The naming convention is judged by Terraform itself: tests/infra/test_naming_module.py."""

from __future__ import annotations

from pathlib import Path

from infra_helpers import Edit, messages

from stackctl.checks.parity import check_parity
from stackctl.checks.policy import check_prod_policy


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


def _own_copy(tree: Path, path: str) -> Path:
    """Replace a root's link with a file of its own holding the same text (what a copy-paste does)."""
    file = tree / path
    text = file.read_text(encoding="utf-8")
    file.unlink()
    file.write_text(text, encoding="utf-8")
    return file


def test_roots_share_their_code_through_links(root: Path) -> None:
    root = root.resolve()
    for env in ("dev", "prod"):
        env_root = root / "envs" / env
        assert (env_root / "main.tf").resolve() == root / "envs" / "shared" / "main.tf"
        assert (env_root / "versions.tf").resolve() == root / "envs" / "shared" / "versions.tf"
        assert (env_root / "variables.tf").resolve() == root / "infra" / "variables.tf"
        # What is the root's own: the backend (state key) and the values.
        assert sorted(p.name for p in env_root.glob("*.tf") if not p.is_symlink()) == ["backend.tf"]
        assert not (env_root / "terraform.tfvars").is_symlink()


def test_code_difference_between_roots_is_caught(tree: Path) -> None:
    copy = _own_copy(tree, "envs/prod/main.tf")
    copy.write_text(
        copy.read_text(encoding="utf-8").replace("  monitoring                    = var.monitoring\n", "")
    )
    (finding,) = check_parity(tree).findings
    assert finding.location == "envs/dev/main.tf vs envs/prod/main.tf"
    assert (
        finding.message
        == "the roots differ in code; every dev/prod difference must be a terraform.tfvars value"
    )


def test_a_copy_of_the_shared_code_is_caught_even_when_identical(tree: Path) -> None:
    assert check_parity(tree).ok
    _own_copy(tree, "envs/dev/versions.tf")
    (finding,) = check_parity(tree).findings
    assert finding.location == "envs/dev/versions.tf vs envs/prod/versions.tf"
    assert "two copies of versions.tf" in finding.message
    assert finding.fix == (
        "keep one copy in envs/shared/versions.tf and link both: "
        "ln -sf ../shared/versions.tf envs/<env>/versions.tf"
    )


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


def test_root_variables_must_be_the_link_to_infra(tree: Path) -> None:
    _own_copy(tree, "envs/dev/variables.tf")
    prod = _own_copy(tree, "envs/prod/variables.tf")
    prod.write_text(prod.read_text(encoding="utf-8").replace('default     = "fcst"', 'default     = "fc"'))
    findings = {f.location: f for f in check_parity(tree).findings}
    # A verbatim copy is refused as well as a drifted one: only the link cannot drift.
    assert set(findings) == {"envs/dev/variables.tf", "envs/prod/variables.tf"}
    assert findings["envs/prod/variables.tf"].fix == "ln -sf ../../infra/variables.tf envs/prod/variables.tf"
