"""Every root that has a .terraform.lock.hcl pins provider versions inside its versions.tf range."""

from __future__ import annotations

import shutil
from pathlib import Path

from stackctl.terraform.locks import ROOTS, check_lock_files

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
