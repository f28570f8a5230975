"""The one-screen summary `make plan` prints, read through the audit's typed plan model (`plan.py`), so
`make plan` and `make audit` classify and count every change the same way: a `forget` (Terraform >= 1.7
`removed { lifecycle { destroy = false } }`) and a create-then-forget replacement are changes, never
"no changes" (was: the summary in terraform/env_root.py read Terraform's action lists itself and
skipped both).

Counts follow Terraform's own plan line ("Plan: 1 to add, 0 to change, 0 to destroy, 1 to forget."):
a replacement adds one object and destroys one; a create-then-forget replacement adds one and forgets
one, destroying nothing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from stackctl.audit.analysis import LISTED_KINDS
from stackctl.audit.plan import ChangeKind, Plan


@dataclass(frozen=True)
class PlanSummary:
    """Every listed change of a plan as (kind, address), in the plan's order; kinds are the audit's."""

    changes: tuple[tuple[ChangeKind, str], ...]

    @property
    def counts(self) -> Counter[ChangeKind]:
        return Counter(kind for kind, _ in self.changes)

    @property
    def adds(self) -> int:
        return self._count("create", "replace", "replace-forget")

    @property
    def updates(self) -> int:
        return self._count("update")

    @property
    def destroys(self) -> int:
        return self._count("delete", "replace")

    @property
    def forgets(self) -> int:
        return self._count("forget", "replace-forget")

    @property
    def replaces(self) -> int:
        return self._count("replace", "replace-forget")

    @property
    def no_changes(self) -> bool:
        return not self.changes

    def _count(self, *kinds: ChangeKind) -> int:
        counts = self.counts
        return sum(counts[kind] for kind in kinds)


def summarise_plan(plan: Plan) -> PlanSummary:
    """The changes the audit lists (`analysis.LISTED_KINDS`: everything but no-op and read), counted
    over the same resources (`Plan.counted_changes`)."""
    return PlanSummary(
        tuple((rc.change.kind, rc.address) for rc in plan.counted_changes if rc.change.kind in LISTED_KINDS)
    )


_SUBSCRIPTION_IN_ID = re.compile(r"/subscriptions/([0-9a-fA-F-]{36})(?:/|$)")


def subscriptions_in_plan(plan: Plan) -> list[str]:
    """The subscription ids that the resources a plan changes live in (read from their Azure ids), in
    the order first seen, lower case."""
    found: list[str] = []
    for change in plan.resource_changes:
        before = change.change.before
        identifier = before.get("id") if isinstance(before, dict) else None
        match = _SUBSCRIPTION_IN_ID.search(str(identifier or ""))
        if match:
            found.append(match.group(1).lower())
    return list(dict.fromkeys(found))
