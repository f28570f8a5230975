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
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from audit_helpers import FIXTURES, checkov_clean

from stackctl.audit.plan import load_plan
from stackctl.audit.pricing import PriceBook
from stackctl.audit.provenance import repository_uri
from stackctl.audit.runner import AuditOutputs, audit_plan
from stackctl.checks.checkov import parse_checkov_json
from stackctl.commands.audit import write_job_summary
from stackctl.errors import StackctlError
from stackctl.hashing import sha256_file
from stackctl.paths import repo_root
from stackctl.terraform.review import read_review, record_review

CASES = Path(__file__).resolve().parent / "cases3"
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def run_audit(
    plan: Path,
    tmp_path: Path,
    *,
    env: str = "dev",
    allow_list: Path | None = None,
    price_book: PriceBook | None = None,
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
        price_book=price_book or PriceBook(None, fetch=offline, today=NOW.date()),
    )


def offline(odata_filter: str) -> dict[str, Any]:
    raise OSError("network unreachable")


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


# --- item 7: SARIF that points at the code, validated against the SARIF 2.1.0 schema -------------

SARIF_SCHEMA = json.loads((FIXTURES / "sarif-2.1.0-rtm.5.json").read_text(encoding="utf-8"))


def _policy_runner(plan: Path, _root: Path) -> Any:
    """checkov's recorded result, as it reports a plan enriched from envs/<env>: the .tf file
    relative to the root, and the code's lines."""
    raw = json.loads((FIXTURES / "checkov_create_only.json").read_text())
    runs = raw if isinstance(raw, list) else [raw]
    for run in runs:
        for result in run["results"]["failed_checks"]:
            result["file_path"] = "../../modules/data_lake/main.tf"
            result["file_line_range"] = [2, 50]
    return parse_checkov_json(raw, target=plan, framework="terraform_plan")


def test_sarif_policy_results_point_at_the_tf_file_and_validate(tmp_path: Path) -> None:
    outputs = audit_plan(
        FIXTURES / "create_only.json",
        env="dev",
        out_dir=tmp_path / "out",
        root=repo_root(),
        allow_list_path=FIXTURES / "none.yaml",
        allow_list_required=False,
        policy_runner=_policy_runner,
        tfvars=(FIXTURES / "tfvars" / "dev.tfvars", FIXTURES / "tfvars" / "prod.tfvars"),
        now=NOW,
        price_book=PriceBook(None, fetch=offline),
    )
    sarif = json.loads(outputs.sarif.read_text())
    errors = list(jsonschema.Draft4Validator(SARIF_SCHEMA).iter_errors(sarif))
    assert not errors, [e.message for e in errors[:3]]
    policy = [r for r in sarif["runs"][0]["results"] if r["ruleId"] == "FSA002"]
    assert policy
    for result in policy:
        physical = result["locations"][0]["physicalLocation"]
        assert physical["artifactLocation"]["uri"] == "modules/data_lake/main.tf"
        assert physical["region"] == {"startLine": 2, "endLine": 50}
    markdown = outputs.markdown.read_text()
    assert "../../modules" not in markdown
    assert "modules/data\\_lake/main.tf:2-50" in markdown or "modules/data_lake/main.tf:2-50" in markdown


@pytest.mark.parametrize(
    ("case", "env"),
    [
        ("c03_long_json_string_change_truncated", "dev"),
        ("c05_prod_plan_audited_as_dev", "prod"),
        ("c14_check_message_quotes_secret", "dev"),
    ],
)
def test_sarif_of_each_handed_plan_validates(tmp_path: Path, case: str, env: str) -> None:
    outputs = run_audit(CASES / case / "plan.json", tmp_path, env=env)
    sarif = json.loads(outputs.sarif.read_text())
    errors = list(jsonschema.Draft4Validator(SARIF_SCHEMA).iter_errors(sarif))
    assert not errors, [e.message for e in errors[:3]]
    # GitHub code scanning: every result has a location and a rule the driver lists
    rules = {rule["id"] for rule in sarif["runs"][0]["tool"]["driver"]["rules"]}
    for result in sarif["runs"][0]["results"]:
        assert result["locations"]
        assert result["ruleId"] in rules


