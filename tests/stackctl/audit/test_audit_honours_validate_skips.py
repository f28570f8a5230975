"""The audit honours exactly the checkov skips `stackctl validate` honours: checkov runs on the plan
with the code that made it (`--repo-root-for-plan-enrichment envs/<env>`), so each justified
`#checkov:skip=ID:reason` in the modules applies to the planned resource as it does to the code.

The plan is built from our modules' real resource addresses and literal arguments (stack_plan.py);
the skips are the ones checkov reports when validate scans envs/dev."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from stack_plan import stack_plan

from stackctl.audit.runner import checkov_on_plan
from stackctl.checks.checkov import CheckovReport, run_checkov
from stackctl.paths import repo_root

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def validate_skips() -> set[tuple[str, str]]:
    """(check id, resource address) of every skip validate's envs/dev scan honours."""
    root = repo_root()
    dev = root / "envs" / "dev"
    scan = run_checkov(dev, extra_args=["--var-file", str(dev / "terraform.tfvars")])
    skips = {(r.check_id, r.resource) for r in scan.skipped}
    assert len(skips) >= 10, "validate honours fewer skips than the modules carry; the fixture is stale"
    return skips


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory: pytest.TempPathFactory, validate_skips: set[tuple[str, str]]) -> Path:
    plan = stack_plan(repo_root(), [address for _, address in validate_skips])
    path = tmp_path_factory.mktemp("plan") / "plan.json"
    path.write_text(json.dumps(plan, indent=2), encoding="utf-8")
    return path


def _failed(report: CheckovReport) -> set[tuple[str, str]]:
    return {(r.check_id, r.resource) for r in report.failed}


def test_without_the_code_the_skipped_checks_come_back_as_failures(
    plan_file: Path, validate_skips: set[tuple[str, str]]
) -> None:
    """What `make audit` did before: every justified skip blocked the release."""
    bare = run_checkov(plan_file, framework="terraform_plan")
    assert _failed(bare) & validate_skips, (
        "the plan no longer fails the skipped checks: the test proves nothing"
    )


def test_the_audit_honours_every_skip_validate_honours(
    plan_file: Path, validate_skips: set[tuple[str, str]]
) -> None:
    report = checkov_on_plan(plan_file, repo_root() / "envs" / "dev")
    assert not (_failed(report) & validate_skips), sorted(_failed(report) & validate_skips)
    skipped = {(r.check_id, r.resource): r.suppress_comment for r in report.skipped}
    bare_failures = _failed(run_checkov(plan_file, framework="terraform_plan")) & validate_skips
    for key in bare_failures:
        assert key in skipped, f"{key} neither fails nor is skipped"
        assert len((skipped[key] or "").strip()) >= 20, f"{key} is skipped without its written reason"


def test_a_skip_from_another_modules_block_of_the_same_name_does_not_count() -> None:
    """checkov pairs plan resources with code by `type.name` only; with `this` everywhere, a skip
    in modules/data_lake must not silence the same check on modules/aml_workspace's account."""
    from stackctl.audit.runner import _exact_skip
    from stackctl.checks.checkov import CheckResult

    dev = repo_root() / "envs" / "dev"
    borrowed = CheckResult(
        check_id="CKV_AZURE_33",
        check_name="queue logging",
        outcome="skipped",
        resource="module.stack.module.aml_workspace.azurerm_storage_account.this",
        file_path="../../modules/data_lake/main.tf",
        line_range=(2, 43),
        suppress_comment="The queue service is not used by this account",
    )
    assert _exact_skip(borrowed, dev).outcome == "failed"
    own = CheckResult(
        **{**borrowed.__dict__, "resource": "module.stack.module.data_lake.azurerm_storage_account.this"}
    )
    assert _exact_skip(own, dev) == own
