"""Module READMEs: a hand-written header, then an inputs/outputs table generated from the code
between `<!-- BEGIN_TF_DOCS -->` and `<!-- END_TF_DOCS -->` (the terraform-docs convention).
The docs check also holds the modules' generated AVM interfaces to their template
(stackctl.checks.interfaces).

`write_docs` regenerates the tables (`make fmt` runs it through scripts/terraform_fmt.py --write);
`check_docs` fails when a table is missing or stale.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from stackctl.checks.findings import CheckReport, Finding, relative
from stackctl.checks.hclmodel import read_dir
from stackctl.checks.interfaces import check_interfaces
from stackctl.checks.layout import module_dirs

CHECK = "docs"
BEGIN, END = "<!-- BEGIN_TF_DOCS -->", "<!-- END_TF_DOCS -->"
_MARKED = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.DOTALL)


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


def _updated(readme_text: str, table: str) -> str:
    if _MARKED.search(readme_text):
        return _MARKED.sub(lambda _: table, readme_text, count=1)
    return readme_text.rstrip("\n") + "\n\n" + table + "\n"


def write_docs(root: Path) -> list[Path]:
    """Regenerate every module README's table; returns the files that changed."""
    changed = []
    for directory in module_dirs(root):
        readme = directory / "README.md"
        current = readme.read_text(encoding="utf-8") if readme.is_file() else f"# {directory.name}\n"
        new = _updated(current, render_table(directory))
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
    return report
