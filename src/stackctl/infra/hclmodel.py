"""A Terraform directory read with python-hcl2: its declarations, blocks and references.

Terraform's own loader (see config.py) says whether a directory is valid HCL and valid Terraform;
this model is what the cross-reference and provider-schema checks walk, because those need the
contents (which arguments a block sets, which names an expression refers to).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2

from stackctl.infra.findings import Finding

# Terraform meta-arguments and blocks that no provider schema lists.
RESOURCE_META = {"count", "for_each", "provider", "depends_on", "lifecycle", "provisioner", "connection"}
MODULE_META = {"source", "version", "count", "for_each", "providers", "depends_on"}

_OPTIONS = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True, explicit_blocks=True)
_VAR_REF = re.compile(r"(?<![\w.])var\.([A-Za-z_][\w-]*)")
_LOCAL_REF = re.compile(r"(?<![\w.])local\.([A-Za-z_][\w-]*)")
_MODULE_REF = re.compile(r"(?<![\w.])module\.([A-Za-z_][\w-]*)(?:\[[^\]]*\])?\.([A-Za-z_][\w-]*)")


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
    """A `resource` or `data` block: kind, type, name, and its body as python-hcl2 gives it."""

    kind: str
    type: str
    name: str
    body: dict[str, Any]
    file: Path
    line: int

    @property
    def address(self) -> str:
        prefix = "data." if self.kind == "data" else ""
        return f"{prefix}{self.type}.{self.name}"


@dataclass(frozen=True)
class Reference:
    kind: str  # var, local, module
    name: str
    attribute: str | None
    file: Path
    line: int


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


def _line_of(text: str, pattern: str) -> int:
    match = re.search(pattern, text, re.MULTILINE)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def strip_comments(text: str) -> str:
    """Blank out comments (keeping line numbers) so a `var.x` in prose is not a reference."""
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


def _description_free(text: str) -> str:
    """Blank description and error_message strings: they are prose about references. Blank the
    `to`/`from` of import and moved blocks too: they are resource addresses, not references."""
    text = re.sub(r'^(\s*(?:description|error_message)\s*=\s*)".*"\s*$', r"\1", text, flags=re.MULTILINE)
    return re.sub(r"^(\s*(?:to|from)\s*=\s*)module\.[\w.\[\]\"-]+\s*$", r"\1", text, flags=re.MULTILINE)


def _fingerprint(path: Path) -> tuple[tuple[str, int, int], ...]:
    return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(path.glob("*.tf")))


_CACHE: dict[Path, tuple[tuple[tuple[str, int, int], ...], TerraformDir]] = {}


def read_dir(path: Path) -> TerraformDir:
    """Parse every .tf file of one directory (not its subdirectories, as Terraform does).

    Several checks read the same directories; parsing is the slow part, so a parse is reused until
    a file in the directory changes (name, size or modification time). Callers must not mutate it.
    """
    key = path.resolve()
    fingerprint = _fingerprint(path)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == fingerprint:
        return cached[1]
    model = _parse_dir(path)
    _CACHE[key] = (fingerprint, model)
    return model


def _parse_dir(path: Path) -> TerraformDir:
    model = TerraformDir(path=path)
    for tf_file in sorted(path.glob("*.tf")):
        text = tf_file.read_text(encoding="utf-8")
        try:
            data = hcl2.loads(text, serialization_options=_OPTIONS)
        except Exception as exc:  # python-hcl2 raises several lark exception types
            model.errors.append(
                Finding(
                    "hcl", str(tf_file), f"cannot parse HCL: {str(exc).splitlines()[0]}", "fix the syntax"
                )
            )
            continue
        _collect(model, data, tf_file, text)
        scan = _description_free(strip_comments(text))
        for number, line in enumerate(scan.splitlines(), start=1):
            for match in _VAR_REF.finditer(line):
                model.references.append(Reference("var", match.group(1), None, tf_file, number))
            for match in _LOCAL_REF.finditer(line):
                model.references.append(Reference("local", match.group(1), None, tf_file, number))
            for match in _MODULE_REF.finditer(line):
                model.references.append(Reference("module", match.group(1), match.group(2), tf_file, number))
    return model


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
    for kind in ("resource", "data"):
        for entry in data.get(kind, []):
            for type_name, named in entry.items():
                for name, body in named.items():
                    if name == "__is_block__":
                        continue
                    line = _line_of(text, rf'^{kind}\s+"{re.escape(type_name)}"\s+"{re.escape(name)}"')
                    model.blocks.append(Block(kind, type_name, name, body, tf_file, line))
    model.terraform_settings.extend(data.get("terraform", []))
