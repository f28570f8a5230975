"""dev/prod parity: the two stacks are the same code, so every difference is a tfvars value.

Holds the value comparison (`tfvars_differences`, used by `stackctl audit` too) and validate's
parity check (`check_parity`, check 5).

`tfvars_differences()` reads `envs/dev/terraform.tfvars` and `envs/prod/terraform.tfvars` with
python-hcl2 and lists each differing value by its dotted path: the list an auditor reads as
"what differs between the stacks". Used by `stackctl validate` (parity check) and `stackctl audit`.

    for d in tfvars_differences():
        print(d.path, d.dev, "->", d.prod)
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

from stackctl.checks.findings import CheckReport, Finding, relative
from stackctl.checks.tfvars import root_values
from stackctl.errors import StackctlError
from stackctl.paths import env_dir

_MISSING = object()


@dataclass(frozen=True)
class Difference:
    """One value that differs; `dev`/`prod` are None-able values, `only_in` names the side that has
    a key the other lacks (None when both have it)."""

    path: str
    dev: Any
    prod: Any
    only_in: str | None = None

    def describe(self) -> str:
        if self.only_in == "dev":
            return f"{self.path}: only in dev ({self.dev!r})"
        if self.only_in == "prod":
            return f"{self.path}: only in prod ({self.prod!r})"
        return f"{self.path}: dev={self.dev!r} prod={self.prod!r}"


def load_tfvars(path: Path) -> dict[str, Any]:
    """A tfvars file as plain Python values (strings without their HCL quotes)."""
    if not path.is_file():
        raise StackctlError(f"tfvars file not found: {path}", fix="every env root needs a terraform.tfvars")
    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
    try:
        with path.open() as handle:
            return dict(hcl2.load(handle, serialization_options=options))
    except Exception as exc:  # python-hcl2 raises lark errors of several kinds
        raise StackctlError(f"cannot parse {path}: {exc}", fix="run `make fmt` and fix the syntax") from exc


def tfvars_differences(
    dev_file: Path | None = None,
    prod_file: Path | None = None,
) -> list[Difference]:
    """Every value that differs between the dev and prod tfvars, sorted by path."""
    dev = load_tfvars(dev_file or env_dir("dev") / "terraform.tfvars")
    prod = load_tfvars(prod_file or env_dir("prod") / "terraform.tfvars")
    return sorted(_diff(dev, prod, ""), key=lambda d: d.path)


def _diff(dev: Any, prod: Any, path: str) -> Iterator[Difference]:
    if isinstance(dev, Mapping) and isinstance(prod, Mapping):
        for key in sorted(set(dev) | set(prod)):
            child = f"{path}.{key}" if path else str(key)
            left, right = dev.get(key, _MISSING), prod.get(key, _MISSING)
            if left is _MISSING:
                yield Difference(child, None, right, only_in="prod")
            elif right is _MISSING:
                yield Difference(child, left, None, only_in="dev")
            else:
                yield from _diff(left, right, child)
    elif dev != prod:
        yield Difference(path, dev, prod)


# Check 5 of `stackctl validate`: dev and prod are the same code with different values.
#
# Structure: the two roots hold the same file names; backend.tf is each root's own file, where only
# the state key may differ; every other .tf file is one file for both roots (a symbolic link into
# envs/shared/, or infra/variables.tf for the variable declarations), so `ls -l envs/prod` shows
# that the difference is the backend and the tfvars. Both tfvars set the same top-level variables.
# Values: every differing tfvars value, listed for the auditor (read with stackctl.checks.parity,
# which `stackctl audit` uses too).

CHECK = "parity"
SHARED_DIR = "shared"
_BACKEND_KEY = re.compile(r'^\s*key\s*=\s*".*"\s*$', re.MULTILINE)


def _shared_file_finding(dev: Path, prod: Path) -> Finding | None:
    """The finding when envs/dev/NAME and envs/prod/NAME are not one file (None when they are)."""
    if dev.resolve() == prod.resolve():
        return None
    name = dev.name
    where = f"envs/dev/{name} vs envs/prod/{name}"
    fix = (
        f"keep one copy in envs/{SHARED_DIR}/{name} and link both: "
        f"ln -sf ../{SHARED_DIR}/{name} envs/<env>/{name}"
    )
    if dev.read_bytes() != prod.read_bytes():
        message = "the roots differ in code; every dev/prod difference must be a terraform.tfvars value"
        return Finding(CHECK, where, message, f"move the difference into terraform.tfvars, then {fix}")
    # A copy of a file envs/shared/ holds stops following it (the next edit of the shared file
    # reaches one root only): a finding. Two identical copies of a file the roots do not share
    # yet (issue 26, case b03: an `import` block added to both roots) are the same code, so
    # parity holds.
    if not (dev.parent.parent / SHARED_DIR / name).is_file():
        return None
    message = (
        f"the roots hold two copies of {name}; they share one file, so only backend.tf and the tfvars differ"
    )
    return Finding(CHECK, where, message, fix)


def _root_file_findings(dev: Path, prod: Path) -> list[Finding]:
    """The two roots hold the same .tf files, identical except for backend.tf's state key."""
    findings: list[Finding] = []
    dev_files = {p.name for p in [*dev.glob("*.tf"), *dev.glob("*.tf.json")]}
    prod_files = {p.name for p in [*prod.glob("*.tf"), *prod.glob("*.tf.json")]}
    for name in sorted(dev_files ^ prod_files):
        side = "dev" if name in dev_files else "prod"
        findings.append(
            Finding(
                CHECK, f"envs/{side}/{name}", f"{name} exists only in the {side} root", "keep the roots alike"
            )
        )
    for name in sorted(dev_files & prod_files):
        if name == "backend.tf":
            dev_text = _BACKEND_KEY.sub("", (dev / name).read_text(encoding="utf-8"))
            prod_text = _BACKEND_KEY.sub("", (prod / name).read_text(encoding="utf-8"))
            if dev_text != prod_text:
                findings.append(
                    Finding(CHECK, "envs/*/backend.tf", "backend.tf differs beyond the state key", None)
                )
        elif name != "variables.tf":
            finding = _shared_file_finding(dev / name, prod / name)
            if finding is not None:
                findings.append(finding)
    return findings


