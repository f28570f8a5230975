"""The dependency lock files of the Terraform roots: each provider version a root's
`.terraform.lock.hcl` pins must lie inside the constraint its versions.tf declares.

A lock file outside the range means `terraform init` would refuse it (or, upgraded, plan with a
provider nobody reviewed). Lock files are committed where they can be generated: `make
lock-providers` (`python -m stackctl.terraform.locks`) runs `terraform providers lock` for every
root and every platform in PLATFORMS, which needs the Terraform registry; the provider-locks
workflow (.github/workflows/provider-locks.yml) does it on a hosted runner and proposes the result
as a pull request. Until a root has one, the plan job carries the lock file its init wrote in
build/<env>/, so apply installs the versions the plan was made with.
https://developer.hashicorp.com/terraform/language/files/dependency-lock
https://developer.hashicorp.com/terraform/cli/commands/providers/lock
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import hcl2

from stackctl.checks.hclmodel import read_dir
from stackctl.checks.version_pins import admits
from stackctl.errors import ExitStatus, StackctlError
from stackctl.tools import Terraform

LOCK_FILE = ".terraform.lock.hcl"
ROOTS = ("envs/dev", "envs/prod", "envs/bootstrap")
# Where the team runs Terraform: CI and the runners (linux_amd64), engineers' Macs and Windows
# machines. A lock file without a platform's hashes makes `init` there fail its checksum check.
PLATFORMS = ("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64", "windows_amd64")


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
            elif not admits(constraint, version):
                findings.append(
                    LockFinding(
                        where,
                        f"{source} {version} is outside versions.tf's {constraint!r}: run "
                        f"`terraform -chdir={name} providers lock` where the registry is reachable",
                    )
                )
    return findings


def write_lock_files(root: Path, terraform: Terraform | None = None) -> list[Path]:
    """`terraform providers lock` for every platform in PLATFORMS, in every root; the lock files written.

    Needs the Terraform registry (registry.terraform.io and its release hosts). Raises StackctlError
    naming the root and Terraform's error when it fails, and when the result pins a version outside
    a root's versions.tf range.
    """
    terraform = terraform or Terraform()
    written: list[Path] = []
    lock = ["providers", "lock", "-no-color", *(f"-platform={platform}" for platform in PLATFORMS)]
    for name in ROOTS:
        # providers lock loads the whole configuration, so its modules must be installed first
        # (`Error: Module not installed` otherwise); -backend=false: no state is read.
        result = terraform.run(["init", "-backend=false", "-input=false", "-no-color"], cwd=root / name)
        if result.ok:
            result = terraform.run(lock, cwd=root / name)
        if not result.ok:
            raise StackctlError(
                f"terraform providers lock failed in {name}:\n  "
                + "\n  ".join((result.stderr or result.stdout).strip().splitlines()[-8:]),
                where=name,
                fix="run it where the Terraform registry is reachable: the provider-locks workflow "
                "(.github/workflows/provider-locks.yml) does, on a hosted runner",
            )
        written.append(root / name / LOCK_FILE)
    findings = check_lock_files(root)
    if findings:
        raise StackctlError(
            "the new lock files pin versions outside versions.tf: "
            + "; ".join(f"{f.where}: {f.message}" for f in findings),
            where="envs/*/versions.tf",
        )
    return written


def main() -> int:
    from stackctl.paths import repo_root

    try:
        written = write_lock_files(repo_root())
    except StackctlError as exc:
        print(exc.render(), file=sys.stderr)
        return ExitStatus.SETUP_FAULT
    for path in written:
        print(f"wrote {path.relative_to(repo_root())} ({', '.join(PLATFORMS)})")
    return ExitStatus.OK


if __name__ == "__main__":
    raise SystemExit(main())
