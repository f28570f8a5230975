"""The dependency lock files of the Terraform roots: each provider version a root's
`.terraform.lock.hcl` pins must lie inside the constraint its versions.tf declares.

A lock file outside the range means `terraform init` would refuse it (or, upgraded, plan with a
provider nobody reviewed). Lock files are committed where they can be generated (`terraform
providers lock -platform=linux_amd64 -platform=darwin_arm64 ...` with the registry reachable), and
the plan job carries the one init used in build/<env>/ so apply installs the same versions.
https://developer.hashicorp.com/terraform/language/files/dependency-lock
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import hcl2

from stackctl.infra.config import _admits
from stackctl.infra.hclmodel import read_dir

LOCK_FILE = ".terraform.lock.hcl"
ROOTS = ("envs/dev", "envs/prod", "envs/bootstrap")


@dataclass(frozen=True)
class LockFinding:
    where: str
    message: str


def _required_providers(root_dir: Path) -> dict[str, str]:
    """provider source (registry.terraform.io/namespace/type) -> version constraint, from versions.tf."""
    found: dict[str, str] = {}
    for block in read_dir(root_dir).terraform_settings:
        for providers in block.get("required_providers", []):
            for spec in providers.values():
                if isinstance(spec, dict) and spec.get("source") and spec.get("version"):
                    source = str(spec["source"])
                    if source.count("/") == 1:
                        source = f"registry.terraform.io/{source}"
                    found[source.lower()] = str(spec["version"])
    return found


def _locked_versions(lock_file: Path) -> dict[str, str]:
    data = hcl2.loads(lock_file.read_text(encoding="utf-8"))
    locked: dict[str, str] = {}
    for block in data.get("provider", []):
        for source, body in block.items():
            locked[source.strip('"').lower()] = str(body.get("version", "")).strip('"')
    return locked


def check_lock_files(root: Path) -> list[LockFinding]:
    """Findings for every root whose lock file pins a provider outside its versions.tf range, or
    pins a provider versions.tf does not require."""
    findings: list[LockFinding] = []
    for name in ROOTS:
        lock_file = root / name / LOCK_FILE
        if not lock_file.is_file():
            continue
        required = _required_providers(root / name)
        where = f"{name}/{LOCK_FILE}"
        for source, version in _locked_versions(lock_file).items():
            constraint = required.get(source)
            if constraint is None:
                findings.append(
                    LockFinding(where, f"{source} {version} is locked but not required in versions.tf")
                )
            elif not _admits(constraint, version):
                findings.append(
                    LockFinding(
                        where,
                        f"{source} {version} is outside versions.tf's {constraint!r}: run "
                        f"`terraform -chdir={name} providers lock` where the registry is reachable",
                    )
                )
    return findings
