"""Attribute values as an auditor may see them: sensitive parts masked, unknown parts named.

Terraform marks sensitivity (`before_sensitive`, `after_sensitive`) and unknown values
(`after_unknown`) with a tree that mirrors the value's shape: `true` at a marked leaf or subtree,
`false`, `{}` or `[]` where nothing is marked. The plan JSON itself still holds the sensitive
values in clear text, so nothing here ever returns a raw value from a marked path; comparisons
use the raw values only to say *whether* something changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from stackctl.audit.plan import Change, Plan

SENSITIVE = "(sensitive value)"
UNKNOWN = "(known after apply)"
ABSENT = "(absent)"
MAX_VALUE_CHARS = 240
# Shorter sensitive strings ("1", "true") would mask ordinary values everywhere they occur.
MIN_SECRET_CHARS = 4

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class AttributeDiff:
    """One changed attribute: `path` is dotted (`site_config.0.always_on`); before/after are
    display strings that are already masked."""

    path: str
    before: str
    after: str
    sensitive: bool = False
    forces_replacement: bool = False


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


def collect_secrets(plan: Plan) -> frozenset[str]:
    """Every string the plan marks sensitive anywhere, and the values of sensitive variables.

    Terraform does not always carry a mark to where a value flows: `terraform_data.output`, for
    one, repeats a sensitive `input` unmarked. Scrubbing these strings from everything rendered
    keeps such a copy out of the report, too.
    """
    found: set[str] = set()
    changes = [rc.change for rc in (*plan.resource_changes, *plan.resource_drift)]
    changes += list(plan.output_changes.values())
    for change in changes:
        for value, marks in (
            (change.before, change.before_sensitive),
            (change.after, change.after_sensitive),
        ):
            for path in marked_paths(marks):
                found.update(_strings(value_at(value, path)))
    for name in plan.sensitive_variables:
        variable = plan.variables.get(name)
        if variable is not None:
            found.update(_strings(variable.value))
    return frozenset(s for s in found if len(s) >= MIN_SECRET_CHARS)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for child in value.values():
            yield from _strings(child)
    elif isinstance(value, list):
        for child in value:
            yield from _strings(child)


def scrub(value: Any, secrets: frozenset[str]) -> Any:
    """A copy of `value` with every occurrence of a known secret replaced by the SENSITIVE marker."""
    if not secrets:
        return value
    if isinstance(value, str):
        # Longest first, so a secret that contains another is replaced whole.
        for secret in sorted(secrets, key=len, reverse=True):
            if secret in value:
                value = value.replace(secret, SENSITIVE)
        return value
    if isinstance(value, dict):
        return {key: scrub(child, secrets) for key, child in value.items()}
    if isinstance(value, list):
        return [scrub(child, secrets) for child in value]
    return value


def display(value: Any, secrets: frozenset[str] = frozenset()) -> str:
    """A compact, single-line rendering of a JSON value, with known secrets scrubbed out."""
    if value is _MISSING:
        return ABSENT
    text = json.dumps(scrub(value, secrets), sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 1] + "…"
    return text


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


def attribute_diffs(change: Change, secrets: frozenset[str] = frozenset()) -> list[AttributeDiff]:
    """The attributes an update or replace changes, masked, in path order.

    A path counts as sensitive when either side marks it (a value that becomes sensitive was a
    secret before it was marked, too); a sensitive subtree is reported as one masked entry.
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
            before_text = display(old, secrets)
            after_text = UNKNOWN if unknown else display(new, secrets)
        diffs[key] = AttributeDiff(
            path=dotted(key),
            before=before_text,
            after=after_text,
            sensitive=sensitive,
            forces_replacement=any(key[: len(r)] == r or r[: len(key)] == key for r in replace_paths),
        )
    return list(diffs.values())


def _shortest(first: Path | None, second: Path | None) -> Path | None:
    if first is None:
        return second
    if second is None:
        return first
    return first if len(first) <= len(second) else second
