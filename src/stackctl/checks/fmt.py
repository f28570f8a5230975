"""Check 1: Terraform's own formatter (`terraform fmt -check -recursive`) over our directories."""

from __future__ import annotations

from pathlib import Path

from stackctl.checks.findings import CheckReport, Finding, relative
from stackctl.tools import Terraform

CHECK = "fmt"
FORMATTED_DIRS = ("modules", "infra", "envs")


def check_format(root: Path, *, write: bool = False, terraform: Terraform | None = None) -> CheckReport:
    """Lists unformatted files (or rewrites them with write=True). Syntax errors are findings too."""
    terraform = terraform or Terraform()
    report = CheckReport(CHECK)
    report.figures["terraform"] = terraform.source
    for part in FORMATTED_DIRS:
        directory = root / part
        if not directory.is_dir():
            continue
        args = ["fmt", "-recursive", "-list=true", "-no-color"]
        if not write:
            args += ["-check"]
        result = terraform.run(args, directory)
        changed = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if write:
            report.notes.extend(f"formatted {part}/{name}" for name in changed)
        else:
            report.findings.extend(
                Finding(
                    CHECK,
                    relative(directory / name, root),
                    "not in canonical Terraform format",
                    "run `make fmt` (or `python scripts/terraform_fmt.py --write`)",
                )
                for name in changed
            )
        if result.returncode != 0 and not changed:
            detail = " ".join(result.stderr.split())[:500] or f"terraform fmt exited {result.returncode}"
            report.findings.append(Finding(CHECK, part, detail, "fix the syntax error terraform reports"))
    return report
