"""Every check sees the files Terraform loads (issue 26 item 12, cases v01, v02, v03, and b03's
regression): tfvars files in Terraform's order, `.tf.json` files, override files, and a root file
kept as two identical copies. Each kind: the handed case and instances of our own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from infra_helpers import messages

from stackctl.checks.config import check_config
from stackctl.checks.parity import check_parity
from stackctl.checks.policy import check_prod_policy
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
