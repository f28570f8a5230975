"""A root's variable values as Terraform itself assigns them, from every file it loads.

Terraform loads, in this order, each later file winning for the variables it sets:
`terraform.tfvars`, `terraform.tfvars.json`, then every `*.auto.tfvars` and `*.auto.tfvars.json`
in lexical order of their names
(https://developer.hashicorp.com/terraform/language/values/variables#variable-definition-precedence).
Which value wins, how a value converts to its declared type and which optional attributes get
their defaults are Terraform's rules, so Terraform applies them: a provider-free stand-in of the
root (its `variable` blocks, one `output` per variable set, the tfvars files) is applied into a
scratch state, and the state's outputs are the values. Nothing reaches Azure, nothing is written
to the tree. A value the root declares `sensitive` stays masked as SENSITIVE.

python-hcl2 (and `json`) only list which names each file sets, to say which file a value came from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hcl2
from hcl2.rules.base import AttributeRule, BlockRule, BodyRule

from stackctl.checks.evaluation import source_text
from stackctl.checks.hclmodel import cached_by_content
from stackctl.errors import StackctlError
from stackctl.tools import Terraform

SENSITIVE = "(sensitive value)"
_OPTIONS = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)


def tfvars_files(env_root: Path) -> list[Path]:
    """The variable files Terraform loads from a root, in the order it loads them."""
    first = [env_root / "terraform.tfvars", env_root / "terraform.tfvars.json"]
    auto = sorted(
        [*env_root.glob("*.auto.tfvars"), *env_root.glob("*.auto.tfvars.json")], key=lambda p: p.name
    )
    return [p for p in first if p.is_file()] + auto


@dataclass(frozen=True)
class RootValues:
    """Every variable a root's tfvars files set: its value as Terraform assigns it, and the file
    whose value won (the last one loaded that sets it)."""

    root: Path
    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    files: tuple[Path, ...] = ()
    problems: tuple[str, ...] = ()  # values Terraform's `validation` rules refuse, its messages


def read_file(path: Path) -> dict[str, Any]:
    """What one tfvars file sets (HCL or JSON syntax), as python-hcl2 or json read it: used for
    the names and, for a variable the root does not declare (Terraform ignores it, warning), the
    value shown."""
    try:
        if path.name.endswith(".json"):
            document = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(document, dict):
                raise ValueError("the top level is not a JSON object")
            return document
        with path.open(encoding="utf-8") as handle:
            return dict(hcl2.load(handle, serialization_options=_OPTIONS))
    except Exception as exc:  # python-hcl2 raises lark errors of several kinds
        raise StackctlError(
            f"cannot read {path.name}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}",
            where=str(path),
            fix="fix the syntax (`terraform fmt` shows it); Terraform loads this file",
        ) from exc


# Terraform's answer for a root, kept for this process by the content of everything it read (the
# root's .tf and tfvars files): prod-policy and parity both need prod's values, and one
# `stackctl validate` asked Terraform three times for two roots (about 1 s of Terraform each).
_ANSWERS: dict[str, RootValues] = {}


def _content_key(env_root: Path, terraform: Terraform) -> str:
    digest = hashlib.sha256(f"{env_root.resolve()}\0{terraform.source}".encode())
    for file in [*sorted(env_root.glob("*.tf")), *tfvars_files(env_root)]:
        digest.update(f"\0{file.name}\0".encode() + file.read_bytes())
    return digest.hexdigest()


def root_values(env_root: Path, terraform: Terraform | None = None) -> RootValues:
    """The values Terraform assigns from `env_root`'s tfvars files (see the module docstring).

    A value that fails its variable's `validation` rule is Terraform's own finding: it is kept in
    `problems` (Terraform's message) and the values are assigned without the rules, so the other
    checks still judge them. Raises StackctlError naming the root and Terraform's message when
    Terraform refuses the values otherwise (a type error) or cannot run. Answers are reused while
    the files they were read from have the same content (`_ANSWERS`).
    """
    tf = terraform or Terraform()
    key = _content_key(env_root, tf)
    if key not in _ANSWERS:
        _ANSWERS[key] = _root_values(env_root, tf)
    known = _ANSWERS[key]
    return dataclasses.replace(known, values=dict(known.values), sources=dict(known.sources))


def _root_values(env_root: Path, tf: Terraform) -> RootValues:
    files = tfvars_files(env_root)
    if not files:
        raise StackctlError(
            f"tfvars file not found in {env_root} (Terraform loads terraform.tfvars, "
            "terraform.tfvars.json and *.auto.tfvars[.json] there)",
            where=str(env_root),
            fix="every env root needs a terraform.tfvars",
        )
    sources: dict[str, Path] = {}
    as_read: dict[str, Any] = {}
    for file in files:
        read = read_file(file)
        sources.update(dict.fromkeys(read, file))
        as_read.update(read)
    problems: list[str] = []
    outputs, failure = _apply(tf, env_root, files, sorted(sources), with_rules=True)
    if outputs is None:
        problems = _validation_errors(failure)
        if problems:
            outputs, failure = _apply(tf, env_root, files, sorted(sources), with_rules=False)
    if outputs is None:
        raise StackctlError(
            f"Terraform refuses the variable values of {env_root.name}: {' '.join(failure.split())[:600]}",
            where=str(env_root),
            fix="fix the value in the tfvars file Terraform names",
        )
    values = {
        name: as_read[name]
        if name not in outputs
        else SENSITIVE
        if outputs[name].get("sensitive")
        else outputs[name].get("value")
        for name in sorted(sources)
    }
    return RootValues(env_root, values, sources, tuple(files), tuple(problems))


def _validation_errors(output: str) -> list[str]:
    """Terraform's `Invalid value for variable` errors, one line each, from its plain output."""
    blocks = output.split("Error: ")[1:]
    return [" ".join(b.split()) for b in blocks if b.startswith("Invalid value for variable")]


def _apply(
    tf: Terraform, env_root: Path, files: list[Path], names: list[str], *, with_rules: bool
) -> tuple[dict[str, Any] | None, str]:
    """Apply the stand-in into a scratch state: its outputs, or None and Terraform's output."""
    with tempfile.TemporaryDirectory(prefix="stackctl-tfvars-") as scratch:
        work = Path(scratch)
        _write_stand_in(env_root, work, files, names, with_rules=with_rules)
        state = work / "values.tfstate"
        result = tf.run(
            ["apply", "-auto-approve", "-input=false", "-lock=false", "-no-color", f"-state={state}"], work
        )
        if not result.ok or not state.is_file():
            return None, result.stderr + result.stdout
        outputs: dict[str, Any] = json.loads(state.read_text(encoding="utf-8")).get("outputs", {})
        return outputs, ""


def _variable_blocks(text: str, with_rules: bool) -> tuple[str, dict[str, bool]]:
    """A file's variable blocks (without their `validation` blocks unless `with_rules`), and
    whether each is declared sensitive; from the checks' content-keyed cache (dev and prod share
    their variables.tf). Raises what python-hcl2 raises on a file it cannot read."""
    kind = f"variable-blocks:{with_rules}"
    blocks, declared = cached_by_content(
        kind, text, lambda source: _read_variable_blocks(source, with_rules), code=__file__
    )
    return blocks, declared


def _read_variable_blocks(text: str, with_rules: bool) -> tuple[str, dict[str, bool]]:
    tree = hcl2.parses(text)
    lines = text.splitlines()
    out: list[str] = []
    declared: dict[str, bool] = {}
    for node in getattr(tree.children[0], "children", []):
        if not isinstance(node, BlockRule) or str(node.children[0].serialize()) != "variable":
            continue
        name = str(node.children[1].serialize()).strip('"')
        body = next(c for c in node.children if isinstance(c, BodyRule))
        attributes = {
            str(a.children[0].serialize()): source_text(a.children[-1], lines)
            for a in body.children
            if isinstance(a, AttributeRule)
        }
        declared[name] = attributes.get("sensitive", "").strip() == "true"
        if with_rules:
            first, last = int(node._meta.line), int(node._meta.end_line)
            out.append("\n".join(lines[first - 1 : last]))
        else:
            out.append(
                "\n".join([f'variable "{name}" {{', *(f"  {k} = {v}" for k, v in attributes.items()), "}"])
            )
    return "\n".join(out) + "\n", declared


def _write_stand_in(
    env_root: Path, work: Path, files: list[Path], names: list[str], *, with_rules: bool
) -> None:
    """The root's variable blocks, one output per set variable, and its tfvars files."""
    declared: dict[str, bool] = {}  # name -> declared sensitive
    for tf_file in sorted(env_root.glob("*.tf")):
        try:
            text, found = _variable_blocks(tf_file.read_text(encoding="utf-8"), with_rules)
        except Exception:  # noqa: S112  # python-hcl2 cannot read it: hclmodel names the file
            continue
        (work / tf_file.name).write_text(text, encoding="utf-8")
        declared.update(found)
    outputs = "".join(
        f'output "{name}" {{\n  value     = var.{name}\n  sensitive = {str(declared[name]).lower()}\n}}\n'
        for name in names
        if name in declared
    )
    (work / "zz_stackctl_values.tf").write_text(outputs, encoding="utf-8")
    for file in files:
        shutil.copy(file, work / file.name)
