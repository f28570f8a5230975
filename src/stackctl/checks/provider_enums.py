"""The azurerm provider's own input validations, judged offline (issue 22 item 1).

The jsii schema names arguments but not the provider's `ValidateFunc`s, so a value the provider
refuses at plan (`storage_account_access_type = "identity"`, the enum is case-sensitive
`Identity`; `sub_resource_target = "sqlServer"`, outside the outbound rule's StringInSlice) passed
every other check. tests/infra/azurerm_validations.json holds each used type's validations as the
provider source declares them beside the argument (hashicorp/terraform-provider-azurerm, the commit
recorded in the file; regenerate with scripts/extract_provider_validations.py); where that source is
older than the pinned version, its `doc_overrides` hold the pinned documentation's values.

What is judged, per azurerm block in modules/, infra/ and the roots:
  - literal values of arguments (and of nested blocks), list elements, and both branches of a
    `cond ? "a" : "b"` expression;
  - an argument fed by `var.X` (or `each.value.F` under `for_each = var.X...`): the literal lists in
    that variable's `validation` blocks (`contains([...], ...)`) and its literal default must lie
    inside the provider's set, so the module's own validation never admits what the provider refuses;
  - the literals a module call passes into such a variable (infra/ -> modules/);
  - the values an env root's tfvars files set (every file Terraform loads, as Terraform assigns
    them: checks/tfvars.py), followed through each module call that passes them on by reference
    (`aml = var.aml` -> `managed_network_isolation_mode = var.aml.managed_network_isolation_mode`)
    to the argument they feed (review 22 N3: `isolation_mode = "allowInternetOutbound"` in
    envs/dev/terraform.tfvars passed).
Validators judged: StringInSlice (with its ignore-case flag), StringIsNotEmpty, StringMatch,
IntBetween/IntAtLeast/IntAtMost/IntInSlice; others are counted in the figures, not judged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from stackctl.checks.findings import CheckReport, Finding, relative
from stackctl.checks.hclmodel import RESOURCE_META, Block, TerraformDir, read_dir
from stackctl.checks.layout import terraform_dirs
from stackctl.checks.tfvars import SENSITIVE, root_values, tfvars_files
from stackctl.errors import StackctlError

CHECK = "provider-enums"
REGENERATE = (
    ".venv/bin/python scripts/extract_provider_validations.py "
    "--provider-git <a hashicorp/terraform-provider-azurerm checkout>"
)
TERNARY_RE = re.compile(r'^\$\{[^"]*\?\s*"([^"$]*)"\s*:\s*"([^"$]*)"\s*\}$')
VAR_RE = re.compile(r"^\$\{var\.([a-z0-9_]+)\}$")
EACH_RE = re.compile(r"^\$\{each\.value(?:\.([a-z0-9_]+))?\}$")
FOR_EACH_VAR_RE = re.compile(r"^\$\{var\.([a-z0-9_]+)[a-z0-9_.]*\}$")
CONTAINS_RE = re.compile(r"contains\(\[([^\]]*)\],\s*([^)]*)\)")
REFERENCED_VAR_RE = re.compile(r"\bvar\.([a-z0-9_]+)")
REFERENCE_RE = re.compile(r"^\$\{var\.([a-z0-9_]+)((?:\.[a-z0-9_]+)*)\}$")

Rule = dict[str, Any]
# tests/infra/azurerm_validations.json as loaded: provider_source, resources, data_sources, ...
Validations = dict[str, Any]


def default_validations_path(root: Path) -> Path:
    return root / "tests" / "infra" / "azurerm_validations.json"


def load_validations(path: Path) -> Validations:
    """The extracted validations; a missing or broken file is a StackctlError naming the fix."""
    try:
        data: Validations = json.loads(path.read_text(encoding="utf-8"))
        for table in ("resources", "data_sources"):
            for type_name, spec in data.get("doc_overrides", {}).get(table, {}).items():
                data[table].setdefault(type_name, {"arguments": {}})["arguments"].update(spec)
        return data
    except (OSError, json.JSONDecodeError, KeyError) as exc:
        raise StackctlError(
            f"provider validations unreadable: {path} ({exc})",
            where=str(path),
            fix=f"regenerate: `{REGENERATE}`",
        ) from exc


def refusal(value: Any, rule: Rule) -> str | None:
    """Why azurerm refuses `value` under `rule` (None when it accepts it or cannot judge it)."""
    kind = rule.get("validator")
    if kind == "StringInSlice" and isinstance(value, str):
        allowed: list[str] = rule["values"]
        ok = value.lower() in {v.lower() for v in allowed} if rule.get("ignore_case") else value in allowed
        case = "case-insensitive" if rule.get("ignore_case") else "case-sensitive"
        return None if ok else f"not one of {', '.join(allowed)} (StringInSlice, {case})"
    if kind == "StringIsNotEmpty" and value == "":
        return "empty (StringIsNotEmpty)"
    if kind == "StringMatch" and isinstance(value, str):
        try:
            return (
                None
                if re.search(rule["pattern"], value)
                else f"does not match {rule['pattern']} (StringMatch)"
            )
        except re.error:
            return None
    if isinstance(value, int) and not isinstance(value, bool):
        numbers: list[int] = rule.get("values", [])
        if kind == "IntBetween" and not numbers[0] <= value <= numbers[1]:
            return f"outside {numbers[0]}..{numbers[1]} (IntBetween)"
        if kind == "IntAtLeast" and value < numbers[0]:
            return f"below {numbers[0]} (IntAtLeast)"
        if kind == "IntAtMost" and value > numbers[0]:
            return f"above {numbers[0]} (IntAtMost)"
        if kind == "IntInSlice" and value not in numbers:
            return f"not one of {numbers} (IntInSlice)"
    return None


def literals(value: Any) -> list[Any]:
    """The literal values an argument can take as written: a literal, list elements, ternary branches."""
    if isinstance(value, list) and not any(isinstance(v, dict) for v in value):
        return [item for v in value for item in literals(v)]
    if isinstance(value, str):
        ternary = TERNARY_RE.match(value)
        if ternary:
            return list(ternary.groups())
        return [] if "${" in value else [value]
    return [value] if isinstance(value, (int, float)) else []


def arguments(body: dict[str, Any], path: str = "") -> Iterator[tuple[str, Any]]:
    """(argument path, value) of a block body, nested blocks and dynamic blocks' content included."""
    for key, value in body.items():
        if key in RESOURCE_META or key == "__is_block__":
            continue
        if key == "dynamic" and isinstance(value, list):
            for dynamic in value:
                for name, spec in dynamic.items():
                    for content in spec.get("content", []) if isinstance(spec, dict) else []:
                        yield from arguments(content, f"{path}{name}.")
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(v, dict) and v.get("__is_block__") for v in value)
        ):
            for nested in value:
                yield from arguments(nested, f"{path}{key}.")
        else:
            yield f"{path}{key}", value