@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("git@github.com:contoso/forecast-stack.git", "https://github.com/contoso/forecast-stack"),
        ("https://token@github.com/contoso/forecast-stack.git", "https://github.com/contoso/forecast-stack"),
        (
            "https://dev.azure.com/contoso/fcst/_git/forecast-stack",
            "https://dev.azure.com/contoso/fcst/_git/forecast-stack",
        ),
    ],
)
def test_the_repository_uri_comes_from_git(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, remote: str, expected: str
) -> None:
    for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "BUILD_REPOSITORY_URI"):
        monkeypatch.delenv(name, raising=False)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "remote", "add", "origin", remote], check=True)
    assert repository_uri(tmp_path) == expected


def test_without_a_remote_no_repository_uri_is_invented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "BUILD_REPOSITORY_URI"):
        monkeypatch.delenv(name, raising=False)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    assert repository_uri(tmp_path) is None


# --- item 11: provenance --------------------------------------------------------------------------


def test_c05_other_provider_constraints_and_an_old_plan_are_flagged(tmp_path: Path) -> None:
    case = CASES / "c05_prod_plan_audited_as_dev"
    outputs = run_audit(case / "plan.json", tmp_path, env="prod", allow_list=case / "allow_dev_only.yaml")
    titles = [f.title for f in outputs.report.findings_of("provenance")]
    assert any(
        "azurerm constraint '>= 4.0, < 5.0' is not the repository's '>= 5.10.0, < 6.0.0'" in t for t in titles
    )
    assert any(t.startswith("the plan is 17 days old") for t in titles)


@pytest.mark.parametrize(
    ("timestamp", "constraint", "expected"),
    [
        ("2026-12-07T08:00:00Z", ">= 5.10.0, < 6.0.0", 0),  # today, the pinned range
        ("2026-12-05T08:00:00Z", ">= 5.10.0, < 6.0.0", 0),  # two days: still fresh
        ("2026-12-01T08:00:00Z", ">= 5.10.0, < 6.0.0", 1),  # six days old
        ("2026-12-07T08:00:00Z", ">= 5.0.0, < 6.0.0", 1),  # a wider range than the pin
    ],
)
def test_provenance_flags_only_what_differs(
    tmp_path: Path, timestamp: str, constraint: str, expected: int
) -> None:
    data = plan_json("c05_prod_plan_audited_as_dev")
    data["timestamp"] = timestamp
    data["configuration"]["provider_config"]["azurerm"]["version_constraint"] = constraint
    outputs = run_audit(write_plan(tmp_path, data), tmp_path, env="prod")
    assert len(outputs.report.findings_of("provenance")) == expected


# --- item 10: cost from the Azure Retail Prices data, or "not priced" ----------------------------

RECORDED_PRICES = {
    "Items": [
        {
            "productName": "Virtual Machines NCadsA100v4 Series Windows",
            "meterName": "NC24ads A100 v4",
            "unitOfMeasure": "1 Hour",
            "retailPrice": 5.1,
            "currencyCode": "USD",
        },
        {
            "productName": "Virtual Machines NCadsA100v4 Series",
            "meterName": "NC24ads A100 v4 Spot",
            "unitOfMeasure": "1 Hour",
            "retailPrice": 1.1,
            "currencyCode": "USD",
        },
        {
            "productName": "Virtual Machines NCadsA100v4 Series",
            "meterName": "NC24ads A100 v4",
            "unitOfMeasure": "1 Hour",
            "retailPrice": 4.2,
            "currencyCode": "USD",
        },
    ]
}


def _gpu_cluster_plan(tmp_path: Path) -> Path:
    data = plan_json("c03_long_json_string_change_truncated")
    change = data["resource_changes"][0]
    change.update(
        type="azurerm_machine_learning_compute_cluster",
        address="azurerm_machine_learning_compute_cluster.gpu",
        name="gpu",
    )
    change["change"] = {
        "actions": ["create"],
        "before": None,
        "after": {
            "vm_size": "Standard_NC24ads_A100_v4",
            "scale_settings": [{"max_node_count": 4, "min_node_count": 0}],
        },
    }
    data["variables"] = {"location": {"value": "westeurope"}}
    return write_plan(tmp_path, data)


