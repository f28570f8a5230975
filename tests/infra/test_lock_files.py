"""Every root that has a .terraform.lock.hcl pins provider versions inside its versions.tf range."""

from __future__ import annotations

import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from stackctl.errors import StackctlError
from stackctl.terraform.locks import PLATFORMS, ROOTS, check_lock_files, write_lock_files
from stackctl.tools import Terraform, ToolResult

REPO = Path(__file__).resolve().parents[2]
LOCK = """provider "registry.terraform.io/hashicorp/azurerm" {
  version     = "%s"
  constraints = ">= 5.10.0, < 6.0.0"
  hashes = [
    "h1:0000000000000000000000000000000000000000000=",
  ]
}
"""


def _copy(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    for name in ROOTS:
        shutil.copytree(REPO / name, root / name, symlinks=False, ignore=shutil.ignore_patterns(".terraform"))
    return root


def test_the_checkouts_lock_files_are_inside_the_ranges() -> None:
    assert check_lock_files(REPO) == []


def test_a_lock_inside_the_range_passes_and_one_outside_is_caught(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    constraint = next(
        line.split("=", 1)[1].strip().strip('"')
        for line in (REPO / "envs" / "dev" / "versions.tf").read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("version")
    )
    low = constraint.split(",")[0].strip().lstrip(">=").strip()
    (root / "envs" / "dev" / ".terraform.lock.hcl").write_text(LOCK % low, encoding="utf-8")
    assert check_lock_files(root) == []
    (root / "envs" / "prod" / ".terraform.lock.hcl").write_text(LOCK % "3.117.0", encoding="utf-8")
    findings = check_lock_files(root)
    assert [f.where for f in findings] == ["envs/prod/.terraform.lock.hcl"]
    assert "registry.terraform.io/hashicorp/azurerm 3.117.0 is outside versions.tf's" in findings[0].message


def test_a_locked_provider_the_root_does_not_require_is_caught(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "envs" / "bootstrap" / ".terraform.lock.hcl").write_text(
        LOCK.replace("hashicorp/azurerm", "hashicorp/random") % "3.6.0", encoding="utf-8"
    )
    findings = check_lock_files(root)
    assert len(findings) == 1
    assert "hashicorp/random 3.6.0 is locked but not required" in findings[0].message


class FakeTerraform(Terraform):
    """Records each command; `providers lock` writes a lock file pinning `version`, or fails."""

    def __init__(self, version: str, *, fail: str = "") -> None:
        super().__init__("terraform")
        self.version_to_lock = version
        self.fail = fail
        self.calls: list[tuple[str, list[str]]] = []

    def run(self, args: Sequence[str], cwd: Path, *, env: Mapping[str, str] | None = None) -> ToolResult:
        self.calls.append((cwd.name, list(args)))
        if self.fail and args[0] == "init":
            return ToolResult(1, "", self.fail)
        if args[:2] == ["providers", "lock"]:
            (cwd / ".terraform.lock.hcl").write_text(LOCK % self.version_to_lock, encoding="utf-8")
        return ToolResult(0, "", "")


def test_lock_providers_inits_each_root_then_locks_every_platform(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    terraform = FakeTerraform("5.10.0")
    written = write_lock_files(root, terraform)
    assert written == [root / name / ".terraform.lock.hcl" for name in ROOTS]
    for name in ROOTS:
        commands = [args for where, args in terraform.calls if where == Path(name).name]
        assert commands[0][:2] == ["init", "-backend=false"]
        assert commands[1][:2] == ["providers", "lock"]
        assert {f"-platform={p}" for p in PLATFORMS} <= set(commands[1])
    assert {"linux_amd64", "darwin_arm64", "windows_amd64"} <= set(PLATFORMS)


def test_lock_providers_without_the_registry_names_the_root_and_where_to_run_it(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    error = "Error: Failed to query available provider packages ... registry.terraform.io: no such host"
    with pytest.raises(StackctlError) as caught:
        write_lock_files(root, FakeTerraform("5.10.0", fail=error))
    assert "envs/dev" in caught.value.what
    assert "no such host" in caught.value.what
    assert "provider-locks.yml" in str(caught.value.fix)


def test_lock_providers_refuses_a_result_outside_the_versions_range(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    with pytest.raises(StackctlError, match=r"outside versions\.tf"):
        write_lock_files(root, FakeTerraform("6.0.0"))
