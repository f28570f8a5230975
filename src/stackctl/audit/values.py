"""Attribute values as an auditor may see them: sensitive parts masked, unknown parts named.

Terraform marks sensitivity (`before_sensitive`, `after_sensitive`) and unknown values
(`after_unknown`) with a tree that mirrors the value's shape: `true` at a marked leaf or subtree,
`false`, `{}` or `[]` where nothing is marked. The plan JSON itself still holds the sensitive
values in clear text, so nothing here ever returns a raw value from a marked path; comparisons
use the raw values only to say *whether* something changed.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import BaseModel

from stackctl.audit.plan import Change, Plan

SENSITIVE = "(sensitive value)"
UNKNOWN = "(known after apply)"
ABSENT = "(absent)"
MAX_VALUE_CHARS = 240

Path = tuple[str | int, ...]


class PlanValue(str):
    """A value from the plan (any JSON value, `raw`) as the report keeps it: a string that reads
    as its compact one-line rendering (`display`), and keeps the value itself, so that the one
    boundary (`scrub_everywhere`) scrubs the *value* and renders it again.

    Why the value and not only its text: the text is cut at MAX_VALUE_CHARS, JSON-escaped and, in
    a long change, split into diff lines; scrubbing text after that could miss a secret cut in
    half, escaped (a `"` or `\\` in it) or split over lines. So nothing scrubs field by field
    before the boundary, and every text a reader sees is made from the scrubbed value.
    """

    raw: object

    def __new__(cls, raw: object) -> PlanValue:
        shown = super().__new__(cls, display(raw))
        shown.raw = raw
        return shown


# What a report shows for a value: one from the plan, or a marker (SENSITIVE, UNKNOWN, ABSENT).
Shown = str


@dataclass(frozen=True)
class AttributeDiff:
    """One changed attribute: `path` is dotted (`site_config.0.always_on`); before/after are a
    PlanValue, or a marker where a side is masked, unknown or absent."""

    path: str
    before: Shown
    after: Shown
    sensitive: bool = False
    forces_replacement: bool = False
    # Both sides are plain strings from the plan (nothing masked or unknown): `changes` may show
    # a text diff of them.
    long_change: bool = False

    @property
    def changes(self) -> tuple[str, ...]:
        """A long or JSON string's change as diff lines ("- old", "+ new", "  context"): the
        one-line before/after cut at MAX_VALUE_CHARS cannot show a change deep inside it. Made
        from the values this diff holds, so after the boundary from the scrubbed values."""
        old, new = (getattr(side, "raw", None) for side in (self.before, self.after))
        if not self.long_change or not isinstance(old, str) or not isinstance(new, str):
            return ()
        return text_diff(old, new)


def is_marked(tree: Any, path: Path) -> bool:
    """Whether `path`, or any part of the value above it, is marked `true` in a mark tree."""
    node = tree
    for part in path:
        if node is True:
            return True
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part, False)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return False
    return node is True


def _marked_prefix(tree: Any, path: Path) -> Path | None:
    """The shortest prefix of `path` that a mark tree marks `true`, if any."""
    node = tree
    for depth in range(len(path) + 1):
        if node is True:
            return path[:depth]
        if depth == len(path):
            return None
        part = path[depth]
        if isinstance(node, dict) and isinstance(part, str):
            node = node.get(part, False)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return None
    return None


def leaf_paths(value: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every leaf of a JSON value; an empty object or list is a leaf of its own."""
    if isinstance(value, dict) and value:
        for key, child in value.items():
            yield from leaf_paths(child, (*prefix, str(key)))
    elif isinstance(value, list) and value:
        for position, child in enumerate(value):
            yield from leaf_paths(child, (*prefix, position))
    else:
        yield prefix


def marked_paths(tree: Any, prefix: Path = ()) -> Iterator[Path]:
    """Every path a mark tree marks `true`."""
    if tree is True:
        yield prefix
    elif isinstance(tree, dict):
        for key, child in tree.items():
            yield from marked_paths(child, (*prefix, str(key)))
    elif isinstance(tree, list):
        for position, child in enumerate(tree):
            yield from marked_paths(child, (*prefix, position))


_MISSING = object()


def value_at(value: Any, path: Path) -> Any:
    node = value
    for part in path:
        in_object = isinstance(node, dict) and isinstance(part, str) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if not (in_object or in_list):
            return _MISSING
        node = node[part]
    return node


