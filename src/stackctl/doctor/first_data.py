"""The week's input is in the lake before a first release validates on it (review-23 B6).

A release's model validation (stackctl.aml.model_validation) is one run of the stack's own Data
Factory pipeline, whose first activity copies the lake's `raw/weekly` to `conditioned/weekly` and
then trains on it. A fresh stack's `raw` file system is empty, nothing in bootstrap, apply or deploy
fills it (the release identity has no data role on the lake, by design), so the first validation
would train on nothing and fail. The choice: the first week of data is a checklist step (README
'Azure: first deploy', step 9) and this check, not an upload by the release: what a release
validates is the stack's own data.

The check lists `raw/weekly` (top-level files, as the model reads a folder: demand_forecast.dataset
`table_files`) and fails when a table the model requires (demand_forecast.dataset REQUIRED_TABLES)
has no file in a format the input contract accepts (TABLE_SUFFIXES).
"""

from __future__ import annotations

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.storage.blob import ContainerClient
from demand_forecast.dataset import REQUIRED_TABLES, TABLE_SUFFIXES

from stackctl.doctor.clients import Unreachable
from stackctl.doctor.context import DoctorContext, names, require_arm
from stackctl.doctor.report import CheckResult, failed, passed

CHECK = "first-data"
STORAGE_API = "2023-05-01"
RAW, FOLDER = "raw", "weekly"


def missing_tables(file_names: list[str]) -> list[str]:
    """The required tables with no file among `file_names` (names matched ignoring case, as the
    model does)."""
    present = {name.lower() for name in file_names}
    return [
        table
        for table in REQUIRED_TABLES
        if not any(f"{table}{suffix}" in present for suffix in TABLE_SUFFIXES)
    ]


def lake_blob_endpoint(ctx: DoctorContext) -> str | None:
    """The stack's Data Lake (the hierarchical-namespace account of its resource group) blob
    endpoint, None before the first apply created it."""
    arm = require_arm(ctx)
    group = names(ctx, "stack_resource_group")
    accounts = arm.list(
        f"/subscriptions/{arm.subscription_id}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts",
        STORAGE_API,
    )
    lakes = [a for a in accounts if a.get("properties", {}).get("isHnsEnabled")]
    return str(lakes[0]["properties"]["primaryEndpoints"]["blob"]) if lakes else None


def weekly_files(endpoint: str, credential: TokenCredential) -> list[str]:
    """The names of the files directly in raw/weekly (azure-storage-blob, the caller's data role)."""
    client = ContainerClient(endpoint, RAW, credential=credential)
    prefix = f"{FOLDER}/"
    return [
        blob.name.removeprefix(prefix)
        for blob in client.list_blobs(name_starts_with=prefix)
        if "/" not in blob.name.removeprefix(prefix)
    ]


def upload_command(endpoint: str | None) -> str:
    """What to do: upload the week's files to raw/weekly of the lake at `endpoint` (None: not yet)."""
    account = endpoint.split("//", 1)[-1].split(".", 1)[0] if endpoint else "<lake>"
    return (
        "upload the week's files (at least "
        + ", ".join(f"{t}.csv" for t in REQUIRED_TABLES)
        + "; the bundled sample is data/sample): `az storage blob upload-batch --auth-mode login "
        f"--account-name {account} -d {RAW} --destination-path {FOLDER} -s <folder>` "
        "(README 'Azure: first deploy', step 9)"
    )


def first_data(ctx: DoctorContext) -> CheckResult:
    """raw/weekly of the stack's lake holds every table the model requires."""
    endpoint = lake_blob_endpoint(ctx)
    upload = upload_command(endpoint)
    if endpoint is None:
        return failed(CHECK, "the stack has no Data Lake yet", "apply the stack first, then " + upload)
    if ctx.credential is None:
        raise Unreachable("no Azure credential to list the lake")
    try:
        files = weekly_files(endpoint, ctx.credential)
    except ResourceNotFoundError:
        files = []
    except (ClientAuthenticationError, ServiceRequestError) as exc:
        raise Unreachable(f"the lake is not reachable from here ({type(exc).__name__})") from exc
    except HttpResponseError as exc:
        code = getattr(exc, "error_code", None) or exc.status_code
        return failed(
            CHECK,
            f"the lake refused to list {RAW}/{FOLDER} ({code})",
            "the identity needs Storage Blob Data Reader on the lake (prod's lake answers only its "
            "private endpoints: check from the runner's network)",
        )
    missing = missing_tables(files)
    if missing:
        return failed(
            CHECK, f"{RAW}/{FOLDER} has no {', '.join(missing)} ({len(files)} file(s) there)", upload
        )
    return passed(CHECK, f"{RAW}/{FOLDER} holds {len(files)} file(s), every required table among them")
