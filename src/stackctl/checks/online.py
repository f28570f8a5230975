"""Terraform's own `validate` with the real providers, wherever the Terraform registry answers.

The offline checks stand in for the providers' validation; where `registry.terraform.io` is
reachable (a hosted CI runner, a laptop) Terraform itself judges every Terraform directory:
`terraform init -backend=false` then `terraform validate -json`, in a scratch copy of the tree so
no `.terraform` folder or lock file lands in the checkout (a root's committed
`.terraform.lock.hcl` is copied with it and so pins the providers). Where the registry does not
answer, the check reports one note with the reason and no finding, unless
`STACKCTL_REQUIRE_REGISTRY=1` (the pull-request workflow), where that is a finding: a CI job that
cannot reach the registry must not pass silently.
https://developer.hashicorp.com/terraform/cli/commands/validate
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from stackctl.checks.findings import CheckReport, Finding, relative
from stackctl.checks.layout import terraform_dirs
from stackctl.tools import Terraform

CHECK = "terraform-validate"
# The registry's service discovery document: answered by every reachable registry.
# https://developer.hashicorp.com/terraform/internals/remote-service-discovery
DISCOVERY_URL = "https://registry.terraform.io/.well-known/terraform.json"
REQUIRE_ENV = "STACKCTL_REQUIRE_REGISTRY"
COPIED = ("modules", "infra", "envs")


def registry_unreachable(url: str = DISCOVERY_URL, timeout: float = 5.0) -> str | None:
    """None when the registry answers, else why not (one line)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (a fixed https URL)
            return None if response.status == 200 else f"HTTP {response.status} from {url}"
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        return f"{url}: {getattr(exc, 'reason', exc)}"


def _scratch_copy(root: Path, scratch: Path) -> None:
    for part in COPIED:
        if (root / part).is_dir():
            shutil.copytree(
                root / part, scratch / part, symlinks=True, ignore=shutil.ignore_patterns(".terraform")
            )


def _validate(directory: Path, where: str, terraform: Terraform) -> list[Finding]:
    init = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], directory)
    if not init.ok:
        detail = " ".join((init.stderr or init.stdout).split())[-400:]
        return [
            Finding(CHECK, where, f"terraform init -backend=false failed: {detail}", "fix the configuration")
        ]
    result = terraform.run(["validate", "-json", "-no-color"], directory)
    try:
        verdict = json.loads(result.stdout)
    except json.JSONDecodeError:
        return [Finding(CHECK, where, f"terraform validate gave no verdict: {result.stderr.strip()[-300:]}")]
    findings = []
    for diagnostic in verdict.get("diagnostics", []):
        if diagnostic.get("severity") != "error":
            continue
        span = diagnostic.get("range", {})
        location = f"{where}/{span.get('filename', '')}:{span.get('start', {}).get('line', '')}"
        message = f"terraform validate: {diagnostic.get('summary')}: {diagnostic.get('detail', '')}"
        findings.append(Finding(CHECK, location, message.strip(), "fix what the provider refuses"))
    return findings


def check_terraform_validate(root: Path, terraform: Terraform | None = None) -> CheckReport:
    """`terraform init -backend=false && terraform validate` in every Terraform directory."""
    report = CheckReport(CHECK)
    reason = registry_unreachable()
    if reason is not None:
        if os.environ.get(REQUIRE_ENV) == "1":
            report.findings.append(
                Finding(
                    CHECK, "registry.terraform.io", f"unreachable ({reason})", f"{REQUIRE_ENV}=1 requires it"
                )
            )
        else:
            report.offline.append(f"skipped: the Terraform registry is unreachable ({reason})")
        report.figures["directories"] = 0
        return report
    terraform = terraform or Terraform()
    directories = terraform_dirs(root)
    with tempfile.TemporaryDirectory(prefix="stackctl-validate-") as scratch:
        _scratch_copy(root, Path(scratch))
        for directory in directories:
            where = relative(directory, root)
            report.findings.extend(_validate(Path(scratch) / where, where, terraform))
    report.figures["directories"] = len(directories)
    return report
