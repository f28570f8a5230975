"""Let Terraform evaluate what it can offline: a provider-free stand-in of each directory.

`terraform validate` type-checks every expression and calls every function whose arguments are
known (with unknown input variables, as for any module), but it needs the providers installed,
which the azurerm provider cannot be here. The stand-in is a scratch copy of a directory with
the blocks that need a provider blanked out (`resource`, `data`, `ephemeral`, `module`,
`provider`, `terraform`, `check`, `import`, `moved`, `removed`), keeping `variable`, `locals`
and `output` blocks on their own lines, so Terraform's diagnostics point at the real file and
line. Terraform itself then decides, by its own rules rather than ours:

- conditional result types (`cond ? { lock = "CanNotDelete" } : {}` unifies to map(string),
  `cond ? { a = "x", b = [1] } : {}` does not),
- functions on files (`templatefile`/`file` of a path that does not exist),
- references anywhere Terraform evaluates them, heredoc lines that start with `#` included
  (a heredoc has no comments: https://developer.hashicorp.com/terraform/language/expressions/strings#heredoc-strings).

Diagnostics about references to the blanked-out blocks (`Reference to undeclared resource`,
`... module`) are the stand-in's own and are dropped. Top-level blocks are located with
python-hcl2's parse positions (a file it cannot read is listed as unchecked by hclmodel);
`.tf.json` files keep their `variable`, `locals` and `output` keys. Override files
(`*_override.tf`) go into the stand-in too, so Terraform merges them as it does for the real
directory (https://developer.hashicorp.com/terraform/language/files/override).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import hcl2
from hcl2.rules.abstract import LarkElement
from hcl2.rules.base import AttributeRule, BlockRule, BodyRule

from stackctl.checks.findings import Finding, relative
from stackctl.checks.hclmodel import cached_by_content
from stackctl.tools import Terraform

CHECK = "config"
KEPT_BLOCKS = frozenset({"variable", "locals", "output"})
# Diagnostics that only say a blanked-out block is missing from the stand-in.
STAND_IN_SUMMARIES = (
    "Reference to undeclared resource",
    "Reference to undeclared module",
    "Reference to undeclared check block",
    "Reference to undeclared ephemeral resource",
    # A resource argument evaluated as a local: its per-instance symbols have no value there.
    'Reference to "count" in non-counted context',
    'Reference to "each" in context without for_each',
    "each.value cannot be used in this context",
    "each.key cannot be used in this context",
    # Provider-defined functions need the provider, which the stand-in does not install.
    "Unknown provider function",
    'Invalid "self" reference',
)
# Blocks whose argument expressions are evaluated as locals of the stand-in.
EXPRESSION_BLOCKS = frozenset({"resource", "data", "ephemeral", "module", "check"})
# Nested blocks and arguments that hold addresses or symbols of their own, not plain expressions.
SKIPPED_NESTED = frozenset({"dynamic", "lifecycle", "provisioner", "connection"})
SKIPPED_ARGUMENTS = frozenset({"depends_on", "provider", "providers", "source", "version"})
STAND_IN_FILE = "zz_stackctl_stand_in_expressions.tf"


@dataclass(frozen=True)
class Expression:
    """An argument's expression taken out of a blanked block: its source text and where it is."""

    text: str
    file: str
    line: int


def _expressions(block: BlockRule, lines: list[str], file: str) -> list[Expression]:
    """The argument expressions of a block and its nested blocks, outside SKIPPED_NESTED."""
    found: list[Expression] = []
    body = next((c for c in block.children if isinstance(c, BodyRule)), None)
    for node in getattr(body, "children", []):
        if isinstance(node, BlockRule):
            if str(node.children[0].serialize()) not in SKIPPED_NESTED:
                found.extend(_expressions(node, lines, file))
        elif isinstance(node, AttributeRule) and str(node.children[0].serialize()) not in SKIPPED_ARGUMENTS:
            found.append(Expression(source_text(node.children[-1], lines), file, int(node._meta.line)))
    return found