def _line(block: Block, argument: str) -> int:
    lines = block.file.read_text(encoding="utf-8").splitlines()
    name = argument.rsplit(".", 1)[-1]
    for number in range(block.line, len(lines) + 1):
        if re.match(rf"\s*{name}\s*=", lines[number - 1]):
            return number
    return block.line


def validation_literals(variable_body: dict[str, Any], field: str | None) -> list[str]:
    """Literal strings a variable's validation blocks admit through `contains([...], x)`, for
    `field` (`rule.subresource_name`) when given."""
    found: list[str] = []
    for validation in variable_body.get("validation", []):
        for listed, subject in CONTAINS_RE.findall(str(validation.get("condition", ""))):
            if field is None or subject.strip().endswith(f".{field}"):
                found.extend(re.findall(r'"([^"]*)"', listed))
    return found


def _source(data: Validations, block: Block) -> str:
    table = data["resources"] if block.kind == "resource" else data["data_sources"]
    commit = str(data["provider_source"]["commit"])[:12]
    return f"{table[block.type].get('source', 'doc_overrides')} @ {commit}"


def _finding(where: str, what: str, why: str, source: str) -> Finding:
    return Finding(
        CHECK,
        where,
        f"{what}: azurerm refuses it at plan: {why}",
        f"use a value the provider accepts ({source})",
    )


def _variable_findings(
    model: TerraformDir, block: Block, argument: str, value: Any, rule: Rule, root: Path, source: str
) -> list[Finding]:
    """An argument fed by a variable: the variable's validation literals and default must pass."""
    direct, each = VAR_RE.match(str(value)), EACH_RE.match(str(value))
    for_each = FOR_EACH_VAR_RE.match(str(block.body.get("for_each", "")))
    name = direct.group(1) if direct else (for_each.group(1) if each and for_each else None)
    variable = model.variables.get(name) if name else None
    if variable is None:
        return []
    field = each.group(1) if each else None
    candidates = validation_literals(variable.body, field)
    if direct and isinstance(variable.default, str):
        candidates.append(variable.default)
    where = f"{relative(variable.file, root)}:{variable.line}"
    return [
        _finding(where, f"variable {name} admits {c!r} for {block.address}.{argument}", why, source)
        for c in candidates
        if (why := refusal(c, rule))
    ]


