"""The real Azure clients: the credential `stackctl.credentials` chooses (a fresh OIDC assertion per
token in GitHub Actions and Azure Pipelines, `DefaultAzureCredential` elsewhere) and `MLClient`."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from stackctl.aml.stack_output import StackOutput
from stackctl.errors import StackctlError

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential

ARM_SCOPE = "https://management.azure.com/.default"
T = TypeVar("T")
# Role assignments made by the apply that precedes deploy "can take up to 10 minutes" to take
# effect (https://learn.microsoft.com/azure/role-based-access-control/troubleshooting#symptom---role-assignment-changes-are-not-being-detected):
# waits between tries, 15 minutes in all, so a first deploy outlasts that propagation.
PROPAGATION_DELAYS_S = (30.0, 60.0, 120.0, 240.0, 450.0)
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
    return credential


def ml_client(stack: StackOutput, credential: TokenCredential) -> MLClient:
    from azure.ai.ml import MLClient

    return MLClient(
        credential=credential,
        subscription_id=stack.subscription_id,
        resource_group_name=stack.resource_group_name,
        workspace_name=stack.aml.workspace_name,
    )


def is_authorization_failure(exc: BaseException) -> bool:
    """A 403 from Azure (AuthorizationFailed and the data planes' AuthorizationPermissionMismatch),
    raised directly or as the cause or context of what the SDK raised: the identity is known but not
    (yet) allowed. azure-ai-ml wraps the storage 403 of an asset upload in a ValidationException
    (`raise ValidationException(...) from e` when the error code is AuthorizationPermissionMismatch,
    azure/ai/ml/_artifacts/_blob_storage_helper.py, `check_blob_exists`), so the chain is walked.
    A 401 is a login problem and is not retried."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ClientAuthenticationError):
            return False
        if isinstance(current, HttpResponseError) and current.status_code == 403:
            return True
        current = current.__cause__ or current.__context__
    return False


def retry_while_roles_propagate(
    operation: Callable[[], T],
    *,
    what: str,
    delays: tuple[float, ...] = PROPAGATION_DELAYS_S,
    sleep: Callable[[float], None] = time.sleep,
    log: Callable[[str], None] = print,
) -> T:
    """`operation()`, tried again after each of `delays` while Azure answers 403; the operation must be
    idempotent (deploy creates only what is missing). After the last try: StackctlError saying which
    action Azure refused and what to check."""
    for attempt, delay in enumerate((*delays, None), start=1):
        try:
            return operation()
        except Exception as exc:
            if not is_authorization_failure(exc):
                raise
            if delay is None:
                raise StackctlError(
                    f"{what}: Azure still refuses after {attempt} tries over "
                    f"{sum(delays) / 60:.0f} minutes (403): {getattr(exc, 'message', exc)}",
                    where=what,
                    fix="role assignments take up to 10 minutes to propagate; if this persists, give "
                    "the deploying identity the role the refused action needs (envs/bootstrap, "
                    "infra/main.rbac.tf) and deploy again",
                ) from exc
            log(
                f"{what}: Azure refused (403, try {attempt}); role assignments may still be "
                f"propagating, trying again in {delay:.0f} s"
            )
            sleep(delay)
    raise AssertionError("unreachable")