def dotted(path: Path) -> str:
    return ".".join(str(part) for part in path) or "(whole object)"


@dataclass(frozen=True)
class Secrets:
    """Every value the plan marks sensitive anywhere, to mask each copy of it wherever it appears.

    Terraform does not always carry a mark to where a value flows: `terraform_data.output`, for
    one, repeats a sensitive `input` unmarked, and a provider may echo a secret in a computed
    attribute. So a rendered value is masked when it *equals* a sensitive string or number (any
    length: `"Q7z"`, `482913`, `0`), and a longer one (EMBEDDED_MIN_CHARS or more, numbers by
    their decimal text) is also cut out of every string that contains it. A sensitive boolean or
    null is masked where it is marked; an unmarked copy of one cannot be told from any other
    true, false or null (masking them all would hide every flag in the plan), and at one bit it
    cannot carry a credential.
    """

    values: frozenset[str] = frozenset()
    embedded: tuple[str, ...] = ()

    @staticmethod
    def of(found: set[Any]) -> Secrets:
        exact = {_canonical(v) for v in found if _maskable(v)}
        texts = {v if isinstance(v, str) else _canonical(v) for v in found if _maskable(v)}
        # A secret inside a JSON document held in a string (Data Factory `activities_json`, an ARM
        # body) is there in its escaped form: `"` as `\\"`, a line break as `\\n`.
        texts |= {json.dumps(t, ensure_ascii=ascii)[1:-1] for t in texts for ascii in (False, True)}
        embedded = tuple(sorted((s for s in texts if len(s) >= EMBEDDED_MIN_CHARS), key=len, reverse=True))
        return Secrets(frozenset(exact), embedded)

    def __bool__(self) -> bool:
        return bool(self.values)

    def covers(self, value: Any) -> bool:
        return _maskable(value) and _canonical(value) in self.values


# A secret this long is cut out of longer strings too; a shorter one ("1", "ab") would cut
# ordinary text everywhere, so it is masked only where it is the whole value.
EMBEDDED_MIN_CHARS = 3


def _maskable(value: Any) -> bool:
    """Strings and numbers are matched everywhere; booleans and null only where marked."""
    return isinstance(value, str | int | float) and not isinstance(value, bool) and value != ""


def _canonical(value: Any) -> str:
    return json.dumps(value)


def collect_secrets(plan: Plan) -> Secrets:
    """Every string and number the plan marks sensitive anywhere: in resource changes, drift and
    output changes (`before_sensitive`, `after_sensitive`), in planned values and prior state
    (`sensitive_values`, outputs with `sensitive: true`), and the values of sensitive variables."""
    found: set[Any] = set()
    changes = [rc.change for rc in (*plan.resource_changes, *plan.resource_drift)]
    changes += list(plan.output_changes.values())
    for change in changes:
        for value, marks in (
            (change.before, change.before_sensitive),
            (change.after, change.after_sensitive),
        ):
            for path in marked_paths(marks):
                found.update(_leaves(value_at(value, path)))
    for document in (plan.planned_values, plan.prior_state):
        _collect_marked(document, found)
    for name in plan.sensitive_variables:
        variable = plan.variables.get(name)
        if variable is not None:
            found.update(_leaves(variable.value))
    return Secrets.of(found)


def _collect_marked(node: Any, found: set[Any]) -> None:
    """Walk planned_values / prior_state: resources carry `values` with a `sensitive_values` mark
    tree, outputs a `value` with `sensitive: true`."""
    if isinstance(node, dict):
        if "values" in node and "sensitive_values" in node:
            for path in marked_paths(node["sensitive_values"]):
                found.update(_leaves(value_at(node["values"], path)))
        if node.get("sensitive") is True and "value" in node:
            found.update(_leaves(node["value"]))
        for child in node.values():
            _collect_marked(child, found)
    elif isinstance(node, list):
        for child in node:
            _collect_marked(child, found)


