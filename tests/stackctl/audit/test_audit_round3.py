"""Issue 26: an audit an auditor can sign. Each handed case (tests/stackctl/audit/cases3/, from
../shared/cases/audit3/) with its right outcome, and instances of our own for each kind."""

from __future__ import annotations

import bz2
import copy
import datetime as dt
import gzip
import io
import json
import lzma
import zipfile
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import FIXTURES, checkov_clean

from stackctl.audit.plan import load_plan
from stackctl.audit.runner import AuditOutputs, audit_plan
from stackctl.errors import StackctlError
from stackctl.paths import repo_root

CASES = Path(__file__).resolve().parent / "cases3"
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def run_audit(
    plan: Path, tmp_path: Path, *, env: str = "dev", allow_list: Path | None = None
) -> AuditOutputs:
    """The audit as `stackctl audit` runs it, with checkov's clean result and the fixture tfvars."""
    return audit_plan(
        plan,
        env=env,
        out_dir=tmp_path / "out",
        root=repo_root(),
        allow_list_path=allow_list or FIXTURES / "no-allow-list.yaml",
        allow_list_required=allow_list is not None,
        policy_runner=lambda path, _root: checkov_clean(path),
        tfvars=(FIXTURES / "tfvars" / "dev.tfvars", FIXTURES / "tfvars" / "prod.tfvars"),
        now=NOW,
    )


def rendered(outputs: AuditOutputs) -> dict[str, str]:
    return {p.name: p.read_text() for p in (outputs.markdown, outputs.html, outputs.sarif)}


def plan_json(case: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CASES / case / "plan.json").read_text())
    return data


