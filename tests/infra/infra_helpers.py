"""Helpers shared by the tests/infra modules (a uniquely named module, so it cannot clash)."""

from __future__ import annotations

from collections.abc import Callable

from stackctl.infra import CheckReport

Edit = Callable[[str, str, str], None]


def messages(report: CheckReport) -> str:
    return "\n".join(f.render() for f in report.findings)
