"""Check 2, the references: module calls with a local source that exists, inputs declared and required
ones passed, and var./local./module.X.Y references that name something declared."""

from __future__ import annotations

from pathlib import Path

from stackctl.checks.findings import Finding, relative
from stackctl.checks.hclmodel import JSON_BODY, MODULE_META, TerraformDir, read_dir
from stackctl.checks.layout import terraform_dirs
from stackctl.checks.loader import CHECK
from stackctl.checks.secret_defaults import secret_default_findings


def _loc(path: Path, line: int, root: Path) -> str:
    return f"{relative(path, root)}:{line}"


class _Models:
    """Each directory's TerraformDir, read once (a module called from several roots is read once)."""

    def __init__(self) -> None:
        self._read: dict[Path, TerraformDir] = {}

    def __call__(self, directory: Path) -> TerraformDir:
        key = directory.resolve()
        if key not in self._read:
            self._read[key] = read_dir(key)
        return self._read[key]


def _reference_findings(directory: Path, root: Path, model_of: _Models) -> list[Finding]:
    """var./local./module.X.Y references of one directory that name nothing declared."""
    model = model_of(directory)
    findings: list[Finding] = []
    for ref in model.references:
        where = _loc(ref.file, ref.line, root)
        if ref.kind == "var" and ref.name not in model.variables:
            findings.append(
                Finding(
                    CHECK,
                    where,
                    f"reference to undeclared variable var.{ref.name}",
                    f'declare variable "{ref.name}" in {relative(directory, root)}/variables.tf '
                    "or fix the name",
                )
            )
        elif ref.kind == "local" and ref.name not in model.locals:
            findings.append(
                Finding(
                    CHECK, where, f"reference to undefined local.{ref.name}", "define it in a locals block"
                )
            )
        elif ref.kind == "module":
            call = model.module_calls.get(ref.name)
            if call is None:
                findings.append(
                    Finding(CHECK, where, f"reference to module.{ref.name}, which is not called here", None)
                )
                continue
            child_path = (directory / call.source).resolve()
            child_name = relative(child_path, root)
            # `depends_on = [module.x]` names the whole call: there is no output to look for.
            declared = model_of(child_path).outputs if child_path.is_dir() else None
            if ref.attribute is not None and declared is not None and ref.attribute not in declared:
                findings.append(
                    Finding(
                        CHECK,
                        where,
                        f"module.{ref.name}.{ref.attribute}: {child_name} "
                        f'declares no output "{ref.attribute}"',
                        f"add the output to {child_name}/outputs.tf or use one it declares: "
                        f"{', '.join(sorted(model_of(child_path).outputs))}",
                    )
                )
    return findings


def _module_call_findings(directory: Path, root: Path, model_of: _Models) -> list[Finding]:
    """Module calls of one directory: local source that exists, inputs declared, required ones passed."""
    findings: list[Finding] = []
    for call in model_of(directory).module_calls.values():
        child_dir = (directory / call.source).resolve()
        where = _loc(call.file, call.line, root)
        if not call.source.startswith(("./", "../")):
            findings.append(
                Finding(CHECK, where, f"module {call.name} uses a non-local source {call.source!r}", None)
            )
            continue
        if not child_dir.is_dir():
            findings.append(
                Finding(CHECK, where, f"module {call.name}: source {call.source} does not exist", None)
            )
            continue
        child = model_of(child_dir)
        passed = set(call.arguments) - MODULE_META - {JSON_BODY}
        for name in sorted(passed - set(child.variables)):
            findings.append(
                Finding(
                    CHECK,
                    where,
                    f'module "{call.name}" passes "{name}", '
                    f"which {relative(child_dir, root)} does not declare",
                    f"remove it or use one of: {', '.join(sorted(child.variables))}",
                )
            )
        required = {n for n, v in child.variables.items() if not v.has_default}
        for name in sorted(required - passed):
            findings.append(
                Finding(
                    CHECK,
                    where,
                    f'module "{call.name}" does not pass required input "{name}" '
                    f"of {relative(child_dir, root)}",
                    f"pass {name} = ... in the module block",
                )
            )
    return findings


def check_references(root: Path, directories: list[Path] | None = None) -> list[Finding]:
    """Module inputs declared and complete; var./local./module.X.Y references defined; no secret
    variable with a default. Findings per directory, in that order."""
    findings: list[Finding] = []
    model_of = _Models()
    for directory in directories if directories is not None else terraform_dirs(root):
        model = model_of(directory)
        findings.extend(model.errors)
        findings.extend(_reference_findings(directory, root, model_of))
        findings.extend(_module_call_findings(directory, root, model_of))
        findings.extend(secret_default_findings(model, root))
    return findings
