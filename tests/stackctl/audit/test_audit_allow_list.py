"""The allow-list file: approvals with a reason and an approver; typos are errors, not silence."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from stackctl.audit.allow_list import load_allow_list
from stackctl.errors import StackctlError
from stackctl.paths import repo_root

ENTRY = "allowed_destructive_changes:\n  - address: a\n    reason: r\n    approved_by: x\n"
ADDRESS = "module.stack.module.sql.azurerm_mssql_database.this"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "allow.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_checked_in_allow_list_loads() -> None:
    allow = load_allow_list(repo_root() / "infra" / "audit-allow-list.yaml", required=True)
    assert allow.version == 1


def test_entries_match_address_action_environment_and_date(tmp_path: Path) -> None:
    allow = load_allow_list(
        write(
            tmp_path,
            f"""
version: 1
allowed_destructive_changes:
  - address: {ADDRESS}
    actions: [replace]
    environments: [dev]
    reason: collation change
    approved_by: jane
    expires: 2026-12-31
""",
        ),
        required=True,
    )
    today = dt.date(2026, 11, 20)
    entry, expired = allow.match(ADDRESS, "replace", "dev", today)
    assert entry is not None
    assert not expired
    assert allow.match(ADDRESS, "delete", "dev", today) == (None, False)
    assert allow.match(ADDRESS, "replace", "prod", today) == (None, False)
    assert allow.match(ADDRESS + "_other", "replace", "dev", today) == (None, False)
    assert allow.match(ADDRESS, "replace", "dev", dt.date(2027, 1, 1)) == (None, True)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("allowed_destructive_changes:\n  - address: a\n    approved_by: x\n", "reason"),
        (ENTRY + "    expire: 2026-01-01\n", "expire"),
        (ENTRY + "    actions: [update]\n", "actions"),
        ("allowed_destructive_changes:\n  - address: a\n    reason: '  '\n    approved_by: x\n", "reason"),
        ("alowed_destructive_changes: []\n", "alowed_destructive_changes"),
        ("- just a list\n", "mapping"),
        ("allowed_destructive_changes: [\n", "YAML"),
    ],
)
def test_invalid_entries_are_errors_that_name_the_field(tmp_path: Path, text: str, named: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(StackctlError) as caught:
        load_allow_list(path, required=True)
    assert named in caught.value.what
    assert caught.value.where == str(path)


def test_a_missing_default_file_allows_nothing_but_a_named_one_is_an_error(tmp_path: Path) -> None:
    assert load_allow_list(tmp_path / "none.yaml", required=False).allowed_destructive_changes == ()
    with pytest.raises(StackctlError, match="not found"):
        load_allow_list(tmp_path / "none.yaml", required=True)
