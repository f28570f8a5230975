"""CKV_FS_5: no module input with a secret-looking name receives a literal value.

Secrets come from Key Vault references or managed identities, never from HCL. (Variable defaults
with secret-looking names are checked by stackctl.checks.config, which sees `variable` blocks.)
"""

from __future__ import annotations

import re
from typing import Any

from checkov.common.models.enums import CheckCategories, CheckResult
from checkov.terraform.checks.module.base_module_check import BaseModuleCheck

SECRET_NAME = re.compile(r"(password|passwd|secret|token|access_key|account_key|connection_string|sas)", re.I)
REFERENCE = re.compile(r"(var|local|module|data|each)\.")


class NoSecretModuleInputs(BaseModuleCheck):
    def __init__(self) -> None:
        super().__init__(
            name="Module inputs with secret-looking names are never literals",
            id="CKV_FS_5",
            categories=[CheckCategories.SECRETS],
        )

    def scan_module_conf(self, conf: dict[str, Any]) -> CheckResult:
        for key, value in conf.items():
            if not SECRET_NAME.search(key):
                continue
            raw = value[0] if isinstance(value, list) and len(value) == 1 else value
            if isinstance(raw, str) and raw and not REFERENCE.search(raw):
                return CheckResult.FAILED
        return CheckResult.PASSED


check = NoSecretModuleInputs()
