"""Each hand-written plan (Terraform's documented JSON format) gives its expected findings and exit."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
from audit_helpers import (
    FIXTURES,
    SECRETS,
    TODAY,
    audit_report,
    checkov_clean,
    fixed_provenance,
    recorded_checkov,
)

from stackctl.audit.allow_list import AllowList
from stackctl.audit.analysis import AuditReport, build_report
from stackctl.audit.plan import parse_plan
from stackctl.audit.render import render_html, render_markdown
from stackctl.audit.sarif import RULES, to_sarif
from stackctl.checks.hclmodel import read_dir
from stackctl.paths import repo_root

SNAPSHOTS = FIXTURES.parent / "snapshots"
DL = "module.stack.module.data_lake"
SQL = "module.stack.module.sql"
KV = "module.stack.module.key_vault"
MON = "module.stack.module.monitoring"
CMP = "module.stack.module.aml_compute"


def blocking_addresses(report: AuditReport) -> set[str | None]:
    return {f.address for f in report.blocking}


@pytest.mark.parametrize(
    ("name", "allow_list", "exit_code", "findings"),
    [
        ("create_only", None, 0, {("cost-change", "info"): 6}),
        ("update_sensitive", None, 0, {("cost-change", "info"): 2}),
        ("replace_storage", None, 1, {("destructive-change", "blocking"): 1}),
        (
            "delete_sql",
            None,
            1,
            {
                ("destructive-change", "blocking"): 1,
                ("destructive-change", "warning"): 1,
                ("cost-change", "info"): 3,
            },
        ),
        (
            "delete_sql",
            "allow_sql_delete.yaml",
            0,
            {
                ("destructive-change", "info"): 1,
                ("destructive-change", "warning"): 1,
                ("cost-change", "info"): 3,
            },
        ),
        ("drift", None, 0, {("drift", "warning"): 3, ("cost-change", "info"): 2}),
        ("no_changes", None, 0, {}),
    ],
)
def test_each_fixture_gives_its_expected_findings_and_exit_status(
    name: str, allow_list: str | None, exit_code: int, findings: dict[tuple[str, str], int]
) -> None:
    report = audit_report(name, allow_list=allow_list, parity=False)
    assert report.exit_code == exit_code
    assert Counter((f.kind, f.severity) for f in report.findings) == findings


def test_create_only_passes_and_lists_what_it_costs() -> None:
    report = audit_report("create_only")

    assert report.exit_code == 0
    assert report.counts["create"] == 3
    assert report.findings_of("destructive-change") == ()
    costs = {(c.address, c.attribute): c.after for c in report.costs}
    assert (
        costs[(f'{CMP}.azurerm_machine_learning_compute_cluster.this["cpu"]', "vm_size")]
        == '"Standard_DS3_v2"'
    )
    assert (
        costs[
            (f'{CMP}.azurerm_machine_learning_compute_cluster.this["cpu"]', "scale_settings.0.max_node_count")
        ]
        == "4"
    )
    assert costs[(f"{DL}.azurerm_storage_account.this", "account_replication_type")] == '"LRS"'
    assert list(report.by_module) == ["module.stack", CMP, DL]


def test_update_shows_attribute_diffs_with_sensitive_values_masked() -> None:
    report = audit_report("update_sensitive")

    assert report.exit_code == 0
    server = next(r for r in report.resources if r.address == f"{SQL}.azurerm_mssql_server.this")
    diffs = {d.path: (d.before, d.after, d.sensitive) for d in server.diffs}
    assert diffs == {
        "administrator_login_password": ("(sensitive value)", "(sensitive value)", True),
        "azuread_administrator.0.login_username": ('"sql-admins-old"', '"sql-admins"', False),
        "tags.owner": ("(absent)", '"data-platform"', False),
    }
    cost = {(c.attribute, c.before, c.after) for c in report.costs}
    assert cost == {("sku_name", '"S0"', '"S1"'), ("max_size_gb", "10", "20")}
    assert [(o.name, o.before, o.after) for o in report.outputs] == [
        ("sql_connection_string", "(sensitive value)", "(sensitive value)")
    ]


def test_replacing_the_storage_account_blocks() -> None:
    report = audit_report("replace_storage")

    assert report.exit_code == 1
    assert blocking_addresses(report) == {f"{DL}.azurerm_storage_account.this"}
    (finding,) = report.blocking
    assert "storage account" in finding.detail
    assert "forced by is_hns_enabled" in finding.detail
    (resource,) = report.resources
    assert [d.path for d in resource.diffs if d.forces_replacement] == ["is_hns_enabled"]


def test_deleting_the_sql_database_blocks_until_the_allow_list_names_it() -> None:
    blocked = audit_report("delete_sql")
    assert blocked.exit_code == 1
    assert blocking_addresses(blocked) == {f"{SQL}.azurerm_mssql_database.this"}
    # The action group holds no data: reported, never blocking.
    (warning,) = [f for f in blocked.findings if f.severity == "warning"]
    assert warning.address == f"{MON}.azurerm_monitor_action_group.this"

    allowed = audit_report("delete_sql", allow_list="allow_sql_delete.yaml")
    assert allowed.exit_code == 0
    (destructive,) = [f for f in allowed.findings_of("destructive-change") if f.allowed_by]
    assert destructive.allowed_by is not None
    assert destructive.allowed_by.approved_by == "jane.doe@example.com"


def test_an_allow_list_entry_applies_only_to_its_environments_and_until_it_expires() -> None:
    in_prod = audit_report("delete_sql", env="prod", allow_list="allow_sql_delete.yaml")
    assert in_prod.exit_code == 1

    after_expiry = audit_report("delete_sql", allow_list="allow_sql_delete.yaml", today=dt.date(2100, 1, 1))
    assert after_expiry.exit_code == 1
    assert "expired" in after_expiry.blocking[0].detail


def test_drift_is_reported_masked_and_says_whether_the_plan_reverts_it() -> None:
    report = audit_report("drift")

    assert report.exit_code == 0
    drift = {item.address: item for item in report.drift}
    storage = drift[f"{DL}.azurerm_storage_account.this"]
    assert storage.reverted_by_plan
    assert {d.path: d.after for d in storage.diffs} == {
        "public_network_access_enabled": "true",
        "tags.cost-center": '"1234"',
    }
    secret = drift[f"{MON}.azurerm_application_insights.this"]
    assert [(d.path, d.before, d.after) for d in secret.diffs] == [
        ("connection_string", "(sensitive value)", "(sensitive value)")
    ]
    deleted = drift[f"{MON}.azurerm_log_analytics_workspace.this"]
    assert deleted.kind == "delete"
    # deleted outside Terraform, and this plan creates it again (issue 26: it was "keeps the change")
    assert deleted.plan_kind == "create"
    assert deleted.reverted_by_plan
    assert deleted.consequence.startswith("this plan re-creates it, empty")
    assert len(report.findings_of("drift")) == 3
    assert all(f.severity == "warning" for f in report.findings_of("drift"))


def test_no_changes_gives_an_empty_passing_report() -> None:
    report = audit_report("no_changes", parity=False)

    assert report.exit_code == 0
    assert report.findings == ()
    assert report.counts["no-op"] == 2
    assert report.by_module == {}
    assert report.outputs == ()


def test_failed_policy_checks_block() -> None:
    report = audit_report("create_only", checkov=recorded_checkov("create_only"))

    assert report.exit_code == 1
    failed = {f.title.split(":")[0] for f in report.findings_of("policy-failure")}
    assert "CKV_AZURE_206" in failed
    assert all(f.blocking for f in report.findings_of("policy-failure"))
    assert (report.policy.passed, report.policy.failed) == (11, 6)


def test_unchecked_policies_block_the_gate() -> None:
    report = audit_report("no_changes", policies_checked=False)

    assert report.exit_code == 1
    assert [f.kind for f in report.blocking] == ["policy-not-checked"]


def test_parity_lists_variable_differences_and_masks_secret_names() -> None:
    report = audit_report("create_only")

    assert report.parity is not None
    parity = {item.path: (item.dev, item.prod) for item in report.parity}
    assert parity["aml.cpu_vm_size"] == ('"Standard_DS3_v2"', '"Standard_DS4_v2"')
    assert parity["zone_redundant"] == ("(not set)", "true")
    assert parity["sql_admin_password"] == ("(sensitive value)", "(sensitive value)")


ALL_FIXTURES = ("create_only", "update_sensitive", "replace_storage", "delete_sql", "drift", "no_changes")


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_no_secret_reaches_any_rendering(name: str) -> None:
    report = audit_report(name)
    rendered = render_markdown(report) + render_html(report) + json.dumps(to_sarif(report))
    for secret in SECRETS:
        assert secret not in rendered, f"{secret!r} leaked into the {name} report"


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_markdown_matches_its_snapshot(name: str) -> None:
    checkov = recorded_checkov("create_only") if name == "create_only" else None
    rendered = render_markdown(audit_report(name, checkov=checkov))
    snapshot = SNAPSHOTS / f"{name}.md"
    if os.environ.get("UPDATE_AUDIT_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(exist_ok=True)
        snapshot.write_text(rendered, encoding="utf-8")
    assert snapshot.exists(), f"no snapshot {snapshot}; create it: UPDATE_AUDIT_SNAPSHOTS=1 pytest {__file__}"
    assert rendered == snapshot.read_text(encoding="utf-8"), (
        f"the Markdown of {name} differs from {snapshot}; if the change is intended, review the diff and "
        f"regenerate: UPDATE_AUDIT_SNAPSHOTS=1 .venv/bin/pytest {__file__}"
    )


class _AssetCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.references: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.references += [value or "" for key, value in attrs if key in ("src", "href")]


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_html_is_self_contained(name: str) -> None:
    collector = _AssetCollector()
    collector.feed(render_html(audit_report(name)))

    assert not collector.tags & {"script", "link", "img", "iframe", "object"}
    assert all(ref.startswith("#") for ref in collector.references)
    assert "style" in collector.tags


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_sarif_has_one_result_per_finding_and_one_rule_per_kind(name: str) -> None:
    report = audit_report(name, allow_list="allow_sql_delete.yaml" if name == "delete_sql" else None)
    sarif = to_sarif(report)

    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert len({rule["id"] for rule in rules}) == len(rules) == len(RULES)
    assert len(run["results"]) == len(report.findings)
    for result, finding in zip(run["results"], report.findings, strict=True):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == RULES[finding.kind][0]
        assert (
            result["level"] == {"blocking": "error", "warning": "warning", "info": "note"}[finding.severity]
        )
        assert result["message"]["text"]
        assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "build/dev/plan.json"
        assert ("suppressions" in result) == (finding.allowed_by is not None)
    assert run["invocations"][0]["exitCode"] == report.exit_code


def test_markdown_and_html_escape_what_the_plan_contains() -> None:
    hostile = '<script>alert("x")</script> | **bold**'
    raw = json.loads((FIXTURES / "update_sensitive.json").read_text())
    # A tag value is free text that anyone with write access to a variable can put into a plan.
    raw["resource_changes"][0]["change"]["after"]["tags"]["note"] = hostile
    report = build_report(
        parse_plan(raw),
        provenance=fixed_provenance(),
        allow_list=AllowList(),
        checkov=checkov_clean(FIXTURES / "update_sensitive.json"),
        parity=None,
        today=TODAY,
    )

    html = render_html(report)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    markdown = render_markdown(report)
    row = next(line for line in markdown.splitlines() if line.startswith("| `tags.note`"))
    # The value stays inside its code span and its table cell: the pipe is escaped.
    assert len(re.findall(r"(?<!\\)\|", row)) == 4
    assert "\\|" in row
    assert re.search(r"`[^`]*<script>[^`]*`", row)


def test_policy_findings_point_at_their_lines_of_the_plan_in_sarif() -> None:
    report = audit_report("create_only", checkov=recorded_checkov("create_only"))
    results = [r for r in to_sarif(report)["runs"][0]["results"] if r["ruleId"] == "FSA002"]

    assert len(results) == 6
    for result in results:
        region = result["locations"][0]["physicalLocation"]["region"]
        assert 1 <= region["startLine"] <= region["endLine"]


def test_moves_and_deferred_data_source_reads_are_shown() -> None:
    raw = json.loads((FIXTURES / "no_changes.json").read_text())
    moved = raw["resource_changes"][0]
    moved["previous_address"] = "module.stack.azurerm_resource_group.main"
    raw["resource_changes"].append(
        {
            "address": "data.azurerm_client_config.current",
            "mode": "data",
            "type": "azurerm_client_config",
            "name": "current",
            "change": {"actions": ["read"], "before": None, "after": {}, "after_unknown": {"id": True}},
            "action_reason": "read_because_config_unknown",
        }
    )
    report = build_report(
        parse_plan(raw),
        provenance=fixed_provenance(),
        allow_list=AllowList(),
        checkov=checkov_clean(FIXTURES / "no_changes.json"),
        parity=None,
        today=TODAY,
    )

    assert report.counts["read"] == 1
    assert list(report.by_module) == ["module.stack"]
    markdown = render_markdown(report)
    assert "#### moved or imported, otherwise unchanged (1)" in markdown
    assert "moved from `module.stack.azurerm_resource_group.main`" in markdown


_MODULE_ADDRESS = re.compile(
    r"^module\.stack\.(?:module\.(?P<module>[a-z_]+)\.)?(?P<type>[a-z0-9_]+)\.(?P<name>[a-z0-9_]+)(?:\[.*\])?$"
)


def _addresses(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("address"), str) and "type" in node:
            yield node["address"]
        for child in node.values():
            yield from _addresses(child)
    elif isinstance(node, list):
        for child in node:
            yield from _addresses(child)


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_fixtures_name_the_addresses_our_modules_produce(name: str) -> None:
    """A fixture that names `azurerm_mssql_database.reporting` where modules/sql says `.this`
    tests a plan this stack can never make."""
    declared = {
        (directory.name, block.type, block.name)
        for directory in [*sorted((repo_root() / "modules").iterdir()), repo_root() / "infra"]
        if directory.is_dir()
        for block in read_dir(directory).blocks
    }
    raw = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    for address in set(_addresses(raw)):
        match = _MODULE_ADDRESS.match(address)
        assert match, f"{name}: {address} is not an address of the stack (module.stack...)"
        module = match["module"] or "infra"
        assert (module, match["type"], match["name"]) in declared, (
            f"{name}: {address}: {module} declares no {match['type']}.{match['name']}"
        )
