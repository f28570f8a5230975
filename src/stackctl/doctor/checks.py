"""The doctor's checks, in the order of the README's checklist ("Azure: first deploy").

Each check takes a DoctorContext and returns a CheckResult. Unreachable (no login, no token, no
network) becomes "not checked" with how to let doctor check it; Forbidden (403) is a finding."""

from __future__ import annotations

from collections.abc import Callable

from stackctl.doctor import access, azure_checks, first_data, pipeline_checks, placeholders
from stackctl.doctor.clients import Forbidden, Unreachable
from stackctl.doctor.context import DoctorContext
from stackctl.doctor.report import CheckResult, failed, passed, unchecked

Check = Callable[[DoctorContext], CheckResult]


def bootstrap_values(ctx: DoctorContext) -> CheckResult:
    """Offline: the bootstrap's tfvars exist and Terraform evaluates its names from them."""
    settings = ctx.settings
    if not settings.bootstrap:
        return failed(
            "bootstrap-values",
            "envs/bootstrap/terraform.tfvars is missing",
            "copy envs/bootstrap/example.tfvars to envs/bootstrap/terraform.tfvars and fill it in "
            "(README 'Azure: first deploy', step 1)",
        )
    where = settings.github or settings.azure_devops or {}
    source = (
        f"{where.get('owner')}/{where.get('repository')}" if settings.github else where.get("organization")
    )
    return passed(
        "bootstrap-values",
        f"workload {settings.bootstrap.get('workload')}, runners: {settings.platform}, pipeline: {source}",
    )


# name -> check, in the checklist's order; `--only NAME` runs one.
CHECKS: dict[str, Check] = {
    "bootstrap-values": bootstrap_values,
    "identity": access.identity_and_rights,
    "providers": azure_checks.resource_providers,
    "bootstrap-state": azure_checks.bootstrap_state,
    "quotas": azure_checks.quotas,
    "federated-credentials": access.federated_credentials,
    "ci-protection": pipeline_checks.ci_protection,
    "runner": pipeline_checks.runner,
    "state-backend": azure_checks.state_backend,
    "stack-values": placeholders.stack_values,
    "first-data": first_data.first_data,
}

# What to do so that doctor can check what it could not.
HOW_TO_CHECK = {
    "azure": "log in (`az login`) and set AZURE_SUBSCRIPTION_ID to the stack's subscription",
    "github": "set GH_TOKEN (`export GH_TOKEN=$(gh auth token)`; repository Administration: read, "
    "organisation Self-hosted runners: read)",
    "azure-devops": "log in (`az login`) as a member of the Azure DevOps organisation",
}


def run_check(name: str, ctx: DoctorContext) -> CheckResult:
    """One check; a service that cannot be asked makes it "not checked", a 403 a failure."""
    try:
        return CHECKS[name](ctx)
    except Unreachable as exc:
        service = "github" if "github" in str(exc).lower() else "azure"
        return unchecked(name, str(exc), HOW_TO_CHECK[service])
    except Forbidden as exc:
        return failed(
            name,
            f"the logged-in identity may not read what this check needs ({exc})",
            "run doctor as the owner who ran the bootstrap, or grant the identity Reader on the scope named",
        )


def run_checks(ctx: DoctorContext, only: list[str] | None = None) -> list[CheckResult]:
    """Every check in order (or those named in `only`, still in order)."""
    names = [name for name in CHECKS if not only or name in only]
    return [run_check(name, ctx) for name in names]
