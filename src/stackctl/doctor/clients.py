"""The real clients doctor reads through: Azure Resource Manager (azure-mgmt-resource's
ResourceManagementClient and its pipeline, so tokens, retries and ARM's error format are the SDK's),
GitHub's REST API and Azure DevOps' REST API (requests, with the caller's token). Read-only: doctor
never writes anywhere.

A request that cannot be made (no login, no token, no network) raises Unreachable, which the checks
report as "not checked"; a 403 raises Forbidden, which is a finding (the identity lacks a right)."""

from __future__ import annotations

import base64
import json
from typing import Any

import requests
from azure.core.credentials import TokenCredential
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError
from azure.core.rest import HttpRequest
from azure.mgmt.resource.resources import ResourceManagementClient

TIMEOUT_S = 30
# Azure DevOps' Entra resource id: tokens for its REST API are requested for this scope.
# https://learn.microsoft.com/azure/devops/integrate/get-started/authentication/entra-oauth
AZURE_DEVOPS_SCOPE = "499b84ac-1321-427f-aa17-267ca6975798/.default"


class Unreachable(Exception):
    """The service could not be asked: no credential or token, or no network."""


class Forbidden(Exception):
    """The service answered 403: the caller lacks the right to read this."""


def _claims(token: str) -> dict[str, Any]:
    """The payload of a JWT access token (not verified: it names who is logged in, nothing more)."""
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


class Arm:
    """Azure Resource Manager reads for one subscription."""

    def __init__(self, credential: TokenCredential, subscription_id: str, endpoint: str):
        self.credential = credential
        self.subscription_id = subscription_id
        self.endpoint = endpoint
        self.client = ResourceManagementClient(credential, subscription_id, base_url=endpoint)

    def token_claims(self) -> dict[str, Any]:
        try:
            token = self.credential.get_token(f"{self.endpoint}/.default").token
        except ClientAuthenticationError as exc:
            raise Unreachable(f"no Azure login ({str(exc).splitlines()[0]})") from exc
        return _claims(token)

    def get(self, path: str, api_version: str) -> dict[str, Any] | None:
        """GET an ARM path (`/subscriptions/...`); None when it does not exist (404)."""
        separator = "&" if "?" in path else "?"
        request = HttpRequest("GET", f"{path}{separator}api-version={api_version}")
        try:
            response = self.client.send_request(request)
        except (ClientAuthenticationError, ServiceRequestError) as exc:
            raise Unreachable(f"Azure Resource Manager not reachable ({str(exc).splitlines()[0]})") from exc
        if response.status_code == 404:
            return None
        if response.status_code == 403:
            raise Forbidden(f"403 on {path}")
        try:
            response.raise_for_status()
        except HttpResponseError as exc:
            raise Unreachable(f"Azure Resource Manager answered {response.status_code} on {path}") from exc
        body: dict[str, Any] = response.json()
        return body

    def list(self, path: str, api_version: str) -> list[dict[str, Any]]:
        """Every item of an ARM list (`value`), following `nextLink`; [] when the parent is missing."""
        body = self.get(path, api_version)
        items: list[dict[str, Any]] = []
        while body is not None:
            items.extend(body.get("value", []))
            link = body.get("nextLink")
            body = self.get(link.removeprefix(self.endpoint), api_version) if link else None
        return items

    def provider_state(self, namespace: str) -> str:
        try:
            return str(self.client.providers.get(namespace).registration_state)
        except (ClientAuthenticationError, ServiceRequestError) as exc:
            raise Unreachable(f"Azure Resource Manager not reachable ({str(exc).splitlines()[0]})") from exc
        except HttpResponseError as exc:
            if exc.status_code == 403:
                raise Forbidden(f"403 reading provider {namespace}") from exc
            raise


class Rest:
    """A JSON REST API with a bearer token: GitHub's (GH_TOKEN) or Azure DevOps' (an Entra token)."""

    def __init__(self, base_url: str, token: str | None, headers: dict[str, str] | None = None):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.headers = headers or {}

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        """GET base_url + path; None on 404."""
        if not self.token:
            raise Unreachable(f"no token for {self.base_url}")
        headers = {"Authorization": f"Bearer {self.token}", **self.headers}
        try:
            response = requests.get(
                f"{self.base_url}{path}", headers=headers, params=params, timeout=TIMEOUT_S
            )
        except requests.RequestException as exc:
            raise Unreachable(f"{self.base_url} not reachable ({type(exc).__name__})") from exc
        if response.status_code == 404:
            return None
        if response.status_code in (401, 403):
            raise Forbidden(f"{response.status_code} on {path}")
        if not response.ok:
            raise Unreachable(f"{self.base_url} answered {response.status_code} on {path}")
        return response.json()


def github(base_url: str, token: str | None) -> Rest:
    # https://docs.github.com/rest/about-the-rest-api/api-versions
    return Rest(
        base_url, token, {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    )


def azure_devops(base_url: str, credential: TokenCredential | None) -> Rest:
    token = None
    if credential is not None:
        try:
            token = credential.get_token(AZURE_DEVOPS_SCOPE).token
        except ClientAuthenticationError:
            token = None
    return Rest(base_url, token)
