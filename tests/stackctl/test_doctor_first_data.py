"""Review-23 B6 (kind: *a first release validates on a lake with no input*): doctor's `first-data`
check fails until raw/weekly of the stack's lake holds every table the model requires, in a form the
input contract reads, and says how to upload it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from stackctl.doctor import first_data
from stackctl.doctor.checks import CHECKS, run_check
from stackctl.doctor.clients import Rest
from stackctl.doctor.context import DoctorContext
from stackctl.doctor.report import Outcome
from stackctl.doctor.settings import DoctorSettings, Endpoints

REPO = Path(__file__).resolve().parents[2]


def result(
    monkeypatch: pytest.MonkeyPatch,
    files: list[str] | Exception,
    endpoint: str | None = "https://stdlfcstdevweu.blob.core.windows.net/",
) -> Any:
    def listing(url: str, credential: Any) -> list[str]:
        if isinstance(files, Exception):
            raise files
        return files

    monkeypatch.setattr(first_data, "lake_blob_endpoint", lambda ctx: endpoint)
    monkeypatch.setattr(first_data, "weekly_files", listing)
    settings = DoctorSettings(env="dev", root=REPO, subscription_id="s", endpoints=Endpoints())
    ctx = DoctorContext(
        settings=settings,
        arm=None,
        github=Rest("http://x", None),
        azure_devops=Rest("http://x", None),
        credential=object(),  # type: ignore[arg-type]
    )
    return run_check("first-data", ctx)


@pytest.mark.parametrize(
    ("files", "missing"),
    [
        ([], ["shipments", "stores"]),  # the review's case: a fresh stack's empty raw
        (["stores.csv", "weather.csv"], ["shipments"]),
        (["shipments.csv", "stores.txt"], ["stores"]),  # not a format the contract reads
        (["shipments.csv.gz", "stores.parquet", "events.csv"], []),
        (["Shipments.CSV", "STORES.csv"], []),  # matched ignoring case, as the model does
    ],
)
def test_missing_required_tables_are_named(files: list[str], missing: list[str]) -> None:
    assert first_data.missing_tables(files) == missing


def test_an_empty_raw_folder_fails_with_the_upload_command(monkeypatch: pytest.MonkeyPatch) -> None:
    found = result(monkeypatch, ResourceNotFoundError("no such container"))
    assert found.outcome is Outcome.FAIL
    assert "raw/weekly has no shipments, stores" in found.detail
    assert "az storage blob upload-batch --auth-mode login --account-name stdlfcstdevweu" in found.next_step
    assert "data/sample" in found.next_step


def test_the_week_s_files_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    found = result(monkeypatch, ["shipments.csv", "stores.csv", "promotions.csv"])
    assert found.outcome is Outcome.PASS, found


def test_before_the_first_apply_it_says_apply_first(monkeypatch: pytest.MonkeyPatch) -> None:
    found = result(monkeypatch, [], endpoint=None)
    assert found.outcome is Outcome.FAIL
    assert found.next_step.startswith("apply the stack first")


def test_a_refused_listing_names_the_data_role(monkeypatch: pytest.MonkeyPatch) -> None:
    error = HttpResponseError(message="This request is not authorized")
    error.status_code = 403
    found = result(monkeypatch, error)
    assert found.outcome is Outcome.FAIL
    assert "Storage Blob Data Reader" in found.next_step


def test_the_check_runs_after_the_stack_values() -> None:
    assert list(CHECKS)[-2:] == ["stack-values", "first-data"]