def source_text(node: LarkElement, lines: list[str]) -> str:
    meta = node._meta  # type: ignore[attr-defined]  # lark positions from python-hcl2's parser
    first, last = int(meta.line), int(meta.end_line)
    if first == last:
        return lines[first - 1][meta.column - 1 : meta.end_column - 1]
    middle = lines[first : last - 1]
    return "\n".join([lines[first - 1][meta.column - 1 :], *middle, lines[last - 1][: meta.end_column - 1]])


def stand_in_text(
    text: str, file: str = "", keep: frozenset[str] = KEPT_BLOCKS
) -> tuple[str, list[Expression]] | None:
    """The file's text with every top-level block but `variable`, `locals` and `output` blanked
    (line numbers kept), and the argument expressions of the blanked resource, data, module and
    check blocks; None when python-hcl2 cannot read it. From the checks' content-keyed cache
    (hclmodel.cached_by_content) when this text was read before."""
    kind = f"stand-in:{file}:{','.join(sorted(keep))}"
    stored = cached_by_content(kind, text, lambda source: _stand_in(source, file, keep), code=__file__)
    if stored is None:
        return None
    kept, expressions = stored
    return kept, [Expression(*expression) for expression in expressions]


def _stand_in(text: str, file: str, keep: frozenset[str]) -> list[object] | None:
    """stand_in_text's answer as a JSON value: [kept text, [[text, file, line], ...]], or None."""
    try:
        tree = hcl2.parses(text)
    except Exception:  # python-hcl2 raises several lark exception types
        return None
    lines = text.splitlines()
    kept_lines = [False] * len(lines)
    expressions: list[Expression] = []
    body = tree.children[0] if tree.children else None
    for node in getattr(body, "children", []):
        if not isinstance(node, BlockRule):
            continue
        kind = str(node.children[0].serialize())
        first, last = int(node._meta.line), int(node._meta.end_line)
        if kind in keep:
            kept_lines[first - 1 : last] = [True] * (last - first + 1)
        elif kind in EXPRESSION_BLOCKS:
            expressions.extend(_expressions(node, lines, file))
    kept = "\n".join(line if k else "" for line, k in zip(lines, kept_lines, strict=True)) + "\n"
    return [kept, [[e.text, e.file, e.line] for e in expressions]]


def expressions_file(expressions: list[Expression]) -> tuple[str, list[tuple[int, Expression]]]:
    """One `locals` block holding every expression, and the stand-in line where each starts."""
    text = "locals {\n"
    starts: list[tuple[int, Expression]] = []
    for index, expression in enumerate(expressions):
        starts.append((text.count("\n") + 1, expression))
        # A heredoc's source ends with its marker line's newline; anything else needs one.
        text += f"  stackctl_expression_{index} = {expression.text}"
        text += "" if text.endswith("\n") else "\n"
    return text + "}\n", starts


def stand_in_json(text: str) -> str | None:
    """A `.tf.json` file's `variable`, `locals` and `output` keys; None when it is not JSON."""
    try:
        document = json.loads(text)
    except json.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    return json.dumps({k: v for k, v in document.items() if k in KEPT_BLOCKS}, indent=2)


def _write_stand_in(directory: Path, target: Path) -> list[tuple[int, Expression]]:
    """The stand-in of `directory` at `target`; where each taken-out expression sits in it."""
    shutil.copytree(
        directory,
        target,
        symlinks=False,
        ignore=shutil.ignore_patterns(".terraform", "*.tfstate*", "*.tfvars", "*.tfvars.json", "tests"),
    )
    expressions: list[Expression] = []
    for file in sorted(target.glob("*.tf")):
        read = stand_in_text(file.read_text(encoding="utf-8"), file.name)
        if read is None:
            file.unlink()  # hclmodel lists it as unchecked, or Terraform's loader reports it
            continue
        file.write_text(read[0], encoding="utf-8")
        expressions.extend(read[1])
    for file in sorted(target.glob("*.tf.json")):
        kept = stand_in_json(file.read_text(encoding="utf-8"))
        if kept is None:
            file.unlink()
        else:
            file.write_text(kept, encoding="utf-8")
    for file in target.glob("*.tftest.hcl"):
        file.unlink()
    text, starts = expressions_file(expressions)
    (target / STAND_IN_FILE).write_text(text, encoding="utf-8")
    return starts


