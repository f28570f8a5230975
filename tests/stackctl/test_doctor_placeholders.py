"""Review-23 M1 (kind: *a committed example value reaches a first apply*): doctor's `stack-values`
check fails on every example value in envs/<env>/terraform.tfvars and names the file, the variable
and the command that prints the right value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from stackctl.checks.parity import load_tfvars
from stackctl.doctor.checks import CHECKS, run_check
from stackctl.doctor.clients import Rest
from stackctl.doctor.context import DoctorContext
from stackctl.doctor.placeholders import placeholder_reason, placeholders
from stackctl.doctor.report import Outcome
from stackctl.doctor.settings import DoctorSettings, Endpoints

REPO = Path(__file__).resolve().parents[2]


def result(stack: dict[str, Any], env: str = "dev") -> Any:
    settings = DoctorSettings(env=env, root=REPO, subscription_id=None, endpoints=Endpoints(), stack=stack)
    ctx = DoctorContext(
        settings=settings, arm=None, github=Rest("http://x", None), azure_devops=Rest("http://x", None)
    )
    return run_check("stack-values", ctx)


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_the_committed_tfvars_fail_naming_file_variable_and_command(env: str) -> None:
    # The review's cases: the object ids committed in envs/<env>/terraform.tfvars.
    found = result(load_tfvars(REPO / "envs" / env / "terraform.tfvars"), env)
    assert found.outcome is Outcome.FAIL
    assert f"envs/{env}/terraform.tfvars" in found.detail
    for variable in ("deployer_object_id", "sql.entra_admin_object_id", "powerbi.group_object_id"):
        assert f"{variable}: " in found.detail, variable
    assert f"deploying_identities | jq -r .{env}.principal_id" in found.next_step
    assert f"az ad group show --group sg-fcst-sql-admins-{env} --query id -o tsv" in found.next_step
    assert f"az ad group show --group sg-fcst-powerbi-{env} --query id -o tsv" in found.next_step


@pytest.mark.parametrize(
    "value",
    [
        "00000000-0000-0000-0000-000000000000",
        "aaaaaaaa-aaaa-4aaa-baaa-aaaaaaaaaaaa",
        "/subscriptions/99999999-9999-4999-8999-999999999999/resourceGroups/rg",
        "192.0.2.10",
        "198.51.100.0/25",
        "2001:db8::/48",
        "alerts@example.org",
        "oncall@team.example",
    ],
)
def test_example_values_are_caught(value: str) -> None:
    assert placeholder_reason(value)


@pytest.mark.parametrize(
    "value",
    [
        "7c2d9f4e-1b3a-4e8f-9d6c-2a5b8e1f3c7d",
        "203.0.114.1",
        "10.20.0.0/16",
        "forecast-team@contoso.com",
        "sg-fcst-sql-admins-dev",
        "westeurope",
    ],
)
def test_real_values_pass(value: str) -> None:
    assert placeholder_reason(value) is None


def test_a_filled_in_stack_passes_and_nested_values_are_walked() -> None:
    stack = {
        "deployer_object_id": "7c2d9f4e-1b3a-4e8f-9d6c-2a5b8e1f3c7d",
        "sql": {
            "entra_admin_login": "sg-admins",
            "entra_admin_object_id": "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e",
        },
        "allowed_ip_ranges": ["81.2.69.0/24"],
    }
    assert result(stack).outcome is Outcome.PASS
    stack["allowed_ip_ranges"] = ["81.2.69.0/24", "203.0.113.0/24"]
    found = result(stack)
    assert found.outcome is Outcome.FAIL
    assert "allowed_ip_ranges[1]: 203.0.113.0/24" in found.detail
    assert list(placeholders({"a": [{"b": "x@example.com"}]})) == [
        ("a[0].b", "x@example.com is at a domain reserved for examples (RFC 2606)")
    ]


def test_a_missing_stack_file_fails_and_the_check_is_registered() -> None:
    assert result({}).outcome is Outcome.FAIL
    assert "stack-values" in CHECKS
