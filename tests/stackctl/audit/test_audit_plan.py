"""Reading plan JSON: the documented format loads; anything else is refused with a clear error."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import FIXTURES

from stackctl.audit.plan import load_plan, parse_plan
from stackctl.errors import ExitStatus, StackctlError


def minimal_plan(**overrides: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {"format_version": "1.2", "terraform_version": "1.9.8", "resource_changes": []}
    plan.update(overrides)
    return plan


def change(actions: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "address": "azurerm_resource_group.this",
        "mode": "managed",
        "type": "azurerm_resource_group",
        "name": "this",
        "change": {"actions": actions, "before": None, "after": {}, **extra},
    }


@pytest.mark.parametrize(
    ("actions", "kind"),
    [
        (["create"], "create"),
        (["update"], "update"),
        (["delete"], "delete"),
        (["delete", "create"], "replace"),
        (["create", "delete"], "replace"),
        (["no-op"], "no-op"),
        (["read"], "read"),
        (["forget"], "forget"),
    ],
)
def test_action_lists_map_to_what_an_auditor_reads(actions: list[str], kind: str) -> None:
    plan = parse_plan(minimal_plan(resource_changes=[change(actions)]))
    assert plan.resource_changes[0].change.kind == kind


def test_every_fixture_loads() -> None:
    plans = [
        path
        for path in FIXTURES.glob("*.json")
        if not path.name.startswith(("malformed", "foreign", "checkov_", "sarif-"))
    ]
    assert plans, f"no plan fixtures in {FIXTURES}: the loop below would pass on nothing"
    for path in plans:
        plan = load_plan(path)
        assert plan.format_version == "1.2", path


def test_newer_fields_are_ignored_so_a_newer_terraform_still_loads() -> None:
    plan = parse_plan(
        minimal_plan(format_version="1.9", deferred_changes=[], checks=[], something_new={"x": 1})
    )
    assert plan.format_version == "1.9"


def expect_error(raw: Any) -> StackctlError:
    with pytest.raises(StackctlError) as caught:
        parse_plan(raw, source="plan.json")
    assert caught.value.where == "plan.json"
    assert caught.value.fix
    assert caught.value.exit_code == ExitStatus.SETUP_FAULT
    return caught.value


def test_truncated_json_names_line_and_column() -> None:
    with pytest.raises(StackctlError) as caught:
        load_plan(FIXTURES / "malformed.json")
    assert "not valid JSON" in caught.value.what
    assert "line 2" in caught.value.what
    assert caught.value.where == str(FIXTURES / "malformed.json")
    assert "terraform show -json" in (caught.value.fix or "")


def test_a_state_file_is_recognised_as_foreign() -> None:
    error = expect_error(json.loads((FIXTURES / "foreign_state.json").read_text()))
    assert "state file" in error.what


def test_show_json_of_a_state_is_not_a_plan() -> None:
    error = expect_error(
        {"format_version": "1.0", "terraform_version": "1.9.8", "values": {"root_module": {}}}
    )
    assert "not of a saved plan" in error.what


def test_a_json_list_is_foreign() -> None:
    assert "list" in expect_error([1, 2]).what


def test_an_unrelated_object_lists_what_it_found() -> None:
    error = expect_error({"check_type": "terraform_plan", "results": {}})
    assert "format_version and terraform_version are missing" in error.what
    assert "check_type" in error.what


def test_a_missing_field_is_named_by_its_path() -> None:
    broken = change(["create"])
    del broken["change"]["actions"]
    error = expect_error(minimal_plan(resource_changes=[change(["create"]), broken]))
    assert "resource_changes[1].change.actions" in error.what


def test_an_unknown_action_combination_is_refused() -> None:
    error = expect_error(minimal_plan(resource_changes=[change(["update", "delete"])]))
    assert "unknown action combination" in error.what


def test_another_major_format_version_is_refused() -> None:
    error = expect_error(minimal_plan(format_version="2.0"))
    assert "format '2.0' is not supported" in error.what


def test_an_errored_plan_is_refused() -> None:
    error = expect_error(minimal_plan(errored=True))
    assert "failed" in error.what


def test_a_missing_file_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(StackctlError) as caught:
        load_plan(tmp_path / "plan.json")
    assert "make plan" in (caught.value.fix or "")


def test_the_binary_plan_file_is_not_mistaken_for_json(tmp_path: Path) -> None:
    binary = tmp_path / "tfplan"
    binary.write_bytes(b"PK\x03\x04\x14\x00\x08\x00\x08\x00tfplan\x00\xff\xfe")
    with pytest.raises(StackctlError) as caught:
        load_plan(binary)
    assert "not a plan JSON file: it is the binary plan" in caught.value.what
    assert "the binary tfplan is not JSON" in (caught.value.fix or "")
