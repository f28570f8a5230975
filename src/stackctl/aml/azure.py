"""The real Azure clients: `DefaultAzureCredential` (az login on a laptop, OIDC in CI) and `MLClient`."""

from __future__ import annotations

from typing import Any

from stackctl.aml.stack_output import StackOutput
from stackctl.errors import StackctlError

ARM_SCOPE = "https://management.azure.com/.default"
LOGIN_FIX = (
    "run `az login` (and `az account set --subscription <id>`), or set the OIDC variables in CI "
    "(AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE; azure/login does it)"
)


def azure_credential() -> Any:
    """A credential that is known to work: a token is fetched now, so a missing login fails here, clearly."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError, DefaultAzureCredential

    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    try:
        credential.get_token(ARM_SCOPE)
    except (CredentialUnavailableError, ClientAuthenticationError) as exc:
        raise StackctlError(
            "not logged in to Azure: no credential of DefaultAzureCredential could get a token",
            where="azure-identity DefaultAzureCredential",
            fix=LOGIN_FIX,
        ) from exc
    return credential


def ml_client(stack: StackOutput, credential: Any) -> Any:
    from azure.ai.ml import MLClient

    return MLClient(
        credential=credential,
        subscription_id=stack.subscription_id,
        resource_group_name=stack.resource_group_name,
        workspace_name=stack.aml.workspace_name,
    )
