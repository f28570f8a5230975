"""Build one doctor run's context from the checkout and the process environment, and run it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from azure.core.credentials import TokenCredential

from stackctl.credentials import credential_for_environment
from stackctl.doctor import clients
from stackctl.doctor.checks import run_checks
from stackctl.doctor.context import DoctorContext
from stackctl.doctor.report import CheckResult, failed
from stackctl.doctor.settings import DoctorSettings, load_settings
from stackctl.errors import StackctlError


def context(settings: DoctorSettings, credential: TokenCredential | None) -> DoctorContext:
    arm = None
    if credential is not None and settings.subscription_id:
        arm = clients.Arm(credential, settings.subscription_id, settings.endpoints.arm)
    return DoctorContext(
        settings=settings,
        arm=arm,
        github=clients.github(settings.endpoints.github, settings.github_token),
        azure_devops=(
            clients.Rest(settings.endpoints.azure_devops, settings.azure_devops_token)
            if settings.azure_devops_token
            else clients.azure_devops(
                settings.endpoints.azure_devops, credential if settings.azure_devops else None
            )
        ),
        credential=credential,
    )


def _credential(environ: Mapping[str, str]) -> TokenCredential | None:
    """The credential stackctl uses everywhere (stackctl.credentials); None when this process has none."""
    try:
        return credential_for_environment(dict(environ))[1]
    except StackctlError:
        return None


def doctor(
    env: str,
    root: Path,
    *,
    only: list[str] | None = None,
    environ: Mapping[str, str] | None = None,
    credential: TokenCredential | None = None,
) -> list[CheckResult]:
    """Every check's result for `env`, in order. `credential` None: the process's own credential."""
    environ = os.environ if environ is None else environ
    try:
        settings = load_settings(env, root, environ)
    except StackctlError as exc:
        return [failed("bootstrap-values", exc.what, exc.fix or "correct envs/bootstrap/terraform.tfvars")]
    return run_checks(context(settings, credential or _credential(environ)), only)
