"""The CI runner's egress IP in dev's firewalls: dev's plan, apply and deploy run on the self-hosted
runner and every dev firewall denies by default, so a stack with public access on must name the
runner's address (`ci_runner_egress_ip`, envs/bootstrap output `ci_runners.dev.egress_ip`) and every
firewall admits it. Judged by real Terraform, offline: infra/variables.tf needs no provider, so
`terraform console` evaluates its validations against each stack's terraform.tfvars."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import hcl2
import pytest
from infra_helpers import Edit, terraform_console

pytestmark = pytest.mark.slow

MISSING = "ci_runner_egress_ip is not set, but public access is on"


def _console(tmp_path: Path, root: Path, tfvars: str) -> tuple[bool, str]:
    """Evaluate the runner's address with infra/variables.tf and the given tfvars text."""
    variables = (root / "infra" / "variables.tf").read_text(encoding="utf-8")
    return terraform_console(
        tmp_path / "variables",
        {"variables.tf": variables, "stack.tfvars": tfvars},
        "var.ci_runner_egress_ip",
    )


def _dev_tfvars(root: Path) -> str:
    return (root / "envs" / "dev" / "terraform.tfvars").read_text(encoding="utf-8")


def test_dev_names_the_runner_and_prod_need_not(tmp_path: Path, root: Path) -> None:
    ok, output = _console(tmp_path / "dev", root, _dev_tfvars(root))
    assert ok, output
    prod = (root / "envs" / "prod" / "terraform.tfvars").read_text(encoding="utf-8")
    ok, output = _console(tmp_path / "prod", root, prod)
    assert ok, output
    assert "null" in output


def test_a_public_stack_without_the_runner_ip_fails_with_the_fix(tmp_path: Path, root: Path) -> None:
    lines = [line for line in _dev_tfvars(root).splitlines() if not line.startswith("ci_runner_egress_ip")]
    ok, output = _console(tmp_path, root, "\n".join(lines) + "\n")
    assert not ok
    assert MISSING in output
    assert "terraform -chdir=envs/bootstrap output -json ci_runner" in output


def test_a_cidr_instead_of_the_address_is_refused(tmp_path: Path, root: Path) -> None:
    tfvars = _dev_tfvars(root).replace('"198.51.100.20"', '"198.51.100.20/32"')
    assert "/32" in tfvars, "the dev tfvars anchor is out of date"
    ok, output = _console(tmp_path, root, tfvars)
    assert not ok
    assert "must be a bare IPv4 address" in output


def test_every_firewall_admits_the_runner(root: Path) -> None:
    """Each module call's allowed_ip_ranges, and the SQL firewall rules, come from the one local
    that adds the runner; var.allowed_ip_ranges feeds nothing else."""
    with (root / "infra" / "main.tf").open(encoding="utf-8") as handle:
        main = hcl2.load(handle)
    local = next(block["allowed_ip_ranges"] for block in main["locals"] if "allowed_ip_ranges" in block)
    assert "var.ci_runner_egress_ip" in local
    assert "var.allowed_ip_ranges" in local
    calls = {name: body for block in main["module"] for name, body in block.items()}
    firewalls = {name.strip('"') for name, body in calls.items() if "allowed_ip_ranges" in body}
    assert firewalls == {"data_lake", "key_vault", "aml_workspace"}
    # Storage takes the same list with bare addresses (local.storage_ip_rules, test_storage_ip_rules.py).
    storage_rules = next(block["storage_ip_rules"] for block in main["locals"] if "storage_ip_rules" in block)
    assert "local.allowed_ip_ranges" in storage_rules
    expected = {"key_vault": "local.allowed_ip_ranges", "data_lake": "local.storage_ip_rules"}
    expected["aml_workspace"] = "local.storage_ip_rules"
    for name in firewalls:
        assert expected[name] in str(calls[f'"{name}"']["allowed_ip_ranges"]), name
    text = (root / "infra" / "main.tf").read_text(encoding="utf-8")
    assert text.count("var.allowed_ip_ranges") == 1
    assert "for cidr in local.allowed_ip_ranges" in text


# --- the runner subnet's storage service endpoint needs a VNet rule in dev's storage ---------------

SUBNET_MISSING = "ci_runner_subnet_id is not set, but public access is on"


def _subnet_console(tmp_path: Path, root: Path, tfvars: str) -> tuple[bool, str]:
    variables = (root / "infra" / "variables.tf").read_text(encoding="utf-8")
    return terraform_console(
        tmp_path / "variables", {"variables.tf": variables, "stack.tfvars": tfvars}, "var.ci_runner_subnet_id"
    )


def _load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        loaded: dict[str, Any] = hcl2.load(handle)
    return loaded


