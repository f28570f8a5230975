"""Issue 26: an audit an auditor can sign. Each handed case (tests/stackctl/audit/cases3/, from
../shared/cases/audit3/) with its right outcome, and instances of our own for each kind."""

from __future__ import annotations

import bz2
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
