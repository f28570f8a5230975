"""Offline verification of the Terraform: the checks `stackctl validate` and tests/infra run.

Each check is a function that takes the checkout root and returns a CheckReport (findings plus
figures); `CHECKS` lists them in the order they run. Nothing here needs Azure or the Terraform
registry: the tools are Terraform itself (fmt, configuration loading), the azurerm provider schema
extracted from the cdktn jsii assembly, checkov with our policies, and python-hcl2.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stackctl.checks.config import check_config
from stackctl.checks.docs import check_docs
from stackctl.checks.findings import CheckReport, Finding
from stackctl.checks.fmt import check_format
from stackctl.checks.online import check_terraform_validate
from stackctl.checks.overrides import check_checkov_merged
from stackctl.checks.parity import check_parity
from stackctl.checks.policy import check_prod_policy
from stackctl.checks.provider_enums import check_provider_enums
from stackctl.checks.schema import check_provider_schema, default_schema_path, load_schema
from stackctl.checks.wiring import check_wiring

__all__ = ["CHECKS", "CheckReport", "Finding", "run_checks"]


BACKGROUND_CHECK = "checkov"


def _config(root: Path) -> CheckReport:
    schema_path = default_schema_path(root)
    version = load_schema(schema_path).provider_version if schema_path.is_file() else None
    return check_config(root, provider_version=version)


CHECKS: dict[str, tuple[str, Callable[[Path], CheckReport]]] = {
    "fmt": ("terraform fmt -check -recursive", lambda root: check_format(root)),
    "config": ("Terraform's loader, references, module inputs, version pins", _config),
    "schema": ("resource and data blocks against the azurerm provider schema", check_provider_schema),
    "provider-enums": (
        "every azurerm argument we set against the provider's own ValidateFuncs",
        check_provider_enums,
    ),
    "checkov": ("checkov + infra/policies on modules/, envs/dev, envs/prod", check_checkov_merged),
    "prod-policy": ("prod's tfvars against the prod rules", check_prod_policy),
    "wiring": ("stack-wide rules over infra/: storage data roles, managed-network outbound", check_wiring),
    "parity": ("dev/prod roots alike; the value differences", check_parity),
    "terraform-validate": (
        "terraform init -backend=false && terraform validate in every directory, where the registry answers",
        lambda root: check_terraform_validate(root),
    ),
    "docs": ("generated text is current: module README tables, modules' main.interfaces.tf", check_docs),
}


def _timed(name: str, root: Path) -> CheckReport:
    started = time.perf_counter()
    report = CHECKS[name][1](root)
    report.seconds = time.perf_counter() - started
    return report


def run_checks(
    root: Path,
    names: list[str] | None = None,
    on_start: Callable[[str], None] | None = None,
    on_done: Callable[[CheckReport], None] | None = None,
) -> list[CheckReport]:
    """Run the named checks (default: all); reports come back in CHECKS order.

    checkov spends most of its time in its own processes (its start-up alone is seconds), so it
    starts first in a background thread and the in-process checks run meanwhile.
    """
    selected = [name for name in CHECKS if name in (names or list(CHECKS))]
    reports: dict[str, CheckReport] = {}
    with ThreadPoolExecutor(max_workers=1) as background:
        pending = None
        if BACKGROUND_CHECK in selected:
            if on_start:
                on_start(BACKGROUND_CHECK)
            pending = background.submit(_timed, BACKGROUND_CHECK, root)
        for name in selected:
            if name == BACKGROUND_CHECK:
                continue
            if on_start:
                on_start(name)
            reports[name] = _timed(name, root)
            if on_done:
                on_done(reports[name])
        if pending is not None:
            reports[BACKGROUND_CHECK] = pending.result()
            if on_done:
                on_done(reports[BACKGROUND_CHECK])
    return [reports[name] for name in selected]