def storage_vnet_rule_findings(tree: Path) -> list[str]:
    """A runner subnet with a storage service endpoint reaches storage from private VNet addresses,
    where IP rules have no effect, so each dev storage firewall the runner writes (lake, workspace
    storage) must admit var.ci_runner_subnet_id by VNet rule
    (https://learn.microsoft.com/azure/storage/common/storage-network-security-virtual-networks;
    review finding 4)."""
    runner = _load(tree / "envs" / "bootstrap" / "main.runner.tf")
    subnets = [
        body
        for entry in runner.get("resource", [])
        for kind, named in entry.items()
        if kind.strip('"') == "azurerm_subnet"
        for body in named.values()
    ]
    endpoints = {
        str(endpoint.get("service", "")).strip('"')
        for subnet in subnets
        for endpoint in subnet.get("service_endpoint", [])
    }
    if not any(service.startswith("Microsoft.Storage") for service in endpoints):
        return []
    findings: list[str] = []
    main = _load(tree / "infra" / "main.tf")
    calls = {name.strip('"'): body for block in main["module"] for name, body in block.items()}
    local = next((b["storage_subnet_ids"] for b in main["locals"] if "storage_subnet_ids" in b), "")
    if "var.ci_runner_subnet_id" not in str(local):
        findings.append("infra: local.storage_subnet_ids does not carry var.ci_runner_subnet_id")
    for module in ("data_lake", "aml_workspace"):
        if "local.storage_subnet_ids" not in str(calls[module].get("allowed_subnet_ids", "")):
            findings.append(f"infra: module {module} gets no allowed_subnet_ids")
        text = str(_load(tree / "modules" / module / "main.tf").get("resource", []))
        if "virtual_network_subnet_ids" not in text or "var.allowed_subnet_ids" not in text:
            findings.append(f"modules/{module}: the storage firewall has no VNet rule for allowed_subnet_ids")
    return findings


def test_dev_storage_admits_the_runner_subnet_by_vnet_rule(root: Path) -> None:
    assert storage_vnet_rule_findings(root) == []


def test_storage_without_the_runner_s_vnet_rule_is_caught(tree: Path, edit: Edit) -> None:
    # the review's finding 4 as it was: no VNet rule anywhere
    edit("infra/main.tf", "  allowed_subnet_ids            = local.storage_subnet_ids\n", "")
    assert storage_vnet_rule_findings(tree) == ["infra: module data_lake gets no allowed_subnet_ids"]
    edit(
        "modules/aml_workspace/main.tf",
        "    virtual_network_subnet_ids = var.public_network_access_enabled ? var.allowed_subnet_ids : []\n",
        "",
    )
    edit("infra/main.tf", "var.ci_runner_subnet_id == null ? [] : [var.ci_runner_subnet_id]", "[]")
    assert storage_vnet_rule_findings(tree) == [
        "infra: local.storage_subnet_ids does not carry var.ci_runner_subnet_id",
        "infra: module data_lake gets no allowed_subnet_ids",
        "modules/aml_workspace: the storage firewall has no VNet rule for allowed_subnet_ids",
    ]


def test_without_a_storage_endpoint_no_vnet_rule_is_needed(tree: Path, edit: Edit) -> None:
    edit("envs/bootstrap/main.runner.tf", '"Microsoft.Storage.Global"', '"Microsoft.KeyVault"')
    edit("infra/main.tf", "  allowed_subnet_ids            = local.storage_subnet_ids\n", "")
    assert storage_vnet_rule_findings(tree) == []


def test_dev_names_the_runner_subnet_and_prod_need_not(tmp_path: Path, root: Path) -> None:
    ok, output = _subnet_console(tmp_path / "dev", root, _dev_tfvars(root))
    assert ok, output
    assert "/subnets/" in output
    prod = (root / "envs" / "prod" / "terraform.tfvars").read_text(encoding="utf-8")
    ok, output = _subnet_console(tmp_path / "prod", root, prod)
    assert ok, output
    assert "null" in output


def test_a_public_stack_without_the_runner_subnet_fails_with_the_fix(tmp_path: Path, root: Path) -> None:
    lines = [line for line in _dev_tfvars(root).splitlines() if not line.startswith("ci_runner_subnet_id")]
    ok, output = _subnet_console(tmp_path, root, "\n".join(lines) + "\n")
    assert not ok
    assert SUBNET_MISSING in output
    assert "jq -r .dev.subnet_id" in output


def test_a_vnet_id_instead_of_the_subnet_id_is_refused(tmp_path: Path, root: Path) -> None:
    tfvars = _dev_tfvars(root).replace("/subnets/runners", "")
    assert "/subnets/" not in tfvars.split("ci_runner_subnet_id")[1].splitlines()[0], "anchor out of date"
    ok, output = _subnet_console(tmp_path, root, tfvars)
    assert not ok
    assert "must be a subnet's ARM id" in output