def check_block_values(model: TerraformDir, data: Validations, root: Path) -> tuple[list[Finding], int]:
    """Findings for the azurerm blocks of one directory, and how many argument values were judged."""
    findings: list[Finding] = []
    judged = 0
    for block in model.blocks:
        table = data["resources"] if block.kind == "resource" else data["data_sources"]
        rules: dict[str, Rule] = table.get(block.type, {}).get("arguments", {})
        for argument, value in arguments(block.body):
            rule = rules.get(argument)
            if rule is None or rule.get("judged") is False:
                continue
            judged += 1
            where = f"{relative(block.file, root)}:{_line(block, argument)}"
            for literal in literals(value):
                why = refusal(literal, rule)
                if why:
                    findings.append(
                        _finding(
                            where, f"{block.address}.{argument} = {literal!r}", why, _source(data, block)
                        )
                    )
            findings.extend(
                _variable_findings(model, block, argument, value, rule, root, _source(data, block))
            )
    return findings, judged


def fed_arguments(model: TerraformDir, data: Validations) -> dict[str, list[tuple[str | None, Rule, str]]]:
    """variable name -> (object field or None, rule, resource.argument) for each enum argument it feeds."""
    fed: dict[str, list[tuple[str | None, Rule, str]]] = {}
    for block in model.blocks:
        table = data["resources"] if block.kind == "resource" else data["data_sources"]
        rules = table.get(block.type, {}).get("arguments", {})
        for argument, value in arguments(block.body):
            rule = rules.get(argument)
            if rule is None or rule.get("judged") is False:
                continue
            direct, each = VAR_RE.match(str(value)), EACH_RE.match(str(value))
            for_each = FOR_EACH_VAR_RE.match(str(block.body.get("for_each", "")))
            if direct:
                fed.setdefault(direct.group(1), []).append((None, rule, f"{block.address}.{argument}"))
            elif each and for_each:
                fed.setdefault(for_each.group(1), []).append(
                    (each.group(1), rule, f"{block.address}.{argument}")
                )
    return fed


def values_at(value: Any, field: str | None) -> list[Any]:
    """The literals under key `field` anywhere in a module argument (the argument itself if None)."""
    if field is None:
        return literals(value)
    found: list[Any] = []
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(literals(item) if key.strip('"') == field else values_at(item, field))
    elif isinstance(value, list):
        for item in value:
            found.extend(values_at(item, field))
    return found


def check_module_calls(model: TerraformDir, root: Path, data: Validations) -> list[Finding]:
    """Literals a module call passes into variables that feed enum arguments of the called module."""
    findings: list[Finding] = []
    for call in model.module_calls.values():
        target = (model.path / call.source).resolve()
        if not call.source.startswith(".") or not target.is_dir():
            continue
        fed = fed_arguments(read_dir(target), data)
        for name, value in call.arguments.items():
            for field, rule, address in fed.get(name, []):
                for literal in values_at(value, field):
                    why = refusal(literal, rule)
                    if why:
                        into = f"{name}{'.*.' + field if field else ''}"
                        module = relative(target, root)
                        what = f"module.{call.name} passes {literal!r} to {into} -> {module} {address}"
                        findings.append(
                            _finding(
                                f"{relative(call.file, root)}:{call.line}",
                                what,
                                why,
                                "tests/infra/azurerm_validations.json",
                            )
                        )
    return findings


def _passed_on(expression: object, values: Mapping[str, object]) -> object:
    """What a module call argument carries of the caller's tfvars values: a `var.X.a.b` reference
    resolved in `values`, objects and lists element-wise; None for anything else (literals are
    check_module_calls' to judge, other expressions cannot be followed)."""
    if isinstance(expression, str):
        match = REFERENCE_RE.match(expression)
        value = values.get(match.group(1)) if match else None
        for part in match.group(2).split(".")[1:] if match else []:
            value = value.get(part) if isinstance(value, dict) else None
        return value
    if isinstance(expression, dict):
        passed = {key.strip('"'): _passed_on(item, values) for key, item in expression.items()}
        return {key: item for key, item in passed.items() if item is not None} or None
    if isinstance(expression, list):
        return [item for item in (_passed_on(e, values) for e in expression) if item is not None] or None
    return None


