"""Check 2: every directory loads in Terraform's own configuration loader (`loader`), every reference
resolves (`references`: module inputs declared and complete, var./local./module.X.Y defined), no
secret-looking variable has a default (`secret_defaults`), and the version pins agree everywhere
(`version_pins`). This module runs them together, over the tree or one directory.
"""

from __future__ import annotations

from pathlib import Path

from stackctl.checks.evaluation import check_evaluation
from stackctl.checks.findings import CheckReport
from stackctl.checks.layout import env_roots, module_dirs, terraform_dirs
from stackctl.checks.loader import CHECK, OFFLINE_TEXT, terraform_load
from stackctl.checks.references import check_references
from stackctl.checks.version_pins import check_version_pins
from stackctl.tools import Terraform


def check_config(
    root: Path, terraform: Terraform | None = None, provider_version: str | None = None
) -> CheckReport:
    report = CheckReport(CHECK)
    report.findings.extend(terraform_load(root, terraform, notes=report.notes))
    _move_offline_notes(report)
    report.findings.extend(check_references(root))
    report.findings.extend(check_evaluation(root, terraform_dirs(root), terraform))
    report.findings.extend(check_version_pins(root, provider_version))
    report.figures["directories"] = len(terraform_dirs(root))
    report.figures["modules"] = len(module_dirs(root))
    report.figures["roots"] = len(env_roots(root))
    return report


def check_directory(directory: Path, root: Path, terraform: Terraform | None = None) -> CheckReport:
    """The language checks on one Terraform directory (`stackctl validate --dir DIR`): Terraform's
    loader and, where it runs offline, `terraform validate`; references; conditional types; and the
    provider schema of its blocks. What none of them can judge is listed in the notes."""
    from stackctl.checks.schema import check_directory_schema, default_schema_path
    from stackctl.paths import repo_root

    report = CheckReport(CHECK)
    report.findings.extend(terraform_load(root, terraform, directories=[directory], notes=report.notes))
    _move_offline_notes(report)
    report.findings.extend(check_references(root, [directory]))
    report.findings.extend(check_evaluation(root, [directory], terraform))
    schema = check_directory_schema(directory, root, default_schema_path(repo_root()))
    report.findings.extend(schema.findings)
    report.notes.extend(schema.notes)
    report.figures["directories"] = 1
    return report


def _move_offline_notes(report: CheckReport) -> None:
    """The note on what cannot run offline goes with the other checks' (one line in `validate`)."""
    report.offline.extend(n for n in report.notes if OFFLINE_TEXT in n)
    report.notes[:] = [n for n in report.notes if OFFLINE_TEXT not in n]