def _original_place(filename: str, line: int, starts: list[tuple[int, Expression]]) -> tuple[str, int]:
    """Where a stand-in diagnostic points in the real directory."""
    before = [(start, expression) for start, expression in starts if start <= line]
    if filename != STAND_IN_FILE or not before:
        return filename, line
    start, expression = before[-1]
    return expression.file, expression.line + line - start


def _findings(
    stdout: str, directory: Path, root: Path, starts: list[tuple[int, Expression]]
) -> list[Finding]:
    try:
        document = json.loads(stdout)
    except json.JSONDecodeError:
        return [Finding(CHECK, relative(directory, root), "terraform validate printed no JSON", None)]
    findings = []
    for diag in document.get("diagnostics", []):
        summary = str(diag.get("summary", ""))
        if diag.get("severity") != "error" or summary.startswith(STAND_IN_SUMMARIES):
            continue
        where = diag.get("range") or {}
        location = relative(directory, root)
        if where.get("filename") and where.get("start"):
            filename, line = _original_place(where["filename"], int(where["start"]["line"]), starts)
            location = f"{relative(directory / filename, root)}:{line}"
        detail = " ".join(str(diag.get("detail", "")).split())
        message = f"terraform validate: {summary}: {detail}".rstrip(": ")
        findings.append(Finding(CHECK, location, message, "fix the Terraform there"))
    return findings


def _validated(tf: Terraform, stand_in: Path) -> str:
    """stdout of `terraform validate -json` in `stand_in`, from the checks' content-keyed cache
    when this Terraform judged a stand-in with the same files before. A stand-in has no provider,
    module call or variable value, so its files and Terraform are all that decide the answer: a
    copy of the tree with one directory changed runs Terraform in that directory only."""

    def run(_: str) -> str:
        return tf.run(["validate", "-json", "-no-color", "-no-tests"], stand_in).stdout

    identity = tf.identity()
    if identity is None:
        return run("")
    stored: str = cached_by_content(f"stand-in validate\n{identity}", _manifest(stand_in), run, code=__file__)
    return stored


def _manifest(folder: Path) -> str:
    """Each file under `folder` (relative path and sha256 of its bytes), one a line, sorted."""
    return "".join(
        f"{path.relative_to(folder).as_posix()}\0{hashlib.sha256(path.read_bytes()).hexdigest()}\n"
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    )


def check_evaluation(
    root: Path, directories: list[Path], terraform: Terraform | None = None
) -> list[Finding]:
    """`terraform validate -json` on the provider-free stand-in of each directory: Terraform's own
    errors in variables, locals, outputs and every argument expression (types, functions,
    references), at the real file and line. One Terraform process per directory; nothing is
    installed, nothing written to the tree."""
    tf = terraform or Terraform()
    with tempfile.TemporaryDirectory(prefix="stackctl-eval-") as scratch:

        def judge(indexed: tuple[int, Path]) -> list[Finding]:
            index, directory = indexed
            target = Path(scratch) / f"{index:02d}-{directory.name}"
            starts = _write_stand_in(directory, target)
            return _findings(_validated(tf, target), directory, root, starts)

        workers = 4 if tf.binary else 1
        with ThreadPoolExecutor(max_workers=workers) as pool:
            found = [f for batch in pool.map(judge, enumerate(directories)) for f in batch]
    return list(dict.fromkeys(found))
