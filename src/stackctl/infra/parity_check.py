"""Check 5: dev and prod are the same code with different values.

Structure: the two roots hold the same files with the same text, except backend.tf, where only the
state key may differ; both roots declare exactly infra/'s variables; both tfvars set the same
top-level variables. Values: every differing tfvars value, listed for the auditor (read with
stackctl.parity, which `stackctl audit` uses too).
"""

from __future__ import annotations

import re
from pathlib import Path

from stackctl.infra.findings import CheckReport, Finding, relative
from stackctl.parity import load_tfvars, tfvars_differences

CHECK = "parity"
_BACKEND_KEY = re.compile(r'^\s*key\s*=\s*".*"\s*$', re.MULTILINE)
_LEADING_COMMENTS = re.compile(r"\A(?:\s*#[^\n]*\n)*\s*")


def _without_leading_comments(text: str) -> str:
    return _LEADING_COMMENTS.sub("", text, count=1)


def check_parity(root: Path) -> CheckReport:
    report = CheckReport(CHECK)
    dev, prod = root / "envs" / "dev", root / "envs" / "prod"
    dev_files = {p.name for p in dev.glob("*.tf")}
    prod_files = {p.name for p in prod.glob("*.tf")}
    for name in sorted(dev_files ^ prod_files):
        side = "dev" if name in dev_files else "prod"
        report.findings.append(
            Finding(
                CHECK, f"envs/{side}/{name}", f"{name} exists only in the {side} root", "keep the roots alike"
            )
        )
    for name in sorted(dev_files & prod_files):
        dev_text = (dev / name).read_text(encoding="utf-8")
        prod_text = (prod / name).read_text(encoding="utf-8")
        if name == "backend.tf":
            dev_text, prod_text = _BACKEND_KEY.sub("", dev_text), _BACKEND_KEY.sub("", prod_text)
            if dev_text != prod_text:
                report.findings.append(
                    Finding(CHECK, "envs/*/backend.tf", "backend.tf differs beyond the state key", None)
                )
        elif dev_text != prod_text:
            report.findings.append(
                Finding(
                    CHECK,
                    f"envs/dev/{name} vs envs/prod/{name}",
                    "the roots differ in code; every dev/prod difference must be a terraform.tfvars value",
                    "make the two files identical and move the difference into terraform.tfvars",
                )
            )
    infra_vars = _without_leading_comments((root / "infra" / "variables.tf").read_text(encoding="utf-8"))
    for env_root in (dev, prod):
        declared = env_root / "variables.tf"
        if (
            declared.is_file()
            and _without_leading_comments(declared.read_text(encoding="utf-8")) != infra_vars
        ):
            report.findings.append(
                Finding(
                    CHECK,
                    relative(declared, root),
                    "the root's variable declarations differ from infra/variables.tf",
                    "copy infra/variables.tf below the header comment of the root's variables.tf",
                )
            )
    dev_vars = load_tfvars(dev / "terraform.tfvars")
    prod_vars = load_tfvars(prod / "terraform.tfvars")
    for name in sorted(set(dev_vars) ^ set(prod_vars)):
        side = "dev" if name in dev_vars else "prod"
        report.findings.append(
            Finding(
                CHECK,
                f"envs/{side}/terraform.tfvars",
                f"{name} is set only in {side}",
                "set every variable in both tfvars, so the difference is visible as a value",
            )
        )
    differences = tfvars_differences(dev / "terraform.tfvars", prod / "terraform.tfvars")
    report.figures["differences"] = differences
    report.notes.extend(d.describe() for d in differences)
    return report
