"""A Terraform directory read with python-hcl2: its declarations, blocks and references.

Terraform's own loader (see config.py) says whether a directory is valid HCL and valid Terraform;
this model is what the cross-reference and provider-schema checks walk, because those need the
contents (which arguments a block sets, which names an expression refers to).

References come from python-hcl2's syntax tree, not from the text: a `var.x` counts only where
it is an expression (an attribute value, inside `${...}` or `%{...}` of a string), never in a
string's prose, a heredoc's prose, a comment, or an address argument (`from`/`to` of `moved`,
`removed` and `import`, which name objects in the state rather than refer to them). python-hcl2
keeps a heredoc as one token, so references inside a heredoc's `${...}` are not followed here
(Terraform's loader still reads them). When python-hcl2 cannot read a file that Terraform reads
(`terraform fmt` accepts its syntax), the file is reported as unchecked by these checks, naming
its blocks, instead of as a syntax error.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.metadata
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.rules.abstract import LarkElement
from hcl2.rules.base import AttributeRule, BlockRule
from hcl2.rules.expressions import ExprTermRule
from hcl2.rules.indexing import GetAttrExprTermRule, GetAttrRule, IndexExprTermRule
from hcl2.rules.literal_rules import IdentifierRule
from hcl2.walk import walk_semantic

from stackctl.checks.findings import Finding
from stackctl.paths import repo_root
from stackctl.tools import Terraform

# Terraform meta-arguments and blocks that no provider schema lists.
RESOURCE_META = {"count", "for_each", "provider", "depends_on", "lifecycle", "provisioner", "connection"}
MODULE_META = {"source", "version", "count", "for_each", "providers", "depends_on"}

# preserve_heredocs=False: a heredoc's value is its text, as Terraform reads it (AVM-style
# `description = <<DESCRIPTION` included), not the `<<MARKER ... MARKER` token.
_OPTIONS = hcl2.SerializationOptions(
    with_comments=False, strip_string_quotes=True, explicit_blocks=True, preserve_heredocs=False
)
_REFERENCE_ROOTS = {"var", "local", "module"}
# Marks a block body read from JSON syntax, whose nested blocks are plain objects or arrays.
JSON_BODY = "__json__"
# Arguments whose value is an address in the state, not an expression that refers to anything.
_ADDRESS_ARGUMENTS = {"moved": {"from", "to"}, "removed": {"from"}, "import": {"to"}}
_BLOCK_HEADER = re.compile(
    r'^(resource|data|ephemeral|module|output|variable|check)\s+"([^"]+)"(?:\s+"([^"]+)")?', re.M
)


@dataclass(frozen=True)
class Variable:
    name: str
    has_default: bool
    default: Any
    file: Path
    line: int
    body: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class ModuleCall:
    name: str
    source: str
    arguments: dict[str, Any]
    file: Path
    line: int


@dataclass(frozen=True)
class Block:
    """A `resource`, `data` or `ephemeral` block: kind, type, name, and its body as python-hcl2
    gives it."""

    kind: str
    type: str
    name: str
    body: dict[str, Any]
    file: Path
    line: int

    @property
    def address(self) -> str:
        prefix = "" if self.kind == "resource" else f"{self.kind}."
        return f"{prefix}{self.type}.{self.name}"


@dataclass(frozen=True)
class Reference:
    kind: str  # var, local, module
    name: str
    attribute: str | None
    file: Path
    line: int


@dataclass(frozen=True)
class Unchecked:
    """A file the offline checks could not read, with the blocks in it they therefore skipped."""

    file: Path
    blocks: tuple[str, ...]
    reason: str

    def describe(self, shown_as: str) -> str:
        blocks = ", ".join(self.blocks) or "no blocks"
        return f"{shown_as}: not checked: {self.reason}; left unchecked: {blocks}"


@dataclass
class TerraformDir:
    path: Path
    variables: dict[str, Variable] = field(default_factory=dict)
    locals: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    module_calls: dict[str, ModuleCall] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    terraform_settings: list[dict[str, Any]] = field(default_factory=list)
    errors: list[Finding] = field(default_factory=list)
    unchecked: list[Unchecked] = field(default_factory=list)


def _line_of(text: str, pattern: str) -> int:
    match = re.search(pattern, text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def strip_comments(text: str) -> str:
    """Blank out comments (keeping line numbers); used by checks that scan text for a pattern."""
    out = []
    for line in text.splitlines():
        in_string = False
        cut = len(line)
        i = 0
        while i < len(line):
            ch = line[i]
            if ch == '"' and (i == 0 or line[i - 1] != "\\"):
                in_string = not in_string
            elif not in_string and (ch == "#" or line.startswith("//", i)):
                cut = i
                break
            i += 1
        out.append(line[:cut])
    return "\n".join(out)


def _name(node: LarkElement | None) -> str | None:
    return str(node.serialize()) if isinstance(node, IdentifierRule) else None


def _parent(node: LarkElement) -> LarkElement | None:
    parent: LarkElement | None = getattr(node, "_parent", None)
    return parent


def _in_address_argument(node: LarkElement) -> bool:
    attribute: str | None = None
    current = _parent(node)
    while current is not None:
        if isinstance(current, AttributeRule) and attribute is None:
            attribute = _name(current.children[0])
        if isinstance(current, BlockRule):
            block = _name(current.children[0])
            return attribute in _ADDRESS_ARGUMENTS.get(block or "", set())
        current = _parent(current)
    return False


def _traversal(root: IdentifierRule) -> list[str]:
    """The names after a root identifier: `module.m[0].out` -> ["m", "[]", "out"]."""
    steps: list[str] = []
    current = _parent(root)  # the ExprTermRule holding the root
    while current is not None:
        parent = _parent(current)
        if isinstance(parent, GetAttrExprTermRule) and parent.children[0] is current:
            attribute = next((c for c in parent.children if isinstance(c, GetAttrRule)), None)
            step = _name(attribute.children[1]) if attribute is not None else None
            if step is None:
                break
            steps.append(step)
        elif isinstance(parent, IndexExprTermRule) and parent.children[0] is current:
            steps.append("[]")
        else:
            break
        current = _parent(parent)
        if isinstance(current, ExprTermRule):
            continue
        break
    return steps


def references(tree: LarkElement, tf_file: Path) -> list[Reference]:
    """Every var.X, local.X and module.X.Y that is an expression in a parsed file."""
    found: list[Reference] = []
    for node in walk_semantic(tree):
        if not isinstance(node, IdentifierRule) or not isinstance(_parent(node), ExprTermRule):
            continue
        root = _name(node)
        if root not in _REFERENCE_ROOTS or _in_address_argument(node):
            continue
        steps = [s for s in _traversal(node)]
        if not steps or steps[0] == "[]":
            continue
        line = int(getattr(node._meta, "line", 1) or 1)
        attribute = next((s for s in steps[1:] if s != "[]"), None) if root == "module" else None
        found.append(Reference(root, steps[0], attribute, tf_file, line))
    return found


def terraform_reads_syntax(tf_file: Path) -> bool:
    """Whether Terraform's own parser accepts the file's syntax (`terraform fmt -check`: 0 when
    formatted, 3 when it would reformat; a syntax error is anything else)."""
    result = Terraform().run(["fmt", "-check", "-list=false", "-no-color", tf_file.name], tf_file.parent)
    return result.returncode in (0, 3)


def block_headers(text: str) -> list[str]:
    """The addresses of a file's top-level blocks, read from their header lines (`terraform fmt`
    puts each at the start of a line), for naming what a check left unchecked."""
    names = []
    for kind, first, second in _BLOCK_HEADER.findall(text):
        if kind in ("resource", "data", "ephemeral"):
            prefix = "" if kind == "resource" else f"{kind}."
            names.append(f"{prefix}{first}.{second}")
        else:
            names.append(f"{kind}.{first}")
    return names


def configuration_files(path: Path) -> tuple[list[Path], list[Path]]:
    """The files Terraform loads from one directory: (primary, override), each in lexical order.

    Terraform reads `*.tf` and `*.tf.json`; `override.tf[.json]` and `*_override.tf[.json]` are
    override files, merged into the primary blocks after them
    (https://developer.hashicorp.com/terraform/language/files and .../files/override)."""
    files = sorted([*path.glob("*.tf"), *path.glob("*.tf.json")], key=lambda p: p.name)
    overrides = [p for p in files if _is_override(p.name)]
    return [p for p in files if p not in overrides], overrides


def _is_override(name: str) -> bool:
    stem = name.removesuffix(".json").removesuffix(".tf")
    return stem == "override" or stem.endswith("_override")


# The parse of a file, and whatever a check derives from its text alone (evaluation's stand-in,
# tfvars' variable blocks), is cached by its content (sha256 of the text), so a copy of the tree,
# an edited-and-restored file or a second check reads it without parsing again: one cache for
# every check (`cached_by_content`). The key also holds python-hcl2's version and the producing
# module's own source, so a change of either derives afresh. Entries live in memory and, shared by
# processes (pytest-xdist workers, successive `validate` runs), as JSON under build/cache/hcl/
# (STACKCTL_CACHE_DIR moves it; written atomically).
CACHE_DIR_ENV = "STACKCTL_CACHE_DIR"
_PARSED: dict[str, str] = {}
_CODE_KEYS: dict[str, str] = {}


@dataclass(frozen=True)
class ParsedFile:
    """One .tf file as python-hcl2 reads it: its serialized body and its references (kind, name,
    attribute, line), or the parser's first error line when python-hcl2 cannot read it."""

    data: dict[str, Any]
    references: list[tuple[str, str, str | None, int]]
    error: str | None = None


def _code_key(code: str) -> str:
    """python-hcl2's version and the sha256 of the module (a source file path) that derives."""
    if code not in _CODE_KEYS:
        own = hashlib.sha256(Path(code).read_bytes()).hexdigest()
        _CODE_KEYS[code] = f"{importlib.metadata.version('python-hcl2')}:{own}"
    return _CODE_KEYS[code]


def _cache_dir() -> Path:
    override = os.environ.get(CACHE_DIR_ENV)
    return Path(override) / "hcl" if override else repo_root() / "build" / "cache" / "hcl"


def cached_by_content(kind: str, text: str, produce: Callable[[str], object], *, code: str) -> Any:
    """`produce(text)`, a JSON value, from the content-keyed cache when this `kind` of product of
    this text was made before by the same `code` (the producing module's `__file__`).

    `kind` names the product and whatever else it depends on (`"stand-in:main.tf"`). Returns a
    fresh copy on every call (callers may keep or change it)."""
    key = hashlib.sha256(f"{kind}\n{_code_key(code)}\n{text}".encode()).hexdigest()
    stored = _PARSED.get(key)
    if stored is None:
        stored = _read_cached(key)
    if stored is None:
        stored = json.dumps(produce(text))
        _write_cached(key, stored)
    _PARSED[key] = stored
    return json.loads(stored)


def _parse_text(text: str, tf_file: Path) -> ParsedFile:
    try:
        tree = hcl2.parses(text)
        data = hcl2.serialize(tree, serialization_options=_OPTIONS)
    except Exception as exc:  # python-hcl2 raises several lark exception types
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return ParsedFile({}, [], first_line)
    found = [(r.kind, r.name, r.attribute, r.line) for r in references(tree, tf_file)]
    return ParsedFile(data, found)


def parse_file(tf_file: Path, text: str | None = None) -> ParsedFile:
    """The parse of one .tf file, from the content-keyed cache when that text was parsed before.

    Returns fresh objects on every call (callers may keep or change them)."""
    text = tf_file.read_text(encoding="utf-8") if text is None else text

    def produce(source: str) -> list[object]:
        parsed = _parse_text(source, tf_file)
        return [parsed.data, parsed.references, parsed.error]

    data, found, error = cached_by_content("parse", text, produce, code=__file__)
    return ParsedFile(data, [(k, n, a, line) for k, n, a, line in found], error)


def _read_cached(key: str) -> str | None:
    try:
        return (_cache_dir() / key[:2] / f"{key}.json").read_text(encoding="utf-8")
    except OSError:
        return None


def _write_cached(key: str, stored: str) -> None:
    """Best effort: a read-only checkout only loses the shared cache, never the check."""
    folder = _cache_dir() / key[:2]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(
            "w", dir=folder, delete=False, suffix=".tmp", encoding="utf-8"
        ) as out:
            out.write(stored)
        os.replace(out.name, folder / f"{key}.json")
    except OSError:
        return


def read_dir(path: Path) -> TerraformDir:
    """Parse every .tf and .tf.json file of one directory (not its subdirectories, as Terraform does).

    Each HCL file's parse comes from the content-keyed cache (`parse_file`), so every check, and
    every copy of the tree a test makes, parses a given text once. Returns a fresh model each call."""
    return _parse_dir(path)


def _parse_dir(path: Path) -> TerraformDir:
    model = TerraformDir(path=path)
    primary, overrides = configuration_files(path)
    for tf_file in primary:
        _parse_file(model, tf_file)
    if overrides:
        override = TerraformDir(path=path)
        for tf_file in overrides:
            _parse_file(override, tf_file)
        merge_overrides(model, override)
    return model


def _parse_file(model: TerraformDir, tf_file: Path) -> None:
    text = tf_file.read_text(encoding="utf-8")
    if tf_file.name.endswith(".json"):
        _parse_json_file(model, tf_file, text)
        return
    parsed = parse_file(tf_file, text)
    if parsed.error is not None:
        if terraform_reads_syntax(tf_file):
            model.unchecked.append(
                Unchecked(
                    tf_file,
                    tuple(block_headers(text)),
                    f"python-hcl2 cannot read it ({parsed.error[:120]}), though Terraform does",
                )
            )
        else:
            model.errors.append(
                Finding("hcl", str(tf_file), f"cannot parse HCL: {parsed.error}", "fix the syntax")
            )
        return
    _collect(model, parsed.data, tf_file, text)
    model.references.extend(Reference(k, n, a, tf_file, line) for k, n, a, line in parsed.references)


def _parse_json_file(model: TerraformDir, tf_file: Path, text: str) -> None:
    """A `.tf.json` file (https://developer.hashicorp.com/terraform/language/syntax/json) in the
    same shape python-hcl2 gives an HCL file; its nested block bodies are marked JSON_BODY, since
    JSON syntax cannot tell a nested block from an object argument without the schema."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        model.errors.append(
            Finding("hcl", f"{tf_file}:{exc.lineno}", f"cannot parse JSON: {exc.msg}", "fix the syntax")
        )
        return
    if not isinstance(document, dict):
        model.errors.append(Finding("hcl", str(tf_file), "a .tf.json file holds one JSON object", None))
        return
    data: dict[str, Any] = {}
    for kind in ("resource", "data", "ephemeral"):
        typed = document.get(kind) or {}
        data[kind] = [{t: {n: _json_body(b) for n, b in named.items()}} for t, named in typed.items()]
    for kind in ("variable", "output", "module"):
        data[kind] = [{name: _json_body(body)} for name, body in (document.get(kind) or {}).items()]
    data["locals"] = [dict(document.get("locals") or {})]
    terraform = document.get("terraform") or []
    data["terraform"] = terraform if isinstance(terraform, list) else [terraform]
    first_new = len(model.blocks)
    _collect(model, data, tf_file, text)
    model.blocks[first_new:] = [
        dataclasses.replace(b, line=_line_of(text, rf'^\s*"{re.escape(b.name)}"\s*:'))
        for b in model.blocks[first_new:]
    ]
    model.references.extend(_json_references(document, tf_file, text))


def _json_body(body: Any) -> dict[str, Any]:
    return {**body, JSON_BODY: True} if isinstance(body, dict) else {JSON_BODY: True}


def _json_references(document: Any, tf_file: Path, text: str) -> list[Reference]:
    """References in a JSON file's string templates, read by python-hcl2 as HCL templates."""
    found: list[Reference] = []
    for value in _strings(document):
        if "${" not in value and "%{" not in value:
            continue
        try:
            tree = hcl2.parses(f"x = {json.dumps(value)}\n")
        except Exception:  # noqa: S112  # Terraform's loader reports a template it cannot parse
            continue
        line = _line_of(text, re.escape(json.dumps(value)[1:-1][:60]))
        found.extend(Reference(r.kind, r.name, r.attribute, tf_file, line) for r in references(tree, tf_file))
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() if key != "//" for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def merge_overrides(model: TerraformDir, override: TerraformDir) -> None:
    """Merge override files' blocks into the primary ones as Terraform does
    (https://developer.hashicorp.com/terraform/language/files/override#merging-behavior): each
    argument of an override block replaces the original's; a nested block type in the override
    replaces every nested block of that type in the original (`lifecycle` merges per argument);
    locals replace per name. An override block with no original is Terraform's error."""
    originals = {(b.kind, b.type, b.name): index for index, b in enumerate(model.blocks)}
    for block in override.blocks:
        index = originals.get((block.kind, block.type, block.name))
        if index is None:
            model.errors.append(
                Finding(
                    "config",
                    f"{block.file}:{block.line}",
                    f"override of {block.address}, which no primary file declares (Terraform: Missing "
                    "base block for override)",
                    "declare the block in a primary file, or remove the override",
                )
            )
            continue
        base = model.blocks[index]
        body = _merge_body(base.body, block.body)
        model.blocks[index] = Block(base.kind, base.type, base.name, body, base.file, base.line)
    for name, variable in override.variables.items():
        base_variable = model.variables.get(name)
        merged = {**(base_variable.body if base_variable else {}), **variable.body}
        model.variables[name] = Variable(
            name, "default" in merged, merged.get("default"), variable.file, variable.line, merged
        )
    model.locals.update(override.locals)
    model.outputs.update(override.outputs)
    for name, call in override.module_calls.items():
        base_call = model.module_calls.get(name)
        arguments = {**(base_call.arguments if base_call else {}), **call.arguments}
        source = str(arguments.get("source", call.source))
        model.module_calls[name] = ModuleCall(name, source, arguments, call.file, call.line)
    model.references.extend(override.references)
    model.terraform_settings.extend(override.terraform_settings)
    model.errors.extend(override.errors)
    model.unchecked.extend(override.unchecked)


def _merge_body(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key == "lifecycle" and isinstance(value, list) and isinstance(base.get(key), list) and base[key]:
            merged[key] = [{**base[key][0], **(value[0] if value else {})}]
        else:
            merged[key] = value
    return merged


def _collect(model: TerraformDir, data: dict[str, Any], tf_file: Path, text: str) -> None:
    for entry in data.get("variable", []):
        for name, body in entry.items():
            line = _line_of(text, rf'^variable\s+"{re.escape(name)}"')
            model.variables[name] = Variable(
                name, "default" in body, body.get("default"), tf_file, line, body
            )
    for entry in data.get("locals", []):
        model.locals.update({k: v for k, v in entry.items() if k != "__is_block__"})
    for entry in data.get("output", []):
        model.outputs.update({k: v for k, v in entry.items()})
    for entry in data.get("module", []):
        for name, body in entry.items():
            line = _line_of(text, rf'^module\s+"{re.escape(name)}"')
            args = {k: v for k, v in body.items() if k != "__is_block__"}
            model.module_calls[name] = ModuleCall(name, str(body.get("source", "")), args, tf_file, line)
    for kind in ("resource", "data", "ephemeral"):
        for entry in data.get(kind, []):
            for type_name, named in entry.items():
                for name, body in named.items():
                    if name == "__is_block__":
                        continue
                    line = _line_of(text, rf'^{kind}\s+"{re.escape(type_name)}"\s+"{re.escape(name)}"')
                    model.blocks.append(Block(kind, type_name, name, body, tf_file, line))
    model.blocks.extend(_scoped_data_blocks(data, tf_file, text))
    model.terraform_settings.extend(data.get("terraform", []))


def _scoped_data_blocks(data: dict[str, Any], tf_file: Path, text: str) -> list[Block]:
    """The `data` blocks nested in `check` blocks (Terraform >= 1.5 scoped data sources): a data
    source like any other, judged against the same schema
    (https://developer.hashicorp.com/terraform/language/checks#scoped-data-sources)."""
    found: list[Block] = []
    for entry in data.get("check", []):
        for check_body in entry.values():
            if not isinstance(check_body, dict):
                continue
            for scoped in check_body.get("data", []):
                for type_name, named in scoped.items():
                    if type_name == "__is_block__" or not isinstance(named, dict):
                        continue
                    for name, body in named.items():
                        if name == "__is_block__":
                            continue
                        line = _line_of(text, rf'^\s*data\s+"{re.escape(type_name)}"\s+"{re.escape(name)}"')
                        found.append(Block("data", type_name, name, body, tf_file, line))
    return found
