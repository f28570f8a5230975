"""Masking and attribute diffs: Terraform's sensitivity and unknown maps, nested as the values are."""

from __future__ import annotations

from typing import Any

from stackctl.audit.plan import Change, parse_plan
from stackctl.audit.values import (
    SENSITIVE,
    UNKNOWN,
    attribute_diffs,
    collect_secrets,
    is_marked,
    masked,
    scrub,
    scrub_everywhere,
)


def update(before: Any, after: Any, **marks: Any) -> Change:
    return Change(actions=("update",), before=before, after=after, **marks)


def test_masked_follows_the_shape_of_the_sensitivity_map() -> None:
    value = {
        "name": "x",
        "secrets": [{"key": "a", "value": "s1"}, {"key": "b", "value": "s2"}],
        "all": {"p": 1},
    }
    marks = {"secrets": [{"value": True}, {"value": True}], "all": True}
    assert masked(value, marks) == {
        "name": "x",
        "secrets": [{"key": "a", "value": SENSITIVE}, {"key": "b", "value": SENSITIVE}],
        "all": SENSITIVE,
    }
    assert masked("whole", True) == SENSITIVE
    assert masked(value, False) == value


def test_a_mark_above_a_path_covers_it() -> None:
    assert is_marked({"site_config": True}, ("site_config", 0, "app_settings"))
    assert not is_marked({"site_config": [{"x": True}]}, ("site_config", 0, "y"))
    assert is_marked({"site_config": [{"x": True}]}, ("site_config", 0, "x"))


def test_sensitive_leaves_are_compared_but_never_shown() -> None:
    diffs = attribute_diffs(
        update(
            {"password": "old-secret-1", "login": "admin"},
            {"password": "new-secret-2", "login": "admin"},
            before_sensitive={"password": True},
            after_sensitive={"password": True},
        )
    )
    assert [(d.path, d.before, d.after, d.sensitive) for d in diffs] == [
        ("password", SENSITIVE, SENSITIVE, True)
    ]


def test_an_unchanged_sensitive_value_is_not_a_change() -> None:
    same = update({"password": "p"}, {"password": "p"}, before_sensitive={"password": True})
    assert attribute_diffs(same) == []


def test_a_sensitive_subtree_is_one_masked_entry() -> None:
    diffs = attribute_diffs(
        update(
            {"connection": {"user": "u", "password": "a-old"}},
            {"connection": {"user": "u", "password": "a-new"}},
            after_sensitive={"connection": True},
        )
    )
    assert [(d.path, d.before, d.after) for d in diffs] == [("connection", SENSITIVE, SENSITIVE)]


def test_a_value_that_becomes_sensitive_is_masked_on_both_sides() -> None:
    diffs = attribute_diffs(
        update({"token": "clear-before"}, {"token": "clear-after"}, after_sensitive={"token": True})
    )
    assert [(d.before, d.after) for d in diffs] == [(SENSITIVE, SENSITIVE)]


def test_unknown_values_read_known_after_apply_and_replace_paths_are_flagged() -> None:
    change = Change(
        actions=("delete", "create"),
        before={"id": "1", "name": "a", "tags": {}},
        after={"name": "b", "tags": {}},
        after_unknown={"id": True},
        replace_paths=(("name",),),
    )
    diffs = {d.path: d for d in attribute_diffs(change)}
    assert diffs["id"].after == UNKNOWN
    assert diffs["name"].forces_replacement
    assert not diffs["id"].forces_replacement
    assert set(diffs) == {"id", "name"}


def test_list_elements_are_diffed_by_position() -> None:
    diffs = attribute_diffs(update({"rules": [{"port": 80}, {"port": 443}]}, {"rules": [{"port": 80}]}))
    assert [(d.path, d.before, d.after) for d in diffs] == [("rules.1.port", "443", "(absent)")]


def test_secrets_are_collected_from_marks_and_sensitive_variables_and_scrubbed_anywhere() -> None:
    plan = parse_plan(
        {
            "format_version": "1.2",
            "terraform_version": "1.11.4",
            "variables": {"api_token": {"value": "tok-123456"}, "region": {"value": "westeurope"}},
            "configuration": {"root_module": {"variables": {"api_token": {"sensitive": True}, "region": {}}}},
            "resource_changes": [
                {
                    "address": "terraform_data.x",
                    "mode": "managed",
                    "type": "terraform_data",
                    "name": "x",
                    "change": {
                        "actions": ["update"],
                        "before": {"input": {"pw": "hunter22"}, "output": {"pw": "hunter22"}},
                        "after": {"input": {"pw": "hunter22"}},
                        "before_sensitive": {"input": {"pw": True}, "output": {}},
                        "after_sensitive": {"input": {"pw": True}},
                    },
                }
            ],
        }
    )
    secrets = collect_secrets(plan)
    assert secrets.values == {'"hunter22"', '"tok-123456"'}
    assert set(secrets.embedded) == {"hunter22", "tok-123456"}
    assert scrub({"conn": "user=a;pw=hunter22", "n": 1}, secrets) == {
        "conn": f"user=a;pw={SENSITIVE}",
        "n": 1,
    }
    # The copy Terraform left unmarked (terraform_data.output) is scrubbed from the diff, too, at
    # the report's one boundary.
    diffs = scrub_everywhere(tuple(attribute_diffs(plan.resource_changes[0].change)), secrets)
    rendered = " ".join(d.before for d in diffs)
    assert "hunter22" not in rendered