def write_plan(tmp_path: Path, data: dict[str, Any], name: str = "plan.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


# --- item 4: plain errors for common wrong inputs -------------------------------------------------

PLAN_BYTES = (CASES / "c03_long_json_string_change_truncated" / "plan.json").read_bytes()


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_c06_a_gzipped_plan_is_named_with_the_command_that_unpacks_it() -> None:
    path = CASES / "c06_gzipped_plan" / "plan.json.gz"
    with pytest.raises(StackctlError) as caught:
        load_plan(path)
    assert caught.value.what == "not a plan JSON file: it is gzip-compressed (.gz) data"
    assert caught.value.fix == "decompress it first: `gzip -dc plan.json.gz > plan.json`"
    assert "PowerShell" not in (caught.value.fix or "")


@pytest.mark.parametrize(
    ("data", "what", "command"),
    [
        (bz2.compress(PLAN_BYTES), "bzip2-compressed", "bzip2 -dc"),
        (lzma.compress(PLAN_BYTES), "xz-compressed", "xz -dc"),
        (_zip({"tfplan": b"x", "tfstate": b"y"}), "the binary plan", "terraform show -json tfplan"),
        (_zip({"plan.json": PLAN_BYTES}), "a ZIP archive holding plan.json", "unzip"),
        (b"Terraform will perform the following actions:\n  # x will be created\n", "human-readable", "-out"),
        (b'resource "azurerm_storage_account" "this" {\n  name = "x"\n}\n', "HCL", "make plan"),
        (b'# dev\nenvironment = "dev"\n', "HCL", "make plan"),
        (b'{"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "runs": []}', "SARIF", "plan JSON"),
        (b"", "empty", "terraform show -json"),
        (b"\x00\x01binary\x00\xffdata" * 10, "a binary file", "terraform show -json"),
    ],
)
def test_each_wrong_input_is_named_with_the_command_that_gives_the_plan_json(
    tmp_path: Path, data: bytes, what: str, command: str
) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(data)
    with pytest.raises(StackctlError) as caught:
        load_plan(path)
    assert caught.value.what.startswith("not a plan JSON file: it is ")
    assert what in caught.value.what
    assert command in (caught.value.fix or "")


def test_a_gzipped_plan_once_unpacked_is_read(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_bytes(gzip.decompress((CASES / "c06_gzipped_plan" / "plan.json.gz").read_bytes()))
    assert load_plan(path).terraform_version


# --- item 2: a plan for another environment -------------------------------------------------------


def test_c05_a_prod_plan_audited_as_dev_is_refused(tmp_path: Path) -> None:
    case = CASES / "c05_prod_plan_audited_as_dev"
    with pytest.raises(StackctlError) as caught:
        run_audit(case / "plan.json", tmp_path, env="dev", allow_list=case / "allow_dev_only.yaml")
    assert caught.value.what.startswith("the plan was made for prod, not dev")
    assert "--env prod" in (caught.value.fix or "")
    assert not (tmp_path / "out").exists()  # nothing written


def test_c05_audited_as_prod_the_dev_only_entry_does_not_approve_the_delete(tmp_path: Path) -> None:
    case = CASES / "c05_prod_plan_audited_as_dev"
    outputs = run_audit(case / "plan.json", tmp_path, env="prod", allow_list=case / "allow_dev_only.yaml")
    blocking = [f for f in outputs.report.findings if f.severity == "blocking"]
    assert [f.address for f in blocking] == ["module.stack.module.sql.azurerm_mssql_database.this"]


@pytest.mark.parametrize(
    ("variables", "audited_as", "made_for"),
    [
        ({"environment": {"value": "dev"}}, "prod", "dev"),
        # no `environment` variable: the roots' tfvars values tell
        ({"name_suffix": {"value": "d01"}, "location": {"value": "westeurope"}}, "prod", "dev"),
        ({"name_suffix": {"value": "p01"}}, "dev", "prod"),
    ],
)
def test_a_plan_of_another_environment_is_refused_by_its_own_values(
    tmp_path: Path, variables: dict[str, Any], audited_as: str, made_for: str
) -> None:
    data = plan_json("c05_prod_plan_audited_as_dev")
    data["variables"] = variables
    with pytest.raises(StackctlError) as caught:
        run_audit(write_plan(tmp_path, data), tmp_path, env=audited_as)
    assert caught.value.what.startswith(f"the plan was made for {made_for}, not {audited_as}")


@pytest.mark.parametrize(
    "variables", [{"environment": {"value": "prod"}}, {}, {"workload": {"value": "fcst"}}]
)
def test_a_plan_of_the_audited_environment_or_one_that_cannot_tell_is_read(
    tmp_path: Path, variables: dict[str, Any]
) -> None:
    data = plan_json("c05_prod_plan_audited_as_dev")
    data["variables"] = variables
    assert run_audit(write_plan(tmp_path, data), tmp_path, env="prod").report is not None


# --- item 1: a secret in any text the report takes from the plan ----------------------------------

C14_SECRET = "Tr0ub4dor&3-horse"


def test_c14_a_secret_quoted_in_a_check_message_is_masked_everywhere(tmp_path: Path) -> None:
    outputs = run_audit(CASES / "c14_check_message_quotes_secret" / "plan.json", tmp_path)
    for name, text in rendered(outputs).items():
        assert C14_SECRET not in text, name
    (failed,) = outputs.report.findings_of("check-failed")
    assert "SQL admin password '(sensitive value)' is shorter" in failed.detail


def _with_secret_in(tmp_path: Path, place: str) -> Path:
    """The c14 plan with its secret copied, unmarked, into one more text of the plan."""
    data = plan_json("c14_check_message_quotes_secret")
    text = f"value {C14_SECRET} quoted"
    if place == "check address":
        data["checks"][0]["address"]["to_display"] = f"check.{C14_SECRET}"
    elif place == "output":
        data["output_changes"] = {"dsn": {"actions": ["create"], "before": None, "after": text}}
    elif place == "drift":
        drifted = copy.deepcopy(data["resource_changes"][0])
        drifted["change"] = {**drifted["change"], "actions": ["update"], "after": {"input": text}}
        data["resource_drift"] = [drifted]
    elif place == "action reason":
        data["resource_changes"][0]["action_reason"] = text
    return write_plan(tmp_path, data)


@pytest.mark.parametrize("place", ["check address", "output", "drift", "action reason"])
def test_a_secret_in_any_plan_text_is_masked_in_every_report(tmp_path: Path, place: str) -> None:
    outputs = run_audit(_with_secret_in(tmp_path, place), tmp_path)
    for name, text in rendered(outputs).items():
        assert C14_SECRET not in text, (place, name)


def test_the_plan_hash_is_not_cut_by_a_numeric_secret(tmp_path: Path) -> None:
    data = plan_json("c14_check_message_quotes_secret")
    data["variables"]["sql_admin_password"]["value"] = "123"
    data["resource_changes"][0]["change"]["before"] = "123"
    outputs = run_audit(write_plan(tmp_path, data), tmp_path)
    assert len(outputs.report.provenance.plan_sha256) == 64
    assert "(sensitive value)" not in outputs.report.provenance.plan_sha256


# --- item 3: a change deep in a long or JSON string ----------------------------------------------


def test_c03_a_change_deep_in_a_json_string_is_shown(tmp_path: Path) -> None:
    outputs = run_audit(CASES / "c03_long_json_string_change_truncated" / "plan.json", tmp_path)
    (diff,) = [d for r in outputs.report.resources for d in r.diffs if d.path == "input"]
    assert '-          "container": "curated",' in diff.changes
    assert '+          "container": "public-exports",' in diff.changes
    markdown = outputs.markdown.read_text()
    assert '+          "container": "public-exports",' in markdown
    assert "public-exports" in outputs.html.read_text()


def _update(before: Any, after: Any) -> dict[str, Any]:
    data = plan_json("c03_long_json_string_change_truncated")
    data["resource_changes"][0]["change"]["before"] = {"input": before}
    data["resource_changes"][0]["change"]["after"] = {"input": after}
    return data


@pytest.mark.parametrize(
    ("before", "after", "removed", "added"),
    [
        # a KQL query: line by line
        (
            "customMetrics\n| where name == 'model_mape'\n| where value > 0.45\n| summarize count()",
            "customMetrics\n| where name == 'model_mape'\n| where value > 0.9\n| summarize count()",
            "-| where value > 0.45",
            "+| where value > 0.9",
        ),
        # one long line: the changed characters with context
        ("x" * 300 + "Deny" + "y" * 50, "x" * 300 + "Allow" + "y" * 50, "-[Deny]", "+[Allow]"),
        # JSON whose keys only moved shows no change, one whose value changed does
        (
            json.dumps({"a": 1, "b": {"c": "keep", "d": "old" * 100}}),
            json.dumps({"b": {"d": "new" * 100, "c": "keep"}, "a": 1}),
            '-    "d": "oldold',
            '+    "d": "newnew',
        ),
    ],
)
def test_long_and_structured_string_changes_are_diffed(
    tmp_path: Path, before: str, after: str, removed: str, added: str
) -> None:
    outputs = run_audit(write_plan(tmp_path, _update(before, after)), tmp_path)
    (diff,) = [d for r in outputs.report.resources for d in r.diffs if d.path == "input"]
    assert any(line.startswith(removed[0]) and removed[1:] in line for line in diff.changes), diff.changes
    assert any(line.startswith(added[0]) and added[1:] in line for line in diff.changes), diff.changes


def test_json_with_only_reordered_keys_has_no_diff_lines(tmp_path: Path) -> None:
    before = json.dumps({"a": 1, "b": "x" * 300})
    after = json.dumps({"b": "x" * 300, "a": 1})
    outputs = run_audit(write_plan(tmp_path, _update(before, after)), tmp_path)
    (diff,) = [d for r in outputs.report.resources for d in r.diffs if d.path == "input"]
    assert diff.changes == ()


# --- unlisted: a targeted plan, and drift deleted then re-created --------------------------------


@pytest.mark.parametrize("complete", [False])
def test_a_partial_plan_blocks_and_says_why(tmp_path: Path, complete: bool) -> None:
    data = plan_json("c03_long_json_string_change_truncated")
    data["complete"] = complete
    outputs = run_audit(write_plan(tmp_path, data), tmp_path)
    (finding,) = outputs.report.findings_of("incomplete-plan")
    assert finding.blocking
    assert "-target" in finding.title
    assert "FSA012" in outputs.markdown.read_text()


@pytest.mark.parametrize("complete", [True, None])
def test_a_complete_plan_or_one_that_does_not_say_is_not_flagged(
    tmp_path: Path, complete: bool | None
) -> None:
    data = plan_json("c03_long_json_string_change_truncated")
    data.pop("complete", None)
    if complete is not None:
        data["complete"] = complete
    assert run_audit(write_plan(tmp_path, data), tmp_path).report.findings_of("incomplete-plan") == ()


def _drifted(plan_action: list[str] | None, resource_type: str = "azurerm_storage_account") -> dict[str, Any]:
    data = plan_json("c03_long_json_string_change_truncated")
    change = data["resource_changes"][0]
    change["type"] = resource_type
    change["address"] = f"{resource_type}.this"
    drift = copy.deepcopy(change)
    drift["change"] = {"actions": ["delete"], "before": {"name": "x"}, "after": None}
    data["resource_drift"] = [drift]
    if plan_action is None:
        data["resource_changes"] = []
    else:
        change["change"] = {"actions": plan_action, "before": None, "after": {"name": "x"}}
    return data


@pytest.mark.parametrize(
    ("plan_action", "resource_type", "expected"),
    [
        (["create"], "azurerm_storage_account", "this plan re-creates it, empty; the storage account's data"),
        (["create"], "azurerm_monitor_action_group", "this plan re-creates it, empty"),
        (None, "azurerm_storage_account", "this plan does not re-create it: it stays deleted"),
    ],
)
def test_drift_deleted_outside_terraform_says_what_the_plan_does(
    tmp_path: Path, plan_action: list[str] | None, resource_type: str, expected: str
) -> None:
    outputs = run_audit(write_plan(tmp_path, _drifted(plan_action, resource_type)), tmp_path)
    (finding,) = outputs.report.findings_of("drift")
    assert expected in finding.detail
    assert "keeps the change" not in outputs.markdown.read_text()


# --- item 5: data held through azapi ------------------------------------------------------------


@pytest.mark.parametrize(
    ("arm_type", "holds"),
    [
        ("Microsoft.Storage/storageAccounts@2023-05-01", "storage account, through azapi"),
        ("Microsoft.Sql/servers/databases@2023-08-01-preview", "SQL database, through azapi"),
        ("microsoft.keyvault/vaults@2023-07-01", "Key Vault, through azapi"),
        ("Microsoft.MachineLearningServices/workspaces@2024-04-01", "AML workspace, through azapi"),
    ],
)
def test_an_azapi_delete_of_data_blocks_like_azurerm(tmp_path: Path, arm_type: str, holds: str) -> None:
    data = plan_json("c03_long_json_string_change_truncated")
    change = data["resource_changes"][0]
    change.update(type="azapi_resource", address="azapi_resource.this", name="this")
    change["change"] = {"actions": ["delete"], "before": {"type": arm_type, "name": "x"}, "after": None}
    outputs = run_audit(write_plan(tmp_path, data), tmp_path)
    (finding,) = outputs.report.findings_of("destructive-change")
    assert finding.blocking
    assert finding.detail.startswith(f"{holds}: its data is lost")


def test_an_azapi_delete_of_something_without_data_is_a_warning(tmp_path: Path) -> None:
    data = plan_json("c03_long_json_string_change_truncated")
    change = data["resource_changes"][0]
    change.update(type="azapi_resource", address="azapi_resource.this", name="this")
    arm_type = "Microsoft.Insights/actionGroups@2023-01-01"
    change["change"] = {"actions": ["delete"], "before": {"type": arm_type}, "after": None}
    (finding,) = run_audit(write_plan(tmp_path, data), tmp_path).report.findings_of("destructive-change")
    assert finding.severity == "warning"


# --- items 6 and 8: findings an auditor can read; unused allow-list entries ------------------------


def test_c05_findings_are_grouped_destructive_first_with_their_rule(tmp_path: Path) -> None:
    case = CASES / "c05_prod_plan_audited_as_dev"
    outputs = run_audit(case / "plan.json", tmp_path, env="prod", allow_list=case / "allow_dev_only.yaml")
    markdown = outputs.markdown.read_text()
    findings = markdown[markdown.index("## Findings") : markdown.index("## Destructive changes")]
    lines = [line for line in findings.splitlines() if line.strip().startswith("- ")]
    assert lines[0] == "- `module.stack.module.sql.azurerm_mssql_database.this`"
    assert lines[1].startswith("  - FSA001 destructive-change: ")
    assert findings.index("### Blocking") < findings.index("### Warning")
    html = outputs.html.read_text()
    assert '<nav aria-label="Contents">' in html
    assert '<a href="#findings-blocking">' in html


def test_an_unused_allow_list_entry_is_listed_in_markdown_and_html(tmp_path: Path) -> None:
    allow = tmp_path / "allow.yaml"
    allow.write_text(
        "version: 1\nallowed_destructive_changes:\n"
        "  - address: module.stack.module.data_lake.azurerm_storage_account.this\n"
        "    reason: moved to the shared account\n    approved_by: jane.doe@example.com\n"
    )
    plan = CASES / "c03_long_json_string_change_truncated" / "plan.json"
    outputs = run_audit(plan, tmp_path, allow_list=allow)
    markdown, html = outputs.markdown.read_text(), outputs.html.read_text()
    for text, heading in ((markdown, "## Allow-list entries"), (html, '<h2 id="allow-list-unused">')):
        section = text[text.index(heading) :]
        assert "module.stack.module.data_lake.azurerm_storage_account.this" in section[:2000]
