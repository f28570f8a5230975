"""The real Azure clients: the credential `stackctl.credentials` chooses (a fresh OIDC assertion per
token in GitHub Actions and Azure Pipelines, `DefaultAzureCredential` elsewhere) and `MLClient`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackctl.aml.stack_output import StackOutput
from stackctl.errors import StackctlError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

ARM_SCOPE = "https://management.azure.com/.default"
LOGIN_FIX = (
    "run `az login` (and `az account set --subscription <id>`), or set the OIDC variables in CI "
    "(AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE; azure/login does it)"
)


def azure_credential() -> TokenCredential:
    """A credential that is known to work: a token is fetched now, so a missing login fails here, clearly."""
    from azure.core.exceptions import ClientAuthenticationError
    from azure.identity import CredentialUnavailableError

    from stackctl.credentials import DEFAULT, credential_for_environment

    choice, credential = credential_for_environment()
    try:
        credential.get_token(ARM_SCOPE)
    except (CredentialUnavailableError, ClientAuthenticationError) as exc:
        if choice.kind == DEFAULT:
            raise StackctlError(
                "not logged in to Azure: no credential of DefaultAzureCredential could get a token",
                where="azure-identity DefaultAzureCredential",
                fix=LOGIN_FIX,
            ) from exc
        raise StackctlError(
            f"Entra ID refused the {choice.kind} OIDC assertion of client {choice.client_id}: {exc}",
            where=f"azure-identity credential for {choice.kind}",
            fix="check the deploying identity has a federated credential for this pipeline's "
            "environment (envs/bootstrap creates them) and the client/tenant ids are that identity's",
        ) from exc
    chosen: TokenCredential = credential  # azure-identity's credentials implement the protocol
    return chosen


def ml_client(stack: StackOutput, credential: TokenCredential) -> Any:
    from azure.ai.ml import MLClient

    return MLClient(
        credential=credential,
        subscription_id=stack.subscription_id,
        resource_group_name=stack.resource_group_name,
        workspace_name=stack.aml.workspace_name,
    )
