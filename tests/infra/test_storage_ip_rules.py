"""Storage firewalls take a single address bare: Azure Storage refuses /31 and /32 prefixes in IP
rules (https://learn.microsoft.com/azure/storage/common/storage-network-security-limitations), and
azurerm's own check allows only 0-30, so a `"<ip>/32"` in `ip_rules` stops dev's plan. Key Vault and
SQL take the /32 form. Judged by real Terraform, offline: the variable blocks and locals need no
provider, so `terraform console` evaluates them."""

from __future__ import annotations

import re
from pathlib import Path

import hcl2
import pytest
from infra_helpers import terraform_console

pytestmark = pytest.mark.slow

STORAGE_MODULES = ("data_lake", "aml_workspace")
REFUSED = "Azure Storage refuses /31 and /32 in IP rules"


def _variable_block(module: Path, name: str) -> str:
    text = (module / "variables.tf").read_text(encoding="utf-8")
    match = re.search(rf'^variable "{name}" {{\n.*?^}}\n', text, flags=re.MULTILINE | re.DOTALL)
    assert match, f"{module}/variables.tf declares no variable {name}"
    return match.group(0)


@pytest.mark.parametrize("module", STORAGE_MODULES)
def test_a_storage_module_refuses_a_slash_32(tmp_path: Path, root: Path, module: str) -> None:
    block = _variable_block(root / "modules" / module, "allowed_ip_ranges")
    ok, output = terraform_console(
        tmp_path / "bad",
        {"variables.tf": block, "stack.tfvars": 'allowed_ip_ranges = ["198.51.100.20/32"]\n'},
        "var.allowed_ip_ranges",
    )
    assert not ok
    assert REFUSED in output
    ok, output = terraform_console(
        tmp_path / "good",
        {"variables.tf": block, "stack.tfvars": 'allowed_ip_ranges = ["198.51.100.20", "203.0.113.0/24"]\n'},
        "var.allowed_ip_ranges",
    )
    assert ok, output


def _infra_locals(root: Path) -> dict[str, str]:
    with (root / "infra" / "main.tf").open(encoding="utf-8") as handle:
        parsed = hcl2.load(handle)
    found: dict[str, str] = {}
    for block in parsed.get("locals", []):
        for name in ("allowed_ip_ranges", "storage_ip_rules"):
            if name in block:
                found[name] = str(block[name]).removeprefix("${").removesuffix("}")
    return found


def test_the_storage_firewalls_get_bare_addresses(tmp_path: Path, root: Path) -> None:
    expressions = _infra_locals(root)
    assert set(expressions) == {"allowed_ip_ranges", "storage_ip_rules"}
    harness = (
        'variable "allowed_ip_ranges" { type = set(string) }\n'
        'variable "ci_runner_egress_ip" { type = string }\n'
        "locals {\n" + "".join(f"  {name} = {expr}\n" for name, expr in expressions.items()) + "}\n"
    )
    tfvars = 'allowed_ip_ranges = ["203.0.113.0/24"]\nci_runner_egress_ip = "198.51.100.20"\n'
    ok, output = terraform_console(
        tmp_path / "infra", {"main.tf": harness, "stack.tfvars": tfvars}, "jsonencode(local.storage_ip_rules)"
    )
    assert ok, output
    assert "198.51.100.20/32" not in output
    assert "198.51.100.20" in output
    assert "203.0.113.0/24" in output


def test_infra_passes_the_storage_modules_their_own_list(root: Path) -> None:
    with (root / "infra" / "main.tf").open(encoding="utf-8") as handle:
        parsed = hcl2.load(handle)
    calls = {name: body for block in parsed.get("module", []) for name, body in block.items()}
    storage_calls = {
        name: body
        for name, body in calls.items()
        if Path(str(body["source"]).strip('"')).name in STORAGE_MODULES
    }
    assert len(storage_calls) == len(STORAGE_MODULES), sorted(calls)
    for name, body in storage_calls.items():
        assert body.get("allowed_ip_ranges") == "${local.storage_ip_rules}", name
