"""The allow-list: destructive changes a named approver accepted, checked into the repository.

A destructive change of a data-bearing resource blocks the release unless an entry here names
its exact address. Entries carry who approved it and why, may be limited to environments and
actions, and may expire, so an approval for one migration does not silently cover the next.

    version: 1
    allowed_destructive_changes:
      - address: module.stack.module.sql.azurerm_mssql_database.this
        actions: [delete]          # delete and/or replace; default: both
        environments: [dev]        # default: every environment
        reason: reporting database is rebuilt from the data lake by the weekly pipeline
        approved_by: jane.doe@example.com
        expires: 2026-12-31        # optional; an expired entry no longer applies
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from stackctl.errors import StackctlError

DestructiveKind = Literal["delete", "replace"]


class AllowEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    address: str = Field(min_length=1)
    actions: tuple[DestructiveKind, ...] = ("delete", "replace")
    environments: tuple[str, ...] | None = None
    reason: str = Field(min_length=1)
    approved_by: str = Field(min_length=1)
    expires: dt.date | None = None

    @field_validator("address", "reason", "approved_by")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    def expired(self, today: dt.date) -> bool:
        return self.expires is not None and self.expires < today

    def covers(self, address: str, kind: str, env: str) -> bool:
        return (
            self.address == address
            and kind in self.actions
            and (self.environments is None or env in self.environments)
        )


class AllowList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1] = 1
    allowed_destructive_changes: tuple[AllowEntry, ...] = ()
    source: str = Field(default="infra/audit-allow-list.yaml", exclude=True)

    def match(self, address: str, kind: str, env: str, today: dt.date) -> tuple[AllowEntry | None, bool]:
        """The entry that allows this change, and whether a matching entry exists but expired."""
        expired_match = False
        for entry in self.allowed_destructive_changes:
            if entry.covers(address, kind, env):
                if entry.expired(today):
                    expired_match = True
                    continue
                return entry, False
        return None, expired_match


def load_allow_list(path: Path, *, required: bool, shown_as: str | None = None) -> AllowList:
    """Read an allow-list; a missing file is an empty list unless the user named it (`required`).

    `shown_as` is how reports name the file (a path relative to the repository)."""
    name = shown_as or str(path)
    if not path.is_file():
        if required:
            raise StackctlError(
                f"allow-list file not found: {path}",
                where=str(path),
                fix="check the --allow-list path, or leave it out to use infra/audit-allow-list.yaml",
            )
        return AllowList(source=f"{name} (absent: nothing allowed)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise StackctlError(
            f"allow-list is not valid YAML: {exc}", where=str(path), fix="fix the YAML syntax"
        ) from exc
    if raw is None:
        return AllowList(source=name)
    if not isinstance(raw, dict):
        raise StackctlError(
            f"allow-list must be a mapping with `version` and `allowed_destructive_changes`, "
            f"found a {type(raw).__name__}",
            where=str(path),
            fix="see the example at the top of src/stackctl/audit/allow_list.py",
        )
    try:
        return AllowList.model_validate({**raw, "source": name})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()[:8]
        )
        raise StackctlError(
            f"allow-list entries are invalid: {problems}",
            where=str(path),
            fix="every entry needs address, reason and approved_by; actions are delete/replace; "
            "expires is a date (YYYY-MM-DD)",
        ) from exc
