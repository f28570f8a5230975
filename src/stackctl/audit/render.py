"""The report as Markdown (for pull requests and the audit trail) and as one self-contained HTML
file (inline CSS, no script, no external asset; every value escaped by jinja2's autoescape)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

from stackctl.audit.analysis import AuditFinding, AuditReport, ResourceReport
from stackctl.audit.sarif import RULES

TEMPLATES = Path(__file__).resolve().parent / "templates"


def render_markdown(report: AuditReport) -> str:
    return _environment(html=False).get_template("report.md.j2").render(report=report)


def render_summary(report: AuditReport) -> str:
    """The head of the Markdown report (verdict, provenance, counts, findings) for a CI job summary."""
    markdown = render_markdown(report)
    end = markdown.find("\n## Destructive changes")
    return markdown if end < 0 else markdown[: end + 1]


def render_html(report: AuditReport) -> str:
    return _environment(html=True).get_template("report.html.j2").render(report=report)


# Within a severity, the resources with a destructive change come first (they are what an auditor
# signs for), then the rest by kind of finding.
_KIND_FIRST = ("destructive-change", "incomplete-plan", "policy-failure", "policy-not-checked")
NO_RESOURCE = "(not tied to one resource)"


def finding_groups(report: AuditReport) -> list[tuple[str, list[tuple[str, list[AuditFinding]]]]]:
    """Findings grouped by severity (blocking, warning, info), then by resource address, the
    addresses with a destructive change first: [(severity, [(address, findings)])]."""
    groups: list[tuple[str, list[tuple[str, list[AuditFinding]]]]] = []
    for severity in ("blocking", "warning", "info"):
        by_address: dict[str, list[AuditFinding]] = {}
        for finding in report.findings:
            if finding.severity == severity:
                by_address.setdefault(finding.address or NO_RESOURCE, []).append(finding)
        if by_address:
            ordered = sorted(by_address.items(), key=lambda item: (_address_rank(item[1]), item[0]))
            groups.append((severity, ordered))
    return groups


def _address_rank(findings: list[AuditFinding]) -> int:
    ranks = [_KIND_FIRST.index(f.kind) for f in findings if f.kind in _KIND_FIRST]
    return min(ranks) if ranks else len(_KIND_FIRST)


def rule_of(finding: AuditFinding) -> str:
    """The finding's SARIF rule id (FSA001 ...), so every line names its rule."""
    return RULES[finding.kind][0]


def status_label(finding: AuditFinding) -> str:
    if finding.kind == "destructive-change":
        if finding.allowed_by:
            return "allowed"
        return "BLOCKING" if finding.blocking else "warning (no data)"
    if finding.kind == "policy-skipped":
        return "skipped"
    return "BLOCKING" if finding.blocking else finding.severity


def resource_line(resource: ResourceReport) -> str:
    """One Markdown list item for a changed resource (already escaped)."""
    parts = [markdown_code(resource.address)]
    if resource.data_bearing:
        parts.append(f"({markdown_text(resource.data_bearing)})")
    if resource.deposed:
        parts.append(f"deposed object {markdown_code(resource.deposed)}")
    if resource.previous_address:
        parts.append(f"moved from {markdown_code(resource.previous_address)}")
    if resource.imported_id:
        parts.append(f"imported from {markdown_code(resource.imported_id)}")
    line = " ".join(parts)
    if resource.action_reason:
        line += ": " + markdown_text(resource.action_reason.replace("_", " "))
    return line


_KIND_HEADINGS = {
    "no-op": "moved or imported, otherwise unchanged",
    "forget": "forget (left in Azure, no longer managed)",
    "replace-forget": "replace, old object forgotten (left in Azure, no longer managed)",
}


def kind_heading(kind: str) -> str:
    return _KIND_HEADINGS.get(kind, kind)


def severity_counts(report: AuditReport) -> dict[str, int]:
    counts = {"blocking": 0, "warning": 0, "info": 0}
    for finding in report.findings:
        counts[finding.severity] += 1
    return counts


def markdown_text(value: object) -> str:
    """Plain text that Markdown shows as written: no emphasis, links, raw HTML or broken tables."""
    text = " ".join(str(value).split())
    for char in "\\`*_[]<>|#":
        text = text.replace(char, "\\" + char)
    return text


def markdown_code(value: object) -> str:
    """An inline code span safe inside a table cell (GFM needs `|` escaped even in code)."""
    text = " ".join(str(value).split()).replace("|", "\\|")
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


@cache
def _environment(*, html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        # Markdown is escaped by the `md` and `code` filters; HTML by jinja2 itself.
        autoescape=html,  # noqa: S701
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["md"] = markdown_text
    env.filters["code"] = markdown_code
    env.globals["status_label"] = status_label
    env.globals["severity_counts"] = severity_counts
    env.globals["resource_line"] = resource_line
    env.globals["kind_heading"] = kind_heading
    env.globals["finding_groups"] = finding_groups
    env.globals["rule_of"] = rule_of
    return env
