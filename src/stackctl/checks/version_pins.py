"""Check 2, the version pins: the same Terraform and azurerm constraints in every versions.tf, each
azurerm range bounded above and admitting the provider schema's version."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from stackctl.checks.findings import Finding, relative
from stackctl.checks.hclmodel import read_dir
from stackctl.checks.layout import terraform_dirs


def _pins(settings: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """required_version and the azurerm version constraint of a directory's terraform blocks."""
    core = next((s.get("required_version") for s in settings if s.get("required_version")), None)
    azurerm = None
    for block in settings:
        for providers in block.get("required_providers", []):
            if "azurerm" in providers:
                azurerm = providers["azurerm"].get("version")
    return core, azurerm


def _azurerm_range_findings(where: str, azurerm: str, provider_version: str | None) -> list[Finding]:
    """The azurerm range has an upper bound and admits the provider schema's version."""
    findings = []
    if not re.search(r"<\s*\d", azurerm):
        findings.append(Finding("pins", where, f"azurerm constraint {azurerm!r} has no upper bound", None))
    if provider_version and not admits(azurerm, provider_version):
        findings.append(
            Finding(
                "pins",
                where,
                f"azurerm constraint {azurerm!r} excludes {provider_version}, "
                "the version the schema check uses",
                "align the constraint with tests/infra/azurerm_schema.json or regenerate the schema",
            )
        )
    return findings


def _provider_free(directory: Path) -> bool:
    """No resource, data or ephemeral block here nor in the local modules it calls (modules/naming,
    and its runnable example): Terraform needs no provider to init, test or plan it."""
    model = read_dir(directory)
    if model.blocks:
        return False
    for call in model.module_calls.values():
        if not call.source.startswith(("./", "../")) or not _provider_free(
            (directory / call.source).resolve()
        ):
            return False
    return True


def check_version_pins(root: Path, provider_version: str | None = None) -> list[Finding]:
    """The same Terraform and azurerm constraints in every versions.tf, admitting the schema's version."""
    findings: list[Finding] = []
    seen: dict[tuple[str, str], list[str]] = {}
    seen_core: dict[str, list[str]] = {}
    for directory in terraform_dirs(root):
        model = read_dir(directory)
        settings = model.terraform_settings
        core, azurerm = _pins(settings)
        where = relative(directory / "versions.tf", root)
        provider_free = _provider_free(directory)
        if core is not None and azurerm is None and provider_free:
            # A module of pure expressions (modules/naming) needs no provider and pins none, so
            # `terraform test` runs it offline; only Terraform's own version is pinned.
            seen_core.setdefault(core, []).append(where)
            continue
        if core is None or azurerm is None:
            findings.append(
                Finding(
                    "pins",
                    where,
                    "missing required_version or the azurerm version constraint",
                    "copy versions.tf from another module",
                )
            )
            continue
        seen.setdefault((core, azurerm), []).append(where)
        findings.extend(_azurerm_range_findings(where, azurerm, provider_version))
    for core, wheres in seen_core.items():
        if seen and core not in {pinned for pinned, _ in seen}:
            findings.append(
                Finding(
                    "pins",
                    wheres[0],
                    f"required_version {core!r} differs from the other directories'",
                    "use the same required_version everywhere",
                )
            )
    if len(seen) > 1:
        variants = "; ".join(f"{core} / azurerm {az} in {len(w)} dirs" for (core, az), w in seen.items())
        findings.append(
            Finding(
                "pins",
                "versions.tf",
                f"version pins differ between directories: {variants}",
                "use the same required_version and azurerm range everywhere",
            )
        )
    return findings


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def admits(constraint: str, version: str) -> bool:
    have = _version_tuple(version)
    ops = {
        ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }
    for clause in constraint.split(","):
        match = re.match(r"\s*(>=|<=|!=|>|<|=|~>)?\s*([\d.]+)", clause)
        if not match:
            continue
        op, wanted = match.group(1) or "=", _version_tuple(match.group(2))
        padded = have + (0,) * (len(wanted) - len(have))
        if op == "~>":
            upper = (*wanted[:-2], wanted[-2] + 1) if len(wanted) > 1 else (wanted[0] + 1,)
            if not (padded >= wanted and padded[: len(upper)] < upper):
                return False
        elif not ops[op](padded[: len(wanted)], wanted):
            return False
    return True
