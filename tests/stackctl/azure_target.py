"""The stack an `azure`-marked test runs against (a uniquely named helper module, so it cannot clash).

The release job sets FORECAST_STACK_ENV to the environment it deployed (release.yml, the Azure DevOps
release stages). No default: a smoke test or validation of the wrong stack would pass for the wrong
reason."""

from __future__ import annotations

import os

import pytest


def target_environment() -> str:
    """`dev` or `prod` from FORECAST_STACK_ENV; fails the test (naming the variable) otherwise."""
    env = os.environ.get("FORECAST_STACK_ENV")
    if env not in ("dev", "prod"):
        pytest.fail(f"FORECAST_STACK_ENV must name the deployed stack (dev or prod), got {env!r}")
    return env
