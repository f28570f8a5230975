"""Sensitive values of every JSON type at every depth, marked in each place a plan marks them and
copied unmarked elsewhere (as `terraform_data.output`, a provider's echo, or an output does): no
report (Markdown, HTML, SARIF) may contain any of them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from audit_helpers import checkov_clean, fixed_provenance

from stackctl.audit.allow_list import AllowList
from stackctl.audit.analysis import build_report
from stackctl.audit.plan import parse_plan
from stackctl.audit.render import render_html, render_markdown
from stackctl.audit.sarif import to_sarif
from stackctl.audit.values import SENSITIVE

DEPTHS = range(4)
# Where a secret can be marked: in a resource change, in drift, in an output change, only in
# planned_values' sensitive_values, only in prior_state, or as a sensitive variable.
PLACES = ("change", "drift", "output", "planned_values", "prior_state", "variable")


def values_of_every_type(depth: int, place: str) -> dict[str, Any]:
    """One value per JSON type; strings and numbers unique so a leak can be found by grep."""
    tag = f"{place[:3]}{depth}"
    return {
        "string": f"SenS-{tag}-string",
        "short_string": f"Q{depth}",
        "integer": 7_300_000 + 1000 * PLACES.index(place) + depth,
        "negative": -(8_100_000 + 1000 * PLACES.index(place) + depth),
        "float": 52_000.25 + 1000 * PLACES.index(place) + depth,
        "true": True,
        "false": False,
        "null": None,
        "object": {"inner": f"SenS-{tag}-object"},
        "array": [f"SenS-{tag}-array", 6_400_000 + 1000 * PLACES.index(place) + depth],
    }


def nest(value: Any, depth: int) -> Any:
    """The value `depth` levels down, alternating objects and lists as provider schemas do."""
    for level in range(depth):
        value = [value] if level % 2 else {"level": value}
    return value


def marks(depth: int) -> Any:
    return nest(True, depth)


def greppable(value: Any) -> Iterator[str]:
    """The texts a leak of `value` would show: strings (2+ chars) and numbers (5+ digits)."""
    if isinstance(value, dict):
        for child in value.values():
            yield from greppable(child)
    elif isinstance(value, list):
        for child in value:
            yield from greppable(child)
    elif isinstance(value, str) and len(value) >= 2:
        yield value
    elif isinstance(value, int | float) and not isinstance(value, bool) and len(str(abs(value))) >= 5:
        yield json.dumps(value)


def resource(address: str, actions: list[str], before: Any, after: Any, **marks_: Any) -> dict[str, Any]:
    return {
        "address": address,
        "mode": "managed",
        "type": "terraform_data",
        "name": address.split(".")[-1],
        "provider_name": "terraform.io/builtin/terraform",
        "change": {
            "actions": actions,
            "before": before,
            "after": after,
            "after_unknown": {},
            "before_sensitive": marks_.get("before_sensitive", {}),
            "after_sensitive": marks_.get("after_sensitive", {}),
        },
    }


def build_plan() -> tuple[dict[str, Any], list[str], list[tuple[str, str]]]:
    """The plan, every text that must not appear, and (address, attribute) pairs shown masked."""
    changes, drift, outputs, variables, sensitive_vars = [], [], {}, {}, {}
    planned, prior = [], []
    secrets: list[str] = []
    masked_at: list[tuple[str, str]] = []
    for place in PLACES:
        for depth in DEPTHS:
            for type_name, value in values_of_every_type(depth, place).items():
                secrets.extend(greppable(value))
                attribute = f"{type_name}_{depth}"
                nested = nest(value, depth)
                old = {attribute: nest(f"old-{type_name}-{depth}", depth)}
                new = {attribute: nested, "revision": 2}
                name = f"{place}_{attribute}"
                if place == "change":
                    changes.append(
                        resource(
                            f"terraform_data.{name}",
                            ["update"],
                            {**old, "revision": 1},
                            new,
                            before_sensitive={attribute: marks(depth)},
                            after_sensitive={attribute: marks(depth)},
                        )
                    )
                    masked_at.append((f"terraform_data.{name}", attribute))
                elif place == "drift":
                    drift.append(
                        resource(
                            f"terraform_data.{name}",
                            ["update"],
                            {attribute: "drift-before-value"},
                            {attribute: nested},
                            before_sensitive={attribute: True},
                            after_sensitive={attribute: marks(depth)},
                        )
                    )
                elif place == "output":
                    outputs[name] = {
                        "actions": ["create"],
                        "before": None,
                        "after": nested,
                        "after_unknown": False,
                        "before_sensitive": False,
                        "after_sensitive": True,
                    }
                elif place == "planned_values":
                    planned.append(
                        {
                            "address": f"terraform_data.{name}",
                            "values": {attribute: nested},
                            "sensitive_values": {attribute: marks(depth)},
                        }
                    )
                elif place == "prior_state":
                    prior.append(
                        {
                            "address": f"terraform_data.{name}",
                            "values": {attribute: nested},
                            "sensitive_values": {attribute: True},
                        }
                    )
                else:
                    variables[name] = {"value": nested}
                    sensitive_vars[name] = {"sensitive": True}
                # The unmarked copies: a whole-value copy and, for text, a copy inside a string.
                copy = {"output": nested, "revision": 2}
                # Secrets of 3+ characters are cut out of longer strings; shorter ones would cut
                # ordinary text everywhere, so they are masked where they are the whole value.
                if (
                    isinstance(value, str | int | float)
                    and not isinstance(value, bool)
                    and len(str(value)) >= 3
                ):
                    copy["label"] = f"copy-of-{value}-here"
                changes.append(
                    resource(
                        f"terraform_data.copy_{name}", ["update"], {"output": "old", "revision": 1}, copy
                    )
                )
                outputs[f"copy_{name}"] = {
                    "actions": ["update"],
                    "before": "old",
                    "after": copy,
                    "after_unknown": False,
                    "before_sensitive": False,
                    "after_sensitive": False,
                }
    plan = {
        "format_version": "1.2",
        "terraform_version": "1.11.4",
        "variables": variables,
        "planned_values": {"root_module": {"resources": planned}},
        "prior_state": {"format_version": "1.0", "values": {"root_module": {"resources": prior}}},
        "resource_changes": changes,
        "resource_drift": drift,
        "output_changes": outputs,
        "configuration": {"root_module": {"variables": sensitive_vars}},
    }
    return plan, secrets, masked_at


@pytest.fixture(scope="module")
def reports() -> tuple[dict[str, str], list[str], list[tuple[str, str]], Any]:
    raw, secrets, masked_at = build_plan()
    plan = parse_plan(raw)
    report = build_report(
        plan,
        provenance=fixed_provenance(),
        allow_list=AllowList(),
        checkov=checkov_clean(__import__("pathlib").Path("plan.json")),
        parity=None,
        today=__import__("datetime").date(2026, 11, 29),
    )
    texts = {
        "md": render_markdown(report),
        "html": render_html(report),
        "sarif": json.dumps(to_sarif(report), ensure_ascii=False),
    }
    return texts, secrets, masked_at, report


@pytest.mark.parametrize("kind", ["md", "html", "sarif"])
def test_no_sensitive_value_of_any_type_or_depth_reaches_the_report(reports: Any, kind: str) -> None:
    texts, secrets, _, _ = reports
    assert len(secrets) > 150  # the generator really produced what it claims
    leaked = sorted({secret for secret in secrets if secret in texts[kind]})
    assert leaked == [], f"{len(leaked)} sensitive values in the {kind} report, e.g. {leaked[:5]}"


def test_every_marked_attribute_is_shown_masked(reports: Any) -> None:
    _, _, masked_at, report = reports
    resources = {r.address: r for r in report.resources}
    for address, attribute in masked_at:
        diffs = [d for d in resources[address].diffs if d.path.split(".")[0] == attribute]
        assert diffs, f"{address}.{attribute} is not in the diff"
        assert all(d.sensitive and d.after == SENSITIVE for d in diffs), (address, diffs)