def test_vm_sizes_are_priced_from_the_retail_prices_api_and_cached(tmp_path: Path) -> None:
    calls: list[str] = []

    def recorded(odata_filter: str) -> dict[str, Any]:
        calls.append(odata_filter)
        return RECORDED_PRICES

    cache = tmp_path / "prices.json"
    book = PriceBook(cache, fetch=recorded, today=NOW.date())
    outputs = run_audit(_gpu_cluster_plan(tmp_path), tmp_path, price_book=book)
    (vm,) = [c for c in outputs.report.costs if c.attribute == "vm_size"]
    assert vm.price == (
        "USD 4.2000/hour per node, USD 16.80/hour at 4 nodes (Azure Retail Prices, fetched 2026-12-07)"
    )
    assert "armSkuName eq 'Standard_NC24ads_A100_v4'" in calls[0]
    assert "armRegionName eq 'westeurope'" in calls[0]
    again = PriceBook(cache, fetch=offline, today=NOW.date() + dt.timedelta(days=3))
    assert again.vm_hourly("westeurope", "Standard_NC24ads_A100_v4").hourly == 4.2  # from the cache
    stale = PriceBook(cache, fetch=offline, today=NOW.date() + dt.timedelta(days=30))
    assert stale.vm_hourly("westeurope", "Standard_NC24ads_A100_v4").hourly is None


def test_offline_every_cost_row_says_not_priced_and_no_number_is_invented(tmp_path: Path) -> None:
    outputs = run_audit(_gpu_cluster_plan(tmp_path), tmp_path)
    assert outputs.report.costs
    for cost in outputs.report.costs:
        assert cost.price.startswith("not priced: "), cost
    (vm,) = [c for c in outputs.report.costs if c.attribute == "vm_size"]
    assert "prices.azure.com not reachable" in vm.price
    assert "not priced" in outputs.markdown.read_text()


# --- item 9: who reviewed -------------------------------------------------------------------------


def test_make_review_records_the_ci_approver_the_time_and_the_report_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = tmp_path / "tfplan"
    plan.write_bytes(b"PK\x03\x04 plan")
    (tmp_path / "audit.md").write_text("# report\n")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_ACTOR", "joe-pusher")
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    record = record_review(plan, tmp_path / "plan.reviewed", now=NOW)
    # Without a token the approver is not known; the actor started the run and is not named as
    # approver (review-23 M3; tests/stackctl/test_review_approver.py reads the approvals API).
    assert record.reviewer is None
    assert record.reviewer_source is not None
    assert record.reviewer_source.startswith("approver not known")
    assert record.triggered_by == "joe-pusher"
    assert record.reviewed_at == "2026-12-07T12:00:00Z"
    assert record.audit_report_sha256 == sha256_file(tmp_path / "audit.md")
    assert read_review(tmp_path / "plan.reviewed") == record
    assert "approver not known" in record.describe()
    assert "run started by joe-pusher" in record.describe()


def test_locally_the_git_identity_is_the_reviewer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_ACTOR", "TF_BUILD"):
        monkeypatch.delenv(name, raising=False)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "config", "user.name", "Jo Reviewer"], check=True)
    subprocess.run(["git", "-C", str(tmp_path), "config", "user.email", "jo@example.com"], check=True)
    plan = tmp_path / "tfplan"
    plan.write_bytes(b"plan")
    record = record_review(plan, tmp_path / "plan.reviewed", now=NOW)
    assert record.reviewer == "Jo Reviewer <jo@example.com>"
    assert record.reviewer_source == "git identity"
    assert record.audit_report_sha256 is None
    assert "no audit report was recorded" in record.describe()


def test_an_old_one_line_review_marker_is_still_read(tmp_path: Path) -> None:
    (tmp_path / "plan.reviewed").write_text("ab" * 32 + "\n")
    assert read_review(tmp_path / "plan.reviewed").plan_sha256 == "ab" * 32


def test_the_audit_summary_goes_to_the_ci_job_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "step-summary.md"
    summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    case = CASES / "c05_prod_plan_audited_as_dev"
    outputs = run_audit(case / "plan.json", tmp_path, env="prod", allow_list=case / "allow_dev_only.yaml")
    assert write_job_summary(outputs) == summary
    text = summary.read_text()
    assert text.startswith("earlier step\n# Terraform plan audit: prod")
    assert "**Verdict: BLOCKED**" in text
    assert "## Findings" in text
    assert sha256_file(outputs.markdown) in text


def test_without_a_job_summary_nothing_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    outputs = run_audit(CASES / "c14_check_message_quotes_secret" / "plan.json", tmp_path)
    assert write_job_summary(outputs) is None