def _leaves(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        for child in value.values():
            yield from _leaves(child)
    elif isinstance(value, list):
        for child in value:
            yield from _leaves(child)
    elif value is not _MISSING:
        yield value


def scrub(value: Any, secrets: Secrets) -> Any:
    """A copy of `value` with every copy of a known secret replaced by the SENSITIVE marker."""
    if not secrets:
        return value
    if secrets.covers(value):
        return SENSITIVE
    if isinstance(value, str):
        # Longest first, so a secret that contains another is replaced whole.
        for secret in secrets.embedded:
            if secret in value:
                value = value.replace(secret, SENSITIVE)
        return value
    if isinstance(value, dict):
        return {key: scrub(child, secrets) for key, child in value.items()}
    if isinstance(value, list):
        return [scrub(child, secrets) for child in value]
    return value


def display(value: Any) -> str:
    """A compact, single-line rendering of a JSON value (markers as they are), cut at
    MAX_VALUE_CHARS. Scrubs nothing: the report's text is made from PlanValues after the boundary."""
    if value is _MISSING:
        return ABSENT
    if isinstance(value, str) and value in (SENSITIVE, UNKNOWN, ABSENT):
        return value
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return text


def with_unknowns(value: Any, unknown: Any) -> Any:
    """`value` with UNKNOWN at every place `after_unknown` marks, at any depth (Terraform writes
    null or leaves out what is known only after apply)."""
    if unknown is True:
        return UNKNOWN
    if isinstance(unknown, dict):
        base = dict(value) if isinstance(value, dict) else {}
        for key, mark in unknown.items():
            base[key] = with_unknowns(base.get(key), mark)
        return base if isinstance(value, dict) or base else value
    if isinstance(unknown, list):
        items = list(value) if isinstance(value, list) else []
        items += [None] * (len(unknown) - len(items))
        return [with_unknowns(item, unknown[i]) if i < len(unknown) else item for i, item in enumerate(items)]
    return value


def masked(value: Any, sensitive: Any) -> Any:
    """A copy of `value` with every sensitive part replaced by the SENSITIVE marker."""
    if sensitive is True:
        return SENSITIVE
    if isinstance(value, dict):
        marks = sensitive if isinstance(sensitive, dict) else {}
        return {key: masked(child, marks.get(key, False)) for key, child in value.items()}
    if isinstance(value, list):
        marks_list = sensitive if isinstance(sensitive, list) else []
        return [
            masked(child, marks_list[i] if i < len(marks_list) else False) for i, child in enumerate(value)
        ]
    return value


def attribute_diffs(change: Change) -> list[AttributeDiff]:
    """The attributes an update or replace changes, masked, in path order.

    A path counts as sensitive when either side marks it (a value that becomes sensitive was a
    secret before it was marked, too); a sensitive subtree is reported as one masked entry. The
    values are compared raw (to say *whether* they changed) and kept as PlanValues: unmarked copies
    of a secret are scrubbed at the report's one boundary (`scrub_everywhere`).
    """
    before, after = change.before, change.after
    candidates: set[Path] = set()
    # An absent object (before a create, after a delete) has no attributes to compare.
    for source in (
        leaf_paths(before) if before is not None else (),
        leaf_paths(after) if after is not None else (),
        marked_paths(change.after_unknown),
    ):
        candidates.update(source)
    replace_paths = {tuple(p) for p in change.replace_paths or ()}

    diffs: dict[Path, AttributeDiff] = {}
    for path in sorted(candidates, key=lambda p: tuple(str(part) for part in p)):
        sensitive_at = _shortest(
            _marked_prefix(change.before_sensitive, path), _marked_prefix(change.after_sensitive, path)
        )
        unknown_at = _marked_prefix(change.after_unknown, path)
        key = _shortest(sensitive_at, unknown_at) or path
        if key in diffs:
            continue
        old, new = value_at(before, key), value_at(after, key)
        unknown = unknown_at is not None and len(unknown_at) <= len(key)
        if not unknown and old == new:
            continue
        sensitive = sensitive_at is not None and len(sensitive_at) <= len(key)
        if sensitive:
            before_text = ABSENT if old is _MISSING else SENSITIVE
            after_text = UNKNOWN if unknown else (ABSENT if new is _MISSING else SENSITIVE)
        else:
            before_text = shown(old)
            after_text = UNKNOWN if unknown else shown(new)
        diffs[key] = AttributeDiff(
            path=dotted(key),
            before=before_text,
            after=after_text,
            sensitive=sensitive,
            forces_replacement=any(key[: len(r)] == r or r[: len(key)] == key for r in replace_paths),
            long_change=not sensitive and not unknown and isinstance(old, str) and isinstance(new, str),
        )
    return list(diffs.values())


def shown(value: object) -> Shown:
    """How the report keeps a value of the plan: ABSENT where there is none, a marker as it is,
    else a PlanValue (scrubbed at the boundary)."""
    if value is _MISSING:
        return ABSENT
    if isinstance(value, str) and value in (SENSITIVE, UNKNOWN, ABSENT):
        return value
    return PlanValue(value)


DIFF_CONTEXT_LINES = 2
DIFF_CONTEXT_CHARS = 60


def text_diff(old: str, new: str) -> tuple[str, ...]:
    """What changed in a long, multi-line or JSON string, for a reader: `-`/`+`/` ` lines.

    JSON (Data Factory `activities_json`, ARM bodies) is compared as canonical pretty-printed JSON,
    so only real changes show; other multi-line text (a KQL query) line by line; one long line by
    the changed characters with DIFF_CONTEXT_CHARS either side. Python's difflib compares
    lines. Empty when the one-line before/after already shows the whole change.
    """
    old_lines, new_lines = _diff_lines(old), _diff_lines(new)
    if len(old_lines) == 1 and len(new_lines) == 1:
        if len(old) <= MAX_VALUE_CHARS and len(new) <= MAX_VALUE_CHARS:
            return ()
        return _character_diff(old, new)
    diff = difflib.unified_diff(old_lines, new_lines, lineterm="", n=DIFF_CONTEXT_LINES)
    return tuple(line if line.startswith(("-", "+", " ")) else f"  {line}" for line in list(diff)[2:])


def _diff_lines(text: str) -> list[str]:
    try:
        parsed = json.loads(text)
    except ValueError:
        return text.splitlines() or [""]
    if isinstance(parsed, dict | list):
        return json.dumps(parsed, indent=2, sort_keys=True, ensure_ascii=False).splitlines()
    return text.splitlines() or [""]


def _character_diff(old: str, new: str) -> tuple[str, ...]:
    """One long line: the span between the common prefix and the common suffix, in brackets."""
    prefix = _common_prefix(old, new)
    suffix = _common_prefix(old[prefix:][::-1], new[prefix:][::-1])
    before = old[max(0, prefix - DIFF_CONTEXT_CHARS) : prefix]
    old_end, new_end = len(old) - suffix, len(new) - suffix
    after = old[old_end : old_end + DIFF_CONTEXT_CHARS]
    return (f"- …{before}[{old[prefix:old_end]}]{after}…", f"+ …{before}[{new[prefix:new_end]}]{after}…")


def _common_prefix(first: str, second: str) -> int:
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length


def _shortest(first: Path | None, second: Path | None) -> Path | None:
    if first is None:
        return second
    if second is None:
        return first
    return first if len(first) <= len(second) else second


# Hashes and commits the audit computes, not text from the plan: a secret's digits must not cut them.
COMPUTED_FIELDS = frozenset({"plan_sha256", "saved_plan_sha256", "git_commit", "report_sha256"})


def scrub_everywhere(item: Any, secrets: Secrets) -> Any:
    """A copy of `item` (a frozen dataclass of the report model, a tuple, a mapping, a string) with
    every known secret scrubbed out of every string at any depth, and every PlanValue scrubbed as
    the value it holds and rendered again. The one boundary every renderer reads passes through
    this, so a field added later cannot skip it (tests/stackctl/audit/test_audit_one_boundary.py).

    Raises TypeError on a value of a kind it does not know how to scrub (a set, an object), so a
    new kind of field fails loudly instead of passing through unscrubbed.
    """
    if isinstance(item, PlanValue):
        return PlanValue(scrub(item.raw, secrets))
    if isinstance(item, str):
        return scrub(item, secrets)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        changes = {
            f.name: scrub_everywhere(getattr(item, f.name), secrets)
            for f in dataclasses.fields(item)
            if f.name not in COMPUTED_FIELDS
        }
        return dataclasses.replace(item, **changes)
    if isinstance(item, BaseModel):  # the allow-list's entries
        fields = type(item).model_fields
        return item.model_copy(
            update={name: scrub_everywhere(getattr(item, name), secrets) for name in fields}
        )
    if isinstance(item, tuple):
        return tuple(scrub_everywhere(child, secrets) for child in item)
    if isinstance(item, list):
        return [scrub_everywhere(child, secrets) for child in item]
    if isinstance(item, Mapping):
        return {
            scrub_everywhere(key, secrets): scrub_everywhere(child, secrets) for key, child in item.items()
        }
    if item is None or isinstance(item, bool | int | float | Enum | dt.date):
        return item
    raise TypeError(f"the report's boundary cannot scrub a {type(item).__name__}: teach scrub_everywhere it")
