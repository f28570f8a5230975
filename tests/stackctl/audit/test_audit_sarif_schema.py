"""audit.sarif validates against the SARIF 2.1.0 JSON schema.

fixtures/sarif-2.1.0-rtm.5.json is the schema as published on SchemaStore, taken unchanged from
the npm package @microsoft/jest-sarif 1.0.0-beta.0 (MIT), so the check runs offline.
"""

from __future__ import annotations

import json

import jsonschema
import pytest
from audit_helpers import FIXTURES, audit_report, recorded_checkov

from stackctl.audit.sarif import to_sarif

SCHEMA = json.loads((FIXTURES / "sarif-2.1.0-rtm.5.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("name", "allow_list"),
    [
        ("create_only", None),
        ("update_sensitive", None),
        ("replace_storage", None),
        ("delete_sql", "allow_sql_delete.yaml"),
        ("drift", None),
        ("no_changes", None),
    ],
)
def test_sarif_is_valid_against_the_published_schema(name: str, allow_list: str | None) -> None:
    checkov = recorded_checkov("create_only") if name == "create_only" else None
    sarif = to_sarif(audit_report(name, allow_list=allow_list, checkov=checkov))
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(sarif), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def test_the_schema_check_catches_a_broken_log() -> None:
    sarif = to_sarif(audit_report("delete_sql"))
    sarif["runs"][0]["results"][0]["level"] = "fatal"
    del sarif["runs"][0]["tool"]["driver"]["name"]
    messages = [e.message for e in jsonschema.Draft4Validator(SCHEMA).iter_errors(sarif)]
    assert any("fatal" in m for m in messages)
    assert any("'name' is a required property" in m for m in messages)
