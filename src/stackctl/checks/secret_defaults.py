"""Check 2, secrets in code: no variable named like a secret carries a default value."""

from __future__ import annotations

import re
from pathlib import Path

from stackctl.checks.findings import Finding, relative
from stackctl.checks.hclmodel import TerraformDir
from stackctl.checks.loader import CHECK

SECRET_NAME = re.compile(
    r"(password|passwd|secret|token|access_key|account_key|connection_string|sas_)", re.I
)


def secret_default_findings(model: TerraformDir, root: Path) -> list[Finding]:
    """Variables named like a secret that carry a default value."""
    return [
        Finding(
            CHECK,
            f"{relative(variable.file, root)}:{variable.line}",
            f'variable "{variable.name}" looks like a secret and has a default value',
            "remove the default; secrets come from Key Vault or managed identities, never from code",
        )
        for variable in model.variables.values()
        if SECRET_NAME.search(variable.name)
        and isinstance(variable.default, str)
        and variable.default.strip()
    ]
