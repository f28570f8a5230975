"""Every plan shape of issue 14 that broke other plan readers (tests/stackctl/audit/cases/, from
../shared/cases/audit/: genuine `terraform show -json` of Terraform 1.11 where Terraform makes the
shape offline), each with the outcome an auditor needs; and the kinds behind them, tried wider."""

from __future__ import annotations

import codecs
import json
from pathlib import Path
from typing import Any

import pytest
from audit_helpers import checkov_clean, fixed_provenance

from stackctl.audit.allow_list import AllowList
from stackctl.audit.analysis import AuditReport, build_report
from stackctl.audit.plan import Plan, load_plan, parse_plan
from stackctl.audit.render import render_html, render_markdown
from stackctl.audit.sarif import to_sarif
from stackctl.errors import StackctlError

CASES = Path(__file__).resolve().parent / "cases"
TODAY = __import__("datetime").date(2026, 11, 29)


def case(name: str) -> Path:
    (path,) = CASES.glob(f"{name}_*.json")
    return path


def report_of(plan: Plan, path: Path) -> AuditReport:
    return build_report(
        plan,
        provenance=fixed_provenance(),
        allow_list=AllowList(),
        checkov=checkov_clean(path),
        parity=None,
        parity_unavailable="not part of this test",
        today=TODAY,
    )


def rendered(report: AuditReport) -> dict[str, str]:
    return {
        "md": render_markdown(report),
        "html": render_html(report),
        "sarif": json.dumps(to_sarif(report)),
    }


def refusal(path: Path) -> StackctlError:
    with pytest.raises(StackctlError) as caught:
        load_plan(path)
    return caught.value


# a02, a02b: a replacement whose old object is forgotten, in both orders Terraform writes.
@pytest.mark.parametrize("name", ["a02", "a02b"])
def test_forgetting_the_old_object_is_a_warning_not_a_data_loss(name: str) -> None:
    path = case(name)
    report = report_of(load_plan(path), path)
    (resource,) = report.resources
    assert resource.kind == "replace-forget"
    assert not report.findings_of("destructive-change")
    (finding,) = report.findings_of("forgotten-object")
    assert finding.severity == "warning"
    assert "stays in Azure, no longer managed by Terraform" in finding.title
    assert "its data stays with it" in finding.detail
    assert report.exit_code == 0
    markdown = rendered(report)["md"]
    assert "replace, old object forgotten (left in Azure, no longer managed)" in markdown
    assert "data is lost" not in markdown


def test_a_plain_forget_is_a_warning_too() -> None:
    raw = json.loads(case("a02").read_text())
    raw["resource_changes"][0]["change"]["actions"] = ["forget"]
    report = report_of(parse_plan(raw), case("a02"))
    (finding,) = report.findings_of("forgotten-object")
    assert "will be forgotten: it stays in Azure" in finding.title


# a03b: OpenTofu's own shapes.
def test_an_opentofu_plan_is_named_as_such_with_the_versions_read() -> None:
    error = refusal(case("a03b"))
    assert "written by OpenTofu 1.11.0" in error.what
    assert "shapes Terraform never writes" in error.what
    assert "Terraform 1.9" in (error.fix or "")
    assert "do not edit it by hand" not in (error.fix or "")


def test_an_opentofu_plan_in_terraform_shapes_is_read_and_named() -> None:
    raw = json.loads(case("a03b").read_text())
    # Without the ephemeral resource, and with a provider OpenTofu installed from its registry.
    changes = raw["resource_changes"]
    raw["resource_changes"] = [rc for rc in changes if rc["mode"] != "ephemeral"]
    assert 0 < len(raw["resource_changes"]) < len(changes), "the case lost its ephemeral resource"
    raw["configuration"]["provider_config"]["aws"]["full_name"] = "registry.opentofu.org/hashicorp/aws"
    plan = parse_plan(raw)
    assert plan.written_by == "OpenTofu"
    assert "| Written by | OpenTofu 1.11.0 |" in render_markdown(
        build_report(
            plan,
            provenance=fixed_provenance().__class__(
                **{**fixed_provenance().__dict__, "plan_tool": plan.written_by, "terraform_version": "1.11.0"}
            ),
            allow_list=AllowList(),
            checkov=checkov_clean(case("a03b")),
            parity=None,
            today=TODAY,
        )
    )


def test_a_newer_terraform_with_an_unknown_shape_is_named_as_newer() -> None:
    raw = json.loads(case("a02").read_text())
    raw["terraform_version"] = "1.14.0"
    raw["resource_changes"][0]["change"]["actions"] = ["invoke"]
    with pytest.raises(StackctlError) as caught:
        parse_plan(raw)
    assert (
        "written by Terraform 1.14.0, newer than the versions this audit was tested with" in caught.value.what
    )
    assert "tested up to 1.11" in (caught.value.fix or "")


