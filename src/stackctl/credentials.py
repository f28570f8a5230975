"""Which Azure credential stackctl uses, chosen from the CI environment it runs in.

A federated (OIDC) token is short-lived: GitHub's ID token, once exchanged by `azure/login`, cannot
be refreshed, so after a long `terraform apply` a `DefaultAzureCredential` built on it fails the
moment `deploy` asks for a new scope (storage, SQL). The credentials here ask the CI system for a
*fresh* assertion every time Entra ID needs one:

* GitHub Actions (`GITHUB_ACTIONS=true`): `ClientAssertionCredential` whose callback requests a new
  ID token from the runtime (`ACTIONS_ID_TOKEN_REQUEST_URL` / `ACTIONS_ID_TOKEN_REQUEST_TOKEN`, set
  only when the job has `permissions: id-token: write`), audience `api://AzureADTokenExchange`.
  https://docs.github.com/en/actions/security-for-github-actions/security-hardening-your-deployments/about-security-hardening-with-openid-connect
  https://learn.microsoft.com/entra/workload-id/workload-identity-federation-create-trust
* Azure Pipelines (`TF_BUILD=True`): `AzurePipelinesCredential` with the workload-identity service
  connection's id and the job's `System.AccessToken` (mapped explicitly as SYSTEM_ACCESSTOKEN; the
  AzureCLI@2 task also exports AZURESUBSCRIPTION_CLIENT_ID/_TENANT_ID/_SERVICE_CONNECTION_ID).
  https://learn.microsoft.com/python/api/azure-identity/azure.identity.azurepipelinescredential
  https://learn.microsoft.com/azure/devops/pipelines/build/variables#systemaccesstoken
* Anywhere else: `DefaultAzureCredential` (`az login` on a laptop, a managed identity on a VM).

A CI run that lacks one of the variables its credential needs fails with the missing names, not
with a generic "not logged in".
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stackctl.errors import StackctlError

if TYPE_CHECKING:  # typing only: azure-identity is imported where a credential is built
    from azure.core.credentials import TokenCredential

# The audience Entra ID expects in an OIDC assertion exchanged for an access token.
# https://learn.microsoft.com/entra/workload-id/workload-identity-federation-create-trust#github-actions
ENTRA_AUDIENCE = "api://AzureADTokenExchange"
GITHUB = "github-actions"
AZURE_PIPELINES = "azure-pipelines"
DEFAULT = "default"
OIDC_TIMEOUT_S = 30


@dataclass(frozen=True)
class CredentialChoice:
    """The credential kind for this process and the settings it will be built from (no secrets)."""

    kind: str  # GITHUB, AZURE_PIPELINES or DEFAULT
    tenant_id: str | None = None
    client_id: str | None = None
    service_connection_id: str | None = None


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        if env.get(name):
            return env[name]
    return None


def _require(env: Mapping[str, str], ci: str, needed: dict[str, tuple[str, ...]], fix: str) -> dict[str, str]:
    found = {key: _first(env, *names) for key, names in needed.items()}
    missing = [" or ".join(needed[key]) for key, value in found.items() if not value]
    if missing:
        raise StackctlError(
            f"running in {ci}, but the variables its OIDC credential needs are not set: {', '.join(missing)}",
            where="the CI job's environment",
            fix=fix,
        )
    return {key: str(value) for key, value in found.items()}


def choose_credential(env: Mapping[str, str] | None = None) -> CredentialChoice:
    """Decide which credential the environment calls for. Raises StackctlError when a CI run is
    recognised but a variable its credential needs is missing (the message names them)."""
    env = os.environ if env is None else env
    if env.get("GITHUB_ACTIONS", "").lower() == "true":
        found = _require(
            env,
            "GitHub Actions",
            {
                "tenant_id": ("AZURE_TENANT_ID", "ARM_TENANT_ID"),
                "client_id": ("AZURE_CLIENT_ID", "ARM_CLIENT_ID"),
                "request_url": ("ACTIONS_ID_TOKEN_REQUEST_URL",),
                "request_token": ("ACTIONS_ID_TOKEN_REQUEST_TOKEN",),
            },
            "give the job `permissions: id-token: write` (the runtime then sets ACTIONS_ID_TOKEN_REQUEST_*) "
            "and set AZURE_CLIENT_ID and AZURE_TENANT_ID from the environment's variables",
        )
        return CredentialChoice(GITHUB, found["tenant_id"], found["client_id"])
    if env.get("TF_BUILD", "").lower() == "true":
        found = _require(
            env,
            "Azure Pipelines",
            {
                "tenant_id": ("AZURESUBSCRIPTION_TENANT_ID", "AZURE_TENANT_ID", "ARM_TENANT_ID"),
                "client_id": ("AZURESUBSCRIPTION_CLIENT_ID", "AZURE_CLIENT_ID", "ARM_CLIENT_ID"),
                "service_connection_id": (
                    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
                    "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID",
                ),
                "system_access_token": ("SYSTEM_ACCESSTOKEN",),
            },
            "map the token into the step (`env: SYSTEM_ACCESSTOKEN: $(System.AccessToken)`) and pass the "
            "workload-identity service connection's id and client/tenant ids "
            "(.azure-pipelines/release.yml does both)",
        )
        return CredentialChoice(
            AZURE_PIPELINES, found["tenant_id"], found["client_id"], found["service_connection_id"]
        )
    return CredentialChoice(DEFAULT)


def github_assertion(env: Mapping[str, str] | None = None) -> Callable[[], str]:
    """A callback that asks the GitHub Actions runtime for a new ID token each time it is called."""
    source = os.environ if env is None else env
    url = source["ACTIONS_ID_TOKEN_REQUEST_URL"]
    token = source["ACTIONS_ID_TOKEN_REQUEST_TOKEN"]
    if urllib.parse.urlparse(url).scheme not in ("https", "http"):
        raise StackctlError(
            f"ACTIONS_ID_TOKEN_REQUEST_URL is not an http(s) URL: {url!r}", where="the CI job's environment"
        )
    separator = "&" if urllib.parse.urlparse(url).query else "?"
    request_url = f"{url}{separator}audience={urllib.parse.quote(ENTRA_AUDIENCE, safe='')}"

    def fetch() -> str:
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            request_url, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=OIDC_TIMEOUT_S) as response:  # noqa: S310
                body = json.loads(response.read().decode("utf-8"))
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as exc:
            raise StackctlError(
                f"the GitHub Actions runtime did not issue an OIDC token ({exc})",
                where="ACTIONS_ID_TOKEN_REQUEST_URL",
                fix="check the job has `permissions: id-token: write` and the runner reaches "
                "the Actions service",
            ) from exc
        value = body.get("value") if isinstance(body, dict) else None
        if not isinstance(value, str) or not value:
            raise StackctlError(
                "the GitHub Actions runtime answered without an ID token ('value' missing)",
                where="ACTIONS_ID_TOKEN_REQUEST_URL",
            )
        return value

    return fetch


def build_credential(choice: CredentialChoice, env: Mapping[str, str] | None = None) -> TokenCredential:
    """The azure-identity credential for `choice` (nothing is requested from Entra ID yet)."""
    source = os.environ if env is None else env
    if choice.kind == GITHUB:
        from azure.identity import ClientAssertionCredential

        assert choice.tenant_id
        assert choice.client_id
        return ClientAssertionCredential(choice.tenant_id, choice.client_id, github_assertion(source))
    if choice.kind == AZURE_PIPELINES:
        from azure.identity import AzurePipelinesCredential

        assert choice.tenant_id
        assert choice.client_id
        assert choice.service_connection_id
        return AzurePipelinesCredential(
            tenant_id=choice.tenant_id,
            client_id=choice.client_id,
            service_connection_id=choice.service_connection_id,
            system_access_token=source["SYSTEM_ACCESSTOKEN"],
        )
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def credential_for_environment(
    env: Mapping[str, str] | None = None,
) -> tuple[CredentialChoice, TokenCredential]:
    """`choose_credential` then `build_credential`: what stackctl authenticates with here."""
    choice = choose_credential(env)
    return choice, build_credential(choice, env)


def terraform_oidc_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The ARM_* variables Terraform's azurerm provider and backend need for OIDC in Azure Pipelines,
    derived from what the AzureCLI@2 task and the job expose; variables already set are kept.

    In GitHub Actions nothing is added: the workflow sets ARM_USE_OIDC and the ids, and Terraform
    itself requests fresh tokens from ACTIONS_ID_TOKEN_REQUEST_URL. Elsewhere nothing is added either.
    https://registry.terraform.io/providers/hashicorp/azurerm/latest/docs/guides/service_principal_oidc
    https://developer.hashicorp.com/terraform/language/backend/azurerm (ado_pipeline_service_connection_id)
    """
    source = os.environ if env is None else env
    if source.get("TF_BUILD", "").lower() != "true":
        return {}
    derived = {
        "ARM_USE_OIDC": "true",
        "ARM_CLIENT_ID": _first(source, "AZURESUBSCRIPTION_CLIENT_ID", "AZURE_CLIENT_ID"),
        "ARM_TENANT_ID": _first(source, "AZURESUBSCRIPTION_TENANT_ID", "AZURE_TENANT_ID"),
        "ARM_SUBSCRIPTION_ID": _first(source, "AZURE_SUBSCRIPTION_ID"),
        "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID": _first(source, "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"),
        "ARM_OIDC_REQUEST_TOKEN": _first(source, "SYSTEM_ACCESSTOKEN"),
        "ARM_OIDC_REQUEST_URL": _first(source, "SYSTEM_OIDCREQUESTURI"),
    }
    return {name: value for name, value in derived.items() if value and not source.get(name)}
