"""Pure rule logic and tables shared by the policies (no checkov import), so tests can import them.

- DIAGNOSTICS_TABLE, tables_read, queries_of: CKV_FS_6 (log_alert_diagnostics_table.py)
- VM_QUOTA_FAMILIES: CKV_FS_8 (sku_feature_combinations.py)
- normalise_activities, web_activities_without_runtime, retried_posts,
  loop_activities_read_outside: CKV_FS_11 (adf_pipeline_activities.py)
"""

from __future__ import annotations

import re

# Tables written by diagnostic settings (resource-specific or AzureDiagnostics mode), by prefix.
DIAGNOSTICS_TABLE = re.compile(
    r"^(ADF[A-Za-z]+|Aml[A-Za-z]+|AzureDiagnostics|AzureMetrics|Storage(Blob|File|Queue|Table)Logs"
    r"|SQLSecurityAuditEvents|AzureKeyVault|AZKV[A-Za-z]+|ContainerRegistry[A-Za-z]+|AppServiceHTTPLogs)$"
)

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
JOINED = re.compile(r"\bjoin\b[^(|]*\(\s*([A-Za-z_][A-Za-z0-9_]*)")


def tables_read(query: str) -> set[str]:
    """Tables a KQL query reads: the tabular expression it starts with (a table, or the tables of a
    leading `union a, b`), and the first table inside each `join (...)`."""
    head = query.strip().split("|", 1)[0].strip()
    if head.startswith("union "):
        tables = {t for t in IDENTIFIER.findall(head[len("union ") :]) if t not in ("kind", "inner", "outer")}
    else:
        match = IDENTIFIER.match(head)
        tables = {match.group(0)} if match else set()
    return tables | set(JOINED.findall(query))


def _literal_head(query: str) -> str | None:
    """The query up to its first pipe when that part is literal text, else None (an interpolated
    table name cannot be judged offline)."""
    head = query.split("|", 1)[0]
    return None if "${" in head or "{}" in head or re.search(r"\b(var|local|each)\.", head) else query


def queries_of(query: object, for_each: object) -> list[str] | None:
    """The queries a log alert resource runs, as far as they can be read offline, or None when they
    cannot (then CKV_FS_6 fails rather than pass silently).

    - a literal query, or one interpolated only after its first pipe (`T | where x > ${var.y}`):
      itself (the tables are in the literal head);
    - `each.value.<attribute>`: the <attribute> of every entry of the resource's for_each map, as
      checkov renders it (a map of literals: `{'k': {'query': '...'}}`), each judged the same way.
    """
    if not isinstance(query, str):
        return None
    attribute = re.fullmatch(r"\$?\{?each\.value\.([A-Za-z_][A-Za-z0-9_]*)\}?", query.strip())
    if attribute is None:
        head = _literal_head(query)
        return [head] if head is not None else None
    if not isinstance(for_each, str):
        return None
    name = re.escape(attribute.group(1))
    found = re.findall(rf"""['"]{name}['"]\s*:\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")""", for_each)
    queries = [single or double for single, double in found]
    if not queries or any(_literal_head(q) is None for q in queries):
        return None
    return queries


# vm_size -> vCPU quota family of dedicated nodes; kept equal to modules/aml_compute local.vm_sizes
# (tests/infra checks the two tables agree).
VM_QUOTA_FAMILIES = {
    "Standard_NC4as_T4_v3": "Standard NCASv3_T4 Family",
    "Standard_NC8as_T4_v3": "Standard NCASv3_T4 Family",
    "Standard_NC24ads_A100_v4": "Standard NCADS_A100_v4 Family",
    "Standard_NC48ads_A100_v4": "Standard NCADS_A100_v4 Family",
    "Standard_DS3_v2": "Standard DSv2 Family",
    "Standard_DS4_v2": "Standard DSv2 Family",
    "Standard_D4s_v3": "Standard DSv3 Family",
}

NAME = re.compile(r"'name':\s*'([^']+)'")
ACTIVITY_REF = re.compile(r"activity\('([^']+)'\)")
RETRY = re.compile(r"'retry':\s*(\d+)")
STEP_PLACEHOLDER = re.compile(r"\$\{?[a-z_]+\}?")


def normalise_activities(text: str) -> str:
    """The rendered HCL with checkov's escaping undone: maps as {'key': value}."""
    return text.replace("\\", "").replace('"', "'")


def _matching_bracket(text: str, start: int) -> int:
    """Index of the `]` closing the `[` at start, skipping quoted text."""
    depth, quoted = 0, False
    for index in range(start, len(text)):
        char = text[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "[":
            depth += 1
        elif not quoted and char == "]":
            depth -= 1
            if depth == 0:
                return index
    return len(text)


def _key(name: str) -> str:
    return STEP_PLACEHOLDER.sub("*", name)


def web_activities_without_runtime(text: str) -> int:
    return max(0, text.count("'WebActivity'") - text.count("'connectVia'"))


def retried_posts(text: str) -> list[str]:
    """Names of activities that POST with a retry other than 0."""
    found = []
    for post in re.finditer(r"'method':\s*'POST'", text):
        names = list(NAME.finditer(text, 0, post.start()))
        if not names:
            continue
        segment = text[names[-1].start() : post.start()]
        retry = RETRY.search(segment)
        if retry and retry.group(1) != "0":
            found.append(names[-1].group(1))
    return found


def loop_activities_read_outside(text: str) -> list[str]:
    """Activities inside an Until loop that something outside the loop's activities reads."""
    inner: set[str] = set()
    regions: list[tuple[int, int]] = []
    for until in re.finditer(r"'type':\s*'Until'", text):
        opening = text.find("'activities':", until.end())
        bracket = text.find("[", opening)
        if opening < 0 or bracket < 0:
            continue
        closing = _matching_bracket(text, bracket)
        regions.append((bracket, closing))
        inner.update(_key(m.group(1)) for m in NAME.finditer(text, bracket, closing))
    outside = [
        m.group(1)
        for m in ACTIVITY_REF.finditer(text)
        if not any(start <= m.start() <= end for start, end in regions) and _key(m.group(1)) in inner
    ]
    return sorted(set(outside))