# a07: every value marked sensitive is masked wherever it appears, whatever its type or length.
def test_a_sensitive_number_and_a_short_sensitive_string_never_reach_a_report() -> None:
    path = case("a07")
    secrets = ("482913", "771204", "Q7z", "K9w")
    assert all(secret in path.read_text(encoding="utf-8") for secret in secrets), "the case lost its values"
    texts = rendered(report_of(load_plan(path), path))
    assert set(texts) == {"md", "html", "sarif"}
    assert all(texts.values())
    for kind, text in texts.items():
        for secret in secrets:
            assert secret not in text, f"{secret} in the {kind} report"


# a08: unknown parts at their exact nested place.
def test_nested_unknown_parts_of_an_output_are_shown_where_they_are() -> None:
    path = case("a08")
    report = report_of(load_plan(path), path)
    outputs = {o.name: o.after for o in report.outputs}
    assert outputs["lake"] == '{"id": "(known after apply)", "name": "stlake01"}'
    assert outputs["lake_id_list"] == '["(known after apply)", "fixed"]'


# a10: a failing check block.
def test_a_failing_check_block_is_reported_as_a_warning() -> None:
    path = case("a10")
    report = report_of(load_plan(path), path)
    (finding,) = report.findings_of("check-failed")
    assert finding.severity == "warning"
    assert finding.title == "check.retention_policy failed"
    assert "Soft-delete retention must be at least 7 days (organisation policy DL-4)." in finding.detail
    texts = rendered(report)
    assert "check.retention\\_policy failed" in texts["md"]  # Markdown escapes the underscore
    assert "check.retention_policy failed" in texts["html"]
    assert '"ruleId": "FSA010"' in json.dumps(to_sarif(report), indent=1).replace('"ruleId":"', '"ruleId": "')


def test_an_unknown_check_is_listed() -> None:
    raw = json.loads(case("a10").read_text())
    raw["checks"][0]["status"] = "unknown"
    raw["checks"][0]["instances"][0]["status"] = "unknown"
    report = report_of(parse_plan(raw), case("a10"))
    (finding,) = report.findings_of("check-unknown")
    assert finding.title == "check.retention_policy is known only after apply"
    assert report.exit_code == 0


# a12: format 0.2 from Terraform 1.0.
def test_an_old_format_names_the_terraform_versions_read() -> None:
    error = refusal(case("a12"))
    assert "written by Terraform 1.0.5 in JSON format '0.2'" in error.what
    assert "Terraform 1.9 or newer 1.x" in error.what
    assert "(Terraform >= 1.0)" not in error.what


def test_a_format_1_plan_from_a_terraform_older_than_the_pin_is_refused() -> None:
    raw = json.loads(case("a02").read_text())
    raw["terraform_version"] = "1.5.7"
    with pytest.raises(StackctlError) as caught:
        parse_plan(raw)
    assert "written by Terraform 1.5.7" in caught.value.what
    assert "Terraform 1.9 or newer 1.x" in caught.value.what


# a13: captured through hashicorp/setup-terraform's wrapper.
def test_wrapper_output_is_recognised_and_the_fix_named() -> None:
    error = refusal(case("a13"))
    assert "hashicorp/setup-terraform's wrapper" in error.what
    assert "[command]" in error.what
    assert "terraform_wrapper: false" in (error.fix or "")


def test_pretty_printed_json_with_wrapper_lines_is_recognised(tmp_path: Path) -> None:
    plan = json.loads(case("a02").read_text())
    noisy = tmp_path / "plan.json"
    noisy.write_text(json.dumps(plan, indent=2) + "\n::debug::Terraform exited with code 0.\n")
    assert "terraform_wrapper: false" in (refusal(noisy).fix or "")


# Encodings: UTF-8 with a BOM and UTF-16 (PowerShell redirection) are read; others are named.
@pytest.mark.parametrize("codec", ["utf-8-sig", "utf-16", "utf-16-be"])
def test_a_plan_with_a_byte_order_mark_is_read(tmp_path: Path, codec: str) -> None:
    text = case("a02").read_text(encoding="utf-8")
    target = tmp_path / "plan.json"
    data = text.encode(codec)
    if codec == "utf-16-be":
        data = codecs.BOM_UTF16_BE + data
    target.write_bytes(data)
    assert load_plan(target).resource_changes[0].change.kind == "replace-forget"


def test_utf16_without_a_byte_order_mark_is_named(tmp_path: Path) -> None:
    target = tmp_path / "plan.json"
    target.write_bytes(case("a02").read_text(encoding="utf-8").encode("utf-16-le"))
    error = refusal(target)
    assert "UTF-16 without a byte order mark" in error.what
    assert "Out-File -Encoding utf8" in (error.fix or "")


def test_latin1_is_named_not_replaced(tmp_path: Path) -> None:
    raw: dict[str, Any] = json.loads(case("a02").read_text())
    raw["resource_changes"][0]["change"]["after"]["input"]["account"] = "stlaké"
    target = tmp_path / "plan.json"
    target.write_bytes(json.dumps(raw, ensure_ascii=False).encode("latin-1"))
    error = refusal(target)
    assert "not UTF-8" in error.what
    assert "0xe9" in error.what
