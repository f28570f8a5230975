"""`make plan`'s summary reads the plan through the audit's typed model (stackctl.audit.plan), so the
two commands count every change the same way.

Was: terraform/env_root.py read Terraform's action lists itself and skipped `forget` and
create-then-forget, so `make plan` said "no changes" for plans the audit warned about.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from stackctl.audit.plan import load_plan, parse_plan
from stackctl.audit.summary import summarise_plan
from stackctl.cloud_stack import print_plan_summary

AUDIT_TESTS = Path(__file__).parent / "audit"
CASES = AUDIT_TESTS / "cases"
FIXTURES = AUDIT_TESTS / "fixtures"
HEADER = {"format_version": "1.2", "terraform_version": "1.9.8"}


def change(address: str, *actions: str, mode: str = "managed") -> dict[str, Any]:
    kind, name = address.rsplit(".", 2)[-2:]
    changed = {"actions": list(actions)}
    return {"address": address, "mode": mode, "type": kind, "name": name, "change": changed}


def summary_of(*changes: dict[str, Any]) -> Any:
    return summarise_plan(parse_plan({**HEADER, "resource_changes": list(changes)}))


def printed(summary: Any) -> str:
    console = Console(record=True, width=200)
    print_plan_summary(console, "dev", summary)
    return console.export_text()


@pytest.mark.parametrize(
    ("actions", "adds", "updates", "destroys", "forgets", "replaces"),
    [
        (["forget"], 0, 0, 0, 1, 0),  # removed { lifecycle { destroy = false } }
        (["create", "forget"], 1, 0, 0, 1, 1),  # create-then-forget replacement
        (["forget", "create"], 1, 0, 0, 1, 1),  # forget-then-create replacement
        (["delete", "create"], 1, 0, 1, 0, 1),
        (["create", "delete"], 1, 0, 1, 0, 1),
        (["update"], 0, 1, 0, 0, 0),
        (["delete"], 0, 0, 1, 0, 0),
    ],
)
def test_every_kind_of_change_is_counted_as_terraform_counts_it(
    actions: list[str], adds: int, updates: int, destroys: int, forgets: int, replaces: int
) -> None:
    summary = summary_of(change("module.stack.azurerm_storage_account.this", *actions))
    assert not summary.no_changes
    assert (summary.adds, summary.updates, summary.destroys, summary.forgets, summary.replaces) == (
        adds,
        updates,
        destroys,
        forgets,
        replaces,
    )
    assert "no changes" not in printed(summary)


@pytest.mark.parametrize(
    "name", ["a02_forget_then_create_storage.json", "a02b_create_then_forget_storage.json"]
)
def test_the_handed_forget_cases_are_changes_not_no_changes(name: str) -> None:
    summary = summarise_plan(load_plan(CASES / name))
    assert summary.forgets == 1
    assert summary.destroys == 0
    text = printed(summary)
    assert "1 to forget" in text
    assert "no changes" not in text


def test_a_plain_forget_of_the_handed_case_is_a_change_too() -> None:
    raw = json.loads((CASES / "a02b_create_then_forget_storage.json").read_text(encoding="utf-8"))
    forgotten = copy.deepcopy(raw)
    for resource in forgotten["resource_changes"]:
        if "forget" in resource["change"]["actions"]:
            resource["change"]["actions"] = ["forget"]
    summary = summarise_plan(parse_plan(forgotten))
    assert (summary.adds, summary.forgets) == (0, 1)
    assert "0 to add, 0 to change, 0 to destroy, 1 to forget" in printed(summary)


def test_no_op_and_plan_time_reads_are_no_changes() -> None:
    summary = summary_of(
        change("module.stack.azurerm_resource_group.this", "no-op"),
        change("data.azurerm_client_config.current", "no-op", mode="data"),
    )
    assert summary.no_changes
    assert "dev: no changes" in printed(summary)
