"""Issue 26 item 1: every known secret is scrubbed once, at one boundary, the report model that every
renderer reads (md, html, SARIF, the CI job summary), so a new field cannot skip it.

Two ways in, each shown to fail on a broken boundary:
- the plan: a secret (marked sensitive once, as a sensitive variable) copied unmarked into each place
  the plan carries text the report may show: check and condition messages and addresses, output
  values, resource attribute values (short, cut at the one-line limit, long and JSON strings that
  get a text diff), drift, costs, action reasons, for_each keys, provider constraints. Secrets hold
  characters that JSON and HTML escape and a line break, so an escaped or split copy is found too.
- the report model's type: every field of every dataclass in it, found by reflection, holds the
  secret, and the boundary must leave it in none.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import html
import json
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import FIXTURES, checkov_clean
from pydantic import BaseModel

from stackctl.audit import analysis
from stackctl.audit.analysis import AuditReport
from stackctl.audit.plan import load_plan
from stackctl.audit.pricing import PriceBook
from stackctl.audit.render import render_html, render_markdown, render_summary
from stackctl.audit.runner import AuditOutputs, audit_plan
from stackctl.audit.sarif import to_sarif
from stackctl.audit.values import COMPUTED_FIELDS, MAX_VALUE_CHARS, PlanValue, Secrets, scrub_everywhere
from stackctl.paths import repo_root

CASES = Path(__file__).resolve().parent / "cases3"
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)

# Three secrets of different shapes: JSON- and HTML-escaped characters, a line break (a key in PEM
# form), and a plain one. Each starts and ends with a run found nowhere else, so a cut copy shows.
ESCAPED = 'Zq7Wv"x&<y>\\Kp3Lm'
MULTILINE = "Mn4Rt-first-line\nsecond-line-Hb8Yc"
PLAIN = "Gx5Jd-plain-secret-Ty2Qs"
SECRETS = (ESCAPED, MULTILINE, PLAIN)


def forms(secret: str) -> set[str]:
    """The texts by which a copy of `secret` may show in a report: itself, its ends (a copy cut at
    the one-line limit or split over diff lines), and its JSON- and HTML-escaped forms."""
    found = {secret, secret[:5], secret[-5:], json.dumps(secret)[1:-1], html.escape(secret)}
    found |= {line for line in secret.splitlines() if len(line) >= 5}
    return found


def leaks(texts: Mapping[str, str]) -> list[str]:
    return [
        f"{name}: {form!r}"
        for name, text in texts.items()
        for s in SECRETS
        for form in forms(s)
        if form in text
    ]


# --- through the plan --------------------------------------------------------------------------

LONG_JSON = json.dumps({"activities": [{"name": f"step-{n}", "sink": "curated"} for n in range(12)]})


def _resource(address: str, before: Any, after: Any, *, actions: list[str]) -> dict[str, Any]:
    kind, name = address.split(".", 1)
    return {
        "address": address,
        "mode": "managed",
        "type": kind,
        "name": name.split("[", 1)[0],
        "provider_name": "registry.terraform.io/hashicorp/azurerm",
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}},
    }


def _cut_at_the_limit(secret: str) -> str:
    """A value whose one-line rendering is cut at MAX_VALUE_CHARS a few characters into `secret`."""
    return "a" * (MAX_VALUE_CHARS - 10) + secret + "b" * 20


def _plant(data: dict[str, Any], place: str) -> None:
    """Copy the secrets, unmarked, into one place of a plan that knows them as sensitive variables."""
    text = f"quoted {ESCAPED} and {PLAIN} and {MULTILINE} here"
    changes = data["resource_changes"]
    if place == "check message":
        data["checks"][0]["instances"][0]["problems"] = [{"message": text}]
    elif place == "check address":
        data["checks"][0]["address"]["to_display"] = f"check.{PLAIN}"
        data["checks"][0]["instances"][0]["address"]["to_display"] = f"check.{PLAIN}"
    elif place == "condition message":
        data["checks"].append(
            {
                "address": {"kind": "resource", "to_display": "azurerm_mssql_server.sql", "mode": "managed"},
                "status": "fail",
                "instances": [
                    {
                        "address": {"to_display": "azurerm_mssql_server.sql"},
                        "status": "fail",
                        "problems": [{"message": f"precondition: {text}"}],
                    }
                ],
            }
        )
    elif place == "output value":
        data["output_changes"] = {
            "dsn": {"actions": ["create"], "before": None, "after": text, "after_unknown": False},
            "settings": {
                "actions": ["update"],
                "before": {"k": "v"},
                "after": {"k": text},
                "after_unknown": {},
            },
        }
    elif place == "attribute value":
        changes.append(
            _resource(
                "azurerm_linux_web_app.app",
                {"app_settings": {"X": "old"}},
                {"app_settings": {"X": text}},
                actions=["update"],
            )
        )
    elif place == "value cut at the one-line limit":
        changes.append(
            _resource(
                "azurerm_linux_web_app.app",
                {"tag": "old"},
                {"tag": _cut_at_the_limit(PLAIN)},
                actions=["update"],
            )
        )
    elif place == "long JSON string diff":
        changed = LONG_JSON.replace(
            '"step-5", "sink": "curated"', f'"step-5", "sink": "{json.dumps(ESCAPED)[1:-1]}"'
        )
        changes.append(
            _resource(
                "azurerm_data_factory_pipeline.p",
                {"activities_json": LONG_JSON},
                {"activities_json": changed},
                actions=["update"],
            )
        )
    elif place == "multi-line string diff":
        before = "\n".join(f"line {n}" for n in range(10))
        after = before.replace("line 5", f"line 5 {MULTILINE}")
        changes.append(
            _resource(
                "azurerm_monitor_scheduled_query_rules_alert_v2.a",
                {"query": before},
                {"query": after},
                actions=["update"],
            )
        )
    elif place == "drift":
        drifted = _resource("azurerm_linux_web_app.app", {"tag": "old"}, {"tag": text}, actions=["update"])
        data["resource_drift"] = [drifted]
    elif place == "cost attribute":
        changes.append(
            _resource(
                "azurerm_mssql_database.db", {"sku_name": "S0"}, {"sku_name": PLAIN}, actions=["update"]
            )
        )
        changes.append(
            _resource(
                "azurerm_machine_learning_compute_cluster.c",
                None,
                {"vm_size": _cut_at_the_limit(PLAIN)},
                actions=["create"],
            )
        )
    elif place == "action reason":
        changes[0]["action_reason"] = text
        changes[0]["change"]["actions"] = ["delete", "create"]  # a reason shows on a replacement
    elif place == "for_each key":
        changes.append(
            _resource(f'azurerm_storage_container.c["{PLAIN}"]', None, {"name": "x"}, actions=["create"])
        )
        changes[-1]["index"] = PLAIN
    elif place == "provider constraint":
        data["configuration"]["provider_config"]["azurerm"] = {
            "name": "azurerm",
            "full_name": "registry.terraform.io/hashicorp/azurerm",
            "version_constraint": f"~> 4.0, != {PLAIN}",
        }
    else:
        raise AssertionError(place)


PLACES = (
    "check message",
    "check address",
    "condition message",
    "output value",
    "attribute value",
    "value cut at the one-line limit",
    "long JSON string diff",
    "multi-line string diff",
    "drift",
    "cost attribute",
    "action reason",
    "for_each key",
    "provider constraint",
)


def _plan_with_secrets(tmp_path: Path, place: str) -> Path:
    data: dict[str, Any] = json.loads((CASES / "c14_check_message_quotes_secret" / "plan.json").read_text())
    for number, secret in enumerate(SECRETS):
        name = f"secret_{number}"
        data["variables"][name] = {"value": secret}
        data["configuration"]["root_module"]["variables"][name] = {"sensitive": True}
    _plant(data, place)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    return path


def _audit(plan: Path, tmp_path: Path) -> AuditOutputs:
    return audit_plan(
        plan,
        env="dev",
        out_dir=tmp_path / "out",
        root=repo_root(),
        allow_list_path=FIXTURES / "no-allow-list.yaml",
        allow_list_required=False,
        policy_runner=lambda path, _root: checkov_clean(path),
        tfvars=(FIXTURES / "tfvars" / "dev.tfvars", FIXTURES / "tfvars" / "prod.tfvars"),
        now=NOW,
        price_book=PriceBook(None, fetch=lambda _filter: {"Items": []}, today=NOW.date()),
    )


def _every_rendering(outputs: AuditOutputs) -> dict[str, str]:
    return {
        "md": outputs.markdown.read_text(),
        "html": outputs.html.read_text(),
        "sarif": outputs.sarif.read_text(),
        "job summary": render_summary(outputs.report),
    }


@pytest.mark.parametrize("place", PLACES)
def test_a_secret_anywhere_the_plan_carries_text_reaches_no_rendering(tmp_path: Path, place: str) -> None:
    plan = _plan_with_secrets(tmp_path, place)
    assert {"secret_0", "secret_1", "secret_2"} <= load_plan(plan).sensitive_variables
    outputs = _audit(plan, tmp_path)
    assert leaks(_every_rendering(outputs)) == []


def test_the_planted_plans_do_reach_the_report(tmp_path: Path) -> None:
    """The places above are read: with the boundary switched off, the secrets show (so the test
    above can fail, and each place it plants in is one the report shows)."""
    shown = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(analysis, "scrub_everywhere", lambda item, _secrets: item)
        for place in PLACES:
            outputs = _audit(_plan_with_secrets(tmp_path / place.replace(" ", "-"), place), tmp_path / place)
            shown.append((place, bool(leaks(_every_rendering(outputs)))))
    assert [place for place, leaked in shown if not leaked] == []


def test_a_value_is_scrubbed_before_it_is_cut_escaped_or_split(tmp_path: Path) -> None:
    """Scrubbing the text after the value was cut, escaped or split (the boundary seeing only
    strings) would miss these: the model keeps the value itself up to the boundary."""
    outputs = _audit(_plan_with_secrets(tmp_path, "value cut at the one-line limit"), tmp_path)
    (diff,) = [d for r in outputs.report.resources for d in r.diffs if d.path == "tag"]
    assert diff.after.endswith("…")
    assert PLAIN[:5] not in diff.after
    assert diff.after.endswith("(sensiti…")  # the marker, cut where the secret would have been


# --- through the report model's type -----------------------------------------------------------

TEXT = f"text {ESCAPED} {MULTILINE} {PLAIN} text"


def _instance(kind: Any, text: Callable[[], str]) -> Any:
    """A value of `kind` (a type hint of the report model) with every string in it from `text`."""
    origin, arguments = typing.get_origin(kind), typing.get_args(kind)
    if origin is typing.Literal:
        return arguments[0]
    if origin in (typing.Union, types.UnionType):
        return _instance(next(a for a in arguments if a is not type(None)), text)
    if origin is tuple:
        if arguments[-1] is Ellipsis:
            return (_instance(arguments[0], text),)
        return tuple(_instance(argument, text) for argument in arguments)
    if origin in (dict, Mapping):
        return {_instance(arguments[0], text): _instance(arguments[1], text)}
    if kind is str:
        return text()
    if kind is bool:
        return True
    if kind in (int, float):
        return kind(7)
    if kind is dt.date:
        return dt.date(2026, 12, 7)
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        hints = typing.get_type_hints(kind)
        return kind.model_construct(**{name: _instance(hints[name], text) for name in kind.model_fields})
    if dataclasses.is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        # Hashes and commits the audit computes (COMPUTED_FIELDS) are never text from the plan.
        return kind(
            **{
                f.name: "0" * 64 if f.name in COMPUTED_FIELDS else _instance(hints[f.name], text)
                for f in dataclasses.fields(kind)
            }
        )  # type: ignore[operator]
    if kind is Any:
        return text()
    raise AssertionError(f"the report model has a field of a kind this test cannot fill: {kind!r}")


def _strings(item: Any) -> list[str]:
    """Every string anywhere in a value of the report model (fields, keys, items)."""
    if isinstance(item, str):
        return [item]
    if dataclasses.is_dataclass(item):
        return [s for f in dataclasses.fields(item) for s in _strings(getattr(item, f.name))]
    if isinstance(item, BaseModel):
        return [s for name in type(item).model_fields for s in _strings(getattr(item, name))]
    if isinstance(item, Mapping):
        return [s for key, value in item.items() for s in (*_strings(key), *_strings(value))]
    if isinstance(item, tuple | list):
        return [s for child in item for s in _strings(child)]
    return []


KNOWN = Secrets.of(set(SECRETS))
TEXTS: dict[str, Callable[[], str]] = {
    "text": lambda: TEXT,
    # A value of the plan, longer than the one-line limit, the secrets at its end.
    "plan value": lambda: PlanValue({"k": "x" * MAX_VALUE_CHARS, "s": list(SECRETS)}),
    "plan value cut": lambda: PlanValue(_cut_at_the_limit(PLAIN)),
}


def _model_leaks(boundary: Callable[[Any, Secrets], Any], text: Callable[[], str]) -> list[str]:
    report = boundary(_instance(AuditReport, text), KNOWN)
    found = leaks({f"field {n}": s for n, s in enumerate(_strings(report))})
    rendered = {
        "md": render_markdown(report),
        "html": render_html(report),
        "sarif": json.dumps(to_sarif(report)),
        "job summary": render_summary(report),
    }
    return found + leaks(rendered)


@pytest.mark.parametrize("text", TEXTS)
def test_every_field_of_the_report_model_passes_the_boundary(text: str) -> None:
    assert _model_leaks(scrub_everywhere, TEXTS[text]) == []


def _text_only(item: Any, secrets: Secrets) -> Any:
    """A broken boundary that scrubs text only: a PlanValue's text (cut at the one-line limit), not
    the value it holds."""
    if isinstance(item, PlanValue):
        return scrub_everywhere(str(item), secrets)
    if dataclasses.is_dataclass(item) and not isinstance(item, type):
        changes = {f.name: _text_only(getattr(item, f.name), secrets) for f in dataclasses.fields(item)}
        return dataclasses.replace(item, **changes)
    if isinstance(item, tuple):
        return tuple(_text_only(child, secrets) for child in item)
    if isinstance(item, Mapping):
        return {key: _text_only(value, secrets) for key, value in item.items()}
    return scrub_everywhere(item, secrets)


def test_the_model_test_fails_on_a_broken_boundary() -> None:
    def forgets_mappings(item: Any, secrets: Secrets) -> Any:
        if isinstance(item, Mapping):
            return item
        if dataclasses.is_dataclass(item) and not isinstance(item, type):
            changes = {
                f.name: forgets_mappings(getattr(item, f.name), secrets) for f in dataclasses.fields(item)
            }
            return dataclasses.replace(item, **changes)
        if isinstance(item, tuple):
            return tuple(forgets_mappings(child, secrets) for child in item)
        return scrub_everywhere(item, secrets)

    assert _model_leaks(lambda item, _secrets: item, TEXTS["text"])  # no boundary at all
    assert _model_leaks(forgets_mappings, TEXTS["text"])  # a kind of field it does not descend into
    assert _model_leaks(_text_only, TEXTS["plan value cut"])  # scrubbing text after the value was cut


def test_the_boundary_refuses_a_kind_of_value_it_cannot_scrub() -> None:
    with pytest.raises(TypeError, match="cannot scrub a set"):
        scrub_everywhere({"texts": {TEXT}}, KNOWN)
    assert copy.deepcopy(scrub_everywhere((TEXT, 1, None), KNOWN))[1:] == (1, None)
