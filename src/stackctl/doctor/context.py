"""What every check reads: the run's settings and its clients."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential

from stackctl.doctor.clients import Arm, Rest, Unreachable
from stackctl.doctor.settings import DoctorSettings


@dataclass(frozen=True)
class DoctorContext:
    """One run's settings and clients. `arm` is None when no subscription is named; `credential`
    None when none could be built (both make the Azure checks "not checked")."""

    settings: DoctorSettings
    arm: Arm | None
    github: Rest
    azure_devops: Rest
    credential: TokenCredential | None = None


def require_arm(ctx: DoctorContext) -> Arm:
    if ctx.arm is None:
        raise Unreachable("no Azure subscription named (AZURE_SUBSCRIPTION_ID) or no Azure credential")
    return ctx.arm


def names(ctx: DoctorContext, group: str) -> Any:
    """A name the bootstrap gives (naming.tf, as Terraform evaluated it) for this environment."""
    value = ctx.settings.names[group]
    return value[ctx.settings.env] if isinstance(value, dict) else value
