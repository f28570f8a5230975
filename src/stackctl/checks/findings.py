"""What every offline check returns: findings a reader can act on, plus figures for the summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One problem: which check saw it, where (file[:line]), what is wrong and what to do."""

    check: str
    location: str
    message: str
    fix: str | None = None

    def render(self) -> str:
        text = f"[{self.check}] {self.location}: {self.message}"
        return f"{text}\n    fix: {self.fix}" if self.fix else text


@dataclass
class CheckReport:
    """The result of one check over the tree: its findings, informational notes and figures."""

    name: str
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    # What this check could not run here because it needs the network (a provider, the registry):
    # `stackctl validate` prints every check's in one line.
    offline: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.findings


def relative(path: Path, root: Path) -> str:
    """A path as the reader knows it: relative to the checkout when it lies inside it."""
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
