"""The Entra credential of a pipeline step: the job identity inside AML, a developer's login elsewhere.

One function for both Entra consumers of a step, Azure SQL (`reporting.database`) and App Insights
ingestion (`telemetry`), so they always sign in as the same identity.

Inside an AML job (AZUREML_RUN_ID is set) the identity is the compute cluster's managed identity. Our
job clusters carry only a user-assigned identity (the job identity, which holds the lake, App Insights
and SQL rights; infra/main.tf module aml_compute), named by its client id so that nothing depends on
which identity a credential picks by default: AZURE_CLIENT_ID
(set on every job by `stackctl deploy`, the variable azure-identity itself reads), else
DEFAULT_IDENTITY_CLIENT_ID (which AML sets when a cluster has a user-assigned identity,
https://learn.microsoft.com/azure/machine-learning/how-to-identity-based-service-authentication).
Without either, ManagedIdentityCredential takes the compute's default managed identity.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typing only: azure-identity is imported where a credential is built
    from azure.core.credentials import TokenCredential

CLIENT_ID_ENV = "AZURE_CLIENT_ID"
AML_CLIENT_ID_ENV = "DEFAULT_IDENTITY_CLIENT_ID"


def job_client_id() -> str | None:
    """The client id of the user-assigned identity a job should use (None: the system-assigned one)."""
    return os.environ.get(CLIENT_ID_ENV) or os.environ.get(AML_CLIENT_ID_ENV) or None


def job_credential() -> TokenCredential:
    """ManagedIdentityCredential in an AML job (client id from `job_client_id`), else
    DefaultAzureCredential without the interactive browser (`az login`, OIDC in CI)."""
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if os.environ.get("AZUREML_RUN_ID"):
        return ManagedIdentityCredential(client_id=job_client_id())
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)