def check_tfvars_values(
    directory: Path, values: Mapping[str, object], origins: dict[str, str], data: Validations, root: Path
) -> list[Finding]:
    """The values an env root's tfvars set (`values`: variable -> value as Terraform assigns it, in
    `directory`'s variables), judged where they feed an enum argument of `directory` or, through
    the module calls that pass them on, of the modules below it. `origins`: variable -> where its
    value was set (`envs/dev/terraform.tfvars: aml -> module.stack`)."""
    model = read_dir(directory)
    findings: list[Finding] = []
    for name, uses in fed_arguments(model, data).items():
        for field, rule, address in uses:
            for literal in values_at(values.get(name), field) if name in values else []:
                if literal != SENSITIVE and (why := refusal(literal, rule)):
                    where = origins[name].split(":", 1)[0]
                    what = f"{origins[name]} sets {literal!r} for {relative(directory, root)} {address}"
                    findings.append(_finding(where, what, why, "tests/infra/azurerm_validations.json"))
    for call in model.module_calls.values():
        target = (model.path / call.source).resolve()
        passed = {name: _passed_on(value, values) for name, value in call.arguments.items()}
        passed = {name: value for name, value in passed.items() if value is not None}
        if call.source.startswith(".") and target.is_dir() and passed:
            child_origins = {
                name: f"{origins[source]} -> module.{call.name}"
                for name in passed
                for source in REFERENCED_VAR_RE.findall(str(call.arguments[name]))[:1]
                if source in origins
            }
            findings.extend(check_tfvars_values(target, passed, child_origins, data, root))
    return findings


def check_env_tfvars(directory: Path, data: Validations, root: Path) -> list[Finding]:
    """check_tfvars_values for one env root, when Terraform loads tfvars files there."""
    if not tfvars_files(directory):
        return []
    try:
        assigned = root_values(directory)
    except StackctlError as error:  # Terraform refuses the values outright (a type error)
        return [Finding(CHECK, str(error.where or directory), f"tfvars not judged: {error.what}", error.fix)]
    origins = {name: f"{relative(path, root)}: {name}" for name, path in assigned.sources.items()}
    # one finding per value and argument, though a value may reach it through several map entries
    return list(dict.fromkeys(check_tfvars_values(directory, assigned.values, origins, data, root)))


def coverage(model: TerraformDir, data: Validations, root: Path) -> tuple[list[Finding], dict[str, int]]:
    """What the table cannot judge in one directory: a finding per azurerm block whose type has no
    entry at all (the table was extracted before the type was used: nothing of it is judged), and
    counts of the arguments we set that have no rule (no ValidateFunc beside the argument, or one
    built in a helper function the extractor does not follow) or an unjudged one."""
    findings: list[Finding] = []
    counts = {"arguments_without_rule": 0, "arguments_not_judged": 0}
    for block in model.blocks:
        if not block.type.startswith("azurerm_"):
            continue
        table = data["resources"] if block.kind == "resource" else data["data_sources"]
        if block.type not in table:
            findings.append(
                Finding(
                    CHECK,
                    f"{relative(block.file, root)}:{block.line}",
                    f"{block.address}: {block.kind} type {block.type} has no entry in "
                    "tests/infra/azurerm_validations.json, so none of its values is judged",
                    f"regenerate the table: {REGENERATE}",
                )
            )
            continue
        rules: dict[str, Rule] = table[block.type].get("arguments", {})
        for argument, _ in arguments(block.body):
            rule = rules.get(argument)
            if rule is None:
                counts["arguments_without_rule"] += 1
            elif rule.get("judged") is False:
                counts["arguments_not_judged"] += 1
    return findings, counts


def check_provider_enums(
    root: Path, validations: Path | None = None, *, directories: list[Path] | None = None
) -> CheckReport:
    """Every azurerm argument we set, against the provider's own validation of it."""
    data = load_validations(validations or default_validations_path(root))
    report = CheckReport(CHECK)
    judged = 0
    for directory in directories if directories is not None else terraform_dirs(root):
        model = read_dir(directory)
        found, count = check_block_values(model, data, root)
        report.findings.extend(found)
        report.findings.extend(check_module_calls(model, root, data))
        report.findings.extend(check_env_tfvars(directory, data, root))
        judged += count
        gaps, counts = coverage(model, data, root)
        report.findings.extend(gaps)
        for name, value in counts.items():
            report.figures[name] = int(report.figures.get(name, 0)) + value
    report.figures["arguments_judged"] = judged
    report.figures["provider_source"] = _source_against_pin(data, root)
    return report


def _source_against_pin(data: Validations, root: Path) -> str:
    """The table's provider source, and whether it is older than infra/'s pinned floor: the newest
    snapshot `fetch` brings of hashicorp/terraform-provider-azurerm was v5.2.0-14 on 2026-12-07
    while versions.tf pins >= 5.10.0, so what changed between them is not judged (said, not hidden)."""
    describe = str(data["provider_source"].get("describe", ""))
    pin = ""
    for settings in read_dir(root / "infra").terraform_settings:
        for providers in settings.get("required_providers", []):
            pin = str(providers.get("azurerm", {}).get("version", pin))
    floor = re.search(r">=\s*(\d+)\.(\d+)\.(\d+)", pin)
    have = re.match(r"v(\d+)\.(\d+)\.(\d+)", describe)
    if floor and have and tuple(map(int, have.groups())) < tuple(map(int, floor.groups())):
        return f"{describe}, older than the pin {pin}: changes since are not judged"
    return describe