def check_parity(root: Path) -> CheckReport:
    """dev and prod roots alike in code (every difference a terraform.tfvars value); the differences."""
    report = CheckReport(CHECK)
    dev, prod = root / "envs" / "dev", root / "envs" / "prod"
    report.findings.extend(_root_file_findings(dev, prod))
    infra_vars = (root / "infra" / "variables.tf").resolve()
    for env_root in (dev, prod):
        declared = env_root / "variables.tf"
        if declared.is_file() and declared.resolve() != infra_vars:
            report.findings.append(
                Finding(
                    CHECK,
                    relative(declared, root),
                    "the root's variables.tf is not infra/variables.tf: a root declares exactly the "
                    "variables of the stack it calls, through a link to that one file",
                    f"ln -sf ../../infra/variables.tf {relative(declared, root)}",
                )
            )
    dev_values, prod_values = root_values(dev), root_values(prod)
    for name in sorted(set(dev_values.values) ^ set(prod_values.values)):
        side = dev_values if name in dev_values.values else prod_values
        report.findings.append(
            Finding(
                CHECK,
                relative(side.sources[name], root),
                f"{name} is set only in {side.root.name}",
                "set every variable in both roots' tfvars, so the difference is visible as a value",
            )
        )
    for values in (dev_values, prod_values):
        report.findings.extend(
            Finding(CHECK, relative(values.root, root), f"Terraform refuses a value: {problem}", None)
            for problem in values.problems
        )
    differences = sorted(_diff(dev_values.values, prod_values.values, ""), key=lambda d: d.path)
    report.figures["differences"] = differences
    report.figures["tfvars files"] = [relative(f, root) for f in (*dev_values.files, *prod_values.files)]
    report.notes.extend(d.describe() for d in differences)
    return report


def root_differences(dev_root: Path, prod_root: Path) -> list[Difference]:
    """Every value that differs between the two roots as Terraform assigns them from all the
    tfvars files it loads there (stackctl.checks.tfvars), sorted by path."""
    return sorted(
        _diff(root_values(dev_root).values, root_values(prod_root).values, ""), key=lambda d: d.path
    )
