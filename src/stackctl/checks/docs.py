"""Module READMEs: a hand-written header, a usage block generated from the module's runnable examples
(`examples/<name>/main.tf`, between `<!-- BEGIN_EXAMPLES -->` and `<!-- END_EXAMPLES -->`, as Azure
Verified Modules' READMEs show theirs), then an inputs/outputs table generated from the code between
`<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->` (the terraform-docs convention).
The docs check also holds the modules' generated AVM interfaces to their template
(stackctl.checks.interfaces).

`write_docs` regenerates the usage blocks and the tables (`make fmt` runs it through
scripts/terraform_fmt.py --write); `check_docs` fails when a module has no example, or a block or a
table is missing or stale. `make validate` checks each example as it checks the roots
(stackctl.checks.layout.terraform_dirs).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from stackctl.checks.findings import CheckReport, Finding, relative
from stackctl.checks.hclmodel import read_dir
from stackctl.checks.interfaces import check_interfaces
from stackctl.checks.layout import example_dirs, module_dirs

CHECK = "docs"
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
_MARKED = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)
USAGE_BEGIN, USAGE_END = "<!-- BEGIN_EXAMPLES -->", "<!-- END_EXAMPLES -->"
_USAGE = re.compile(re.escape(USAGE_BEGIN) + r".*?" + re.escape(USAGE_END), re.DOTALL)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _description_cell(text: str) -> str:
    """A description in one table cell: each paragraph and each `- ` list item of a heredoc
    description (AVM's field lists) on a line of its own, wrapped lines joined."""
    lines: list[str] = []
    for raw in str(text).strip().splitlines():
        line = raw.strip()
        if lines and line and lines[-1] and not line.startswith("- "):
            lines[-1] += " " + line
        else:
            lines.append(line)
    return "<br>".join(_cell(line) for line in lines if line)


def _expression(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text


def render_table(directory: Path) -> str:
    model = read_dir(directory)
    # Required inputs first, as the reader needs them first.
    variables = sorted(
        ((name, variable.body) for name, variable in model.variables.items()),
        key=lambda item: ("default" in item[1], item[0]),
    )
    lines = [
        BEGIN,
        "## Inputs",
        "",
        "| Name | Description | Type | Default | Required |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, body in variables:
        required = "default" not in body
        default = "n/a" if required else f"`{_cell(json.dumps(body['default']))}`"
        description = _description_cell(body.get("description", ""))
        type_text = _cell(_expression(body.get("type", "any")))
        lines.append(
            f"| {name} | {description} | `{type_text}` | {default} | {'yes' if required else 'no'} |"
        )
    lines += ["", "## Outputs", "", "| Name | Description |", "| --- | --- |"]
    for name, body in sorted(model.outputs.items()):
        lines.append(f"| {name} | {_cell(body.get('description', ''))} |")
    lines.append(END)
    return "\n".join(lines)


def render_usage(directory: Path) -> str:
    """The module's usage: each example's main.tf, verbatim (the source of truth is the example,
    which `make validate` checks; the README only shows it)."""
    lines = [USAGE_BEGIN, "## Usage", ""]
    for example in example_dirs(directory.parent.parent, directory):
        lines += [
            f"`examples/{example.name}/main.tf`, a root of its own (`terraform init` and `terraform apply` "
            "there; `make validate` checks it like the stacks' roots):",
            "",
            "```hcl",
            (example / "main.tf").read_text(encoding="utf-8").rstrip("\n"),
            "```",
            "",
        ]
    lines.append(USAGE_END)
    return "\n".join(lines)


def _updated(readme_text: str, table: str) -> str:
    if _MARKED.search(readme_text):
        return _MARKED.sub(lambda _: table, readme_text, count=1)
    return readme_text.rstrip("\n") + "\n\n" + table + "\n"


def _with_usage(readme_text: str, usage: str) -> str:
    """The usage block in place, or (first time) just above the inputs/outputs table."""
    if _USAGE.search(readme_text):
        return _USAGE.sub(lambda _: usage, readme_text, count=1)
    at = readme_text.find(BEGIN)
    at = len(readme_text) if at < 0 else at
    return readme_text[:at].rstrip("\n") + "\n\n" + usage + "\n\n" + readme_text[at:]


def write_docs(root: Path) -> list[Path]:
    """Regenerate every module README's table; returns the files that changed."""
    changed = []
    for directory in module_dirs(root):
        readme = directory / "README.md"
        current = readme.read_text(encoding="utf-8") if readme.is_file() else f"# {directory.name}\n"
        new = _updated(current, render_table(directory))
        if example_dirs(root, directory):
            new = _with_usage(new, render_usage(directory))
        if new != current:
            readme.write_text(new, encoding="utf-8")
            changed.append(readme)
    return changed


def check_docs(root: Path) -> CheckReport:
    """Generated text is current: each module README's inputs/outputs table, and each module's
    AVM interfaces (main.interfaces.tf and the interface variables, stackctl.checks.interfaces)."""
    report = CheckReport(CHECK)
    report.findings.extend(check_interfaces(root))
    for directory in module_dirs(root):
        readme = directory / "README.md"
        where = relative(readme, root)
        fix = "run `make fmt` (scripts/terraform_fmt.py --write regenerates the tables)"
        if not readme.is_file():
            report.findings.append(Finding(CHECK, where, "module has no README.md", fix))
            continue
        text = readme.read_text(encoding="utf-8")
        match = _MARKED.search(text)
        if match is None:
            report.findings.append(Finding(CHECK, where, f"no {BEGIN} ... {END} table", fix))
        elif match.group(0) != render_table(directory):
            report.findings.append(Finding(CHECK, where, "inputs/outputs table is out of date", fix))
        elif not text[: match.start()].strip().startswith("# "):
            report.findings.append(
                Finding(CHECK, where, "README needs a hand-written header above the table", None)
            )
        report.findings.extend(_usage_findings(directory, root, text))
    return report


def _usage_findings(directory: Path, root: Path, text: str) -> list[Finding]:
    """A module without a runnable example, or a README whose usage block is not its examples'."""
    where = relative(directory / "README.md", root)
    if not example_dirs(root, directory):
        return [
            Finding(
                CHECK,
                relative(directory, root),
                'module has no runnable example (examples/<name>/main.tf calling it with source = "../..")',
                "add one, as Azure Verified Modules do, then run `make fmt`",
            )
        ]
    block = _USAGE.search(text)
    fix = "run `make fmt` (scripts/terraform_fmt.py --write renders the usage from examples/)"
    if block is None:
        return [Finding(CHECK, where, f"no {USAGE_BEGIN} ... {USAGE_END} usage block", fix)]
    if block.group(0) != render_usage(directory):
        return [Finding(CHECK, where, "usage block differs from examples/*/main.tf", fix)]
    return []
