"""stackctl picks the credential from the CI environment: GitHub's runtime OIDC request, Azure Pipelines'
service connection, DefaultAzureCredential elsewhere; a CI run missing a variable names it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar
from urllib.parse import parse_qs, urlparse

import pytest
from azure.identity import AzurePipelinesCredential, ClientAssertionCredential, DefaultAzureCredential

from stackctl.credentials import (
    AZURE_PIPELINES,
    DEFAULT,
    ENTRA_AUDIENCE,
    GITHUB,
    build_credential,
    choose_credential,
    github_assertion,
    terraform_oidc_environment,
)
from stackctl.errors import StackctlError

GITHUB_ENV = {
    "GITHUB_ACTIONS": "true",
    "AZURE_CLIENT_ID": "11111111-1111-4111-8111-111111111111",
    "AZURE_TENANT_ID": "22222222-2222-4222-8222-222222222222",
    "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/token?api-version=2.0",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "runtime-request-token",
}
PIPELINES_ENV = {
    "TF_BUILD": "True",
    "AZURESUBSCRIPTION_CLIENT_ID": "33333333-3333-4333-8333-333333333333",
    "AZURESUBSCRIPTION_TENANT_ID": "44444444-4444-4444-8444-444444444444",
    "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "55555555-5555-4555-8555-555555555555",
    "SYSTEM_ACCESSTOKEN": "job-access-token",
    "SYSTEM_OIDCREQUESTURI": "https://dev.azure.com/org/_apis/distributedtask/hubs/build/plans/x/jobs/y/oidctoken",
}


def test_github_actions_gets_a_client_assertion_credential() -> None:
    choice = choose_credential(GITHUB_ENV)
    assert choice.kind == GITHUB
    assert (choice.client_id, choice.tenant_id) == (
        GITHUB_ENV["AZURE_CLIENT_ID"],
        GITHUB_ENV["AZURE_TENANT_ID"],
    )
    assert isinstance(build_credential(choice, GITHUB_ENV), ClientAssertionCredential)


def test_azure_pipelines_gets_an_azure_pipelines_credential() -> None:
    choice = choose_credential(PIPELINES_ENV)
    assert choice.kind == AZURE_PIPELINES
    assert choice.service_connection_id == PIPELINES_ENV["AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"]
    assert isinstance(build_credential(choice, PIPELINES_ENV), AzurePipelinesCredential)


def test_outside_ci_it_is_default_azure_credential() -> None:
    choice = choose_credential({"PATH": "/usr/bin", "AZURE_CLIENT_ID": "x"})
    assert choice.kind == DEFAULT
    assert isinstance(build_credential(choice, {}), DefaultAzureCredential)


def test_github_without_id_token_permission_names_the_missing_variables() -> None:
    env = {k: v for k, v in GITHUB_ENV.items() if not k.startswith("ACTIONS_ID_TOKEN")}
    with pytest.raises(StackctlError) as caught:
        choose_credential(env)
    assert "ACTIONS_ID_TOKEN_REQUEST_URL" in caught.value.what
    assert "ACTIONS_ID_TOKEN_REQUEST_TOKEN" in caught.value.what
    assert "id-token: write" in str(caught.value.fix)


def test_azure_pipelines_without_the_access_token_says_how_to_map_it() -> None:
    env = {k: v for k, v in PIPELINES_ENV.items() if k != "SYSTEM_ACCESSTOKEN"}
    with pytest.raises(StackctlError, match="SYSTEM_ACCESSTOKEN") as caught:
        choose_credential(env)
    assert "$(System.AccessToken)" in str(caught.value.fix)


class _TokenServer(BaseHTTPRequestHandler):
    issued: ClassVar[list[dict[str, object]]] = []

    def do_GET(self) -> None:
        query = parse_qs(urlparse(self.path).query)
        _TokenServer.issued.append({"query": query, "authorization": self.headers.get("Authorization")})
        body = json.dumps({"value": f"assertion-{len(_TokenServer.issued)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def token_server() -> Iterator[str]:
    _TokenServer.issued = []
    server = HTTPServer(("127.0.0.1", 0), _TokenServer)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)  # quick shutdown()
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/_apis/token?api-version=2.0"
    server.shutdown()


def test_github_assertion_requests_a_fresh_token_every_time(token_server: str) -> None:
    """The point of the credential: each call asks the runtime again (a long apply outlives one)."""
    fetch = github_assertion({**GITHUB_ENV, "ACTIONS_ID_TOKEN_REQUEST_URL": token_server})
    assert fetch() == "assertion-1"
    assert fetch() == "assertion-2"
    assert len(_TokenServer.issued) == 2
    first = _TokenServer.issued[0]
    assert first["authorization"] == "Bearer runtime-request-token"
    query = first["query"]
    assert isinstance(query, dict)
    assert query["audience"] == [ENTRA_AUDIENCE]
    assert query["api-version"] == ["2.0"]  # the runtime's own query is kept


def test_github_assertion_unreachable_runtime_is_a_clear_error() -> None:
    fetch = github_assertion({**GITHUB_ENV, "ACTIONS_ID_TOKEN_REQUEST_URL": "http://127.0.0.1:9/token"})
    with pytest.raises(StackctlError, match="did not issue an OIDC token"):
        fetch()


def test_terraform_gets_the_azure_pipelines_oidc_settings_without_overriding_set_ones() -> None:
    derived = terraform_oidc_environment({**PIPELINES_ENV, "ARM_CLIENT_ID": "already-set"})
    assert derived["ARM_USE_OIDC"] == "true"
    assert (
        derived["ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID"]
        == PIPELINES_ENV["AZURESUBSCRIPTION_SERVICE_CONNECTION_ID"]
    )
    assert derived["ARM_OIDC_REQUEST_TOKEN"] == "job-access-token"
    assert derived["ARM_OIDC_REQUEST_URL"] == PIPELINES_ENV["SYSTEM_OIDCREQUESTURI"]
    assert "ARM_CLIENT_ID" not in derived  # the user's own setting wins
    assert terraform_oidc_environment(GITHUB_ENV) == {}
    assert terraform_oidc_environment({}) == {}


def test_deploy_uses_the_chosen_credential(monkeypatch: pytest.MonkeyPatch) -> None:
    """stackctl.aml.azure.azure_credential goes through the choice (here: GitHub), and a refused
    assertion is reported as such, not as "not logged in"."""
    from azure.core.exceptions import ClientAuthenticationError

    from stackctl.aml import azure

    built: list[str] = []

    class Refusing:
        def get_token(self, *scopes: str) -> None:
            raise ClientAuthenticationError("AADSTS70021: No matching federated identity record found")

    def fake_build(choice: object, env: object = None) -> Refusing:
        built.append(getattr(choice, "kind", "?"))
        return Refusing()

    for name, value in GITHUB_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr("stackctl.credentials.build_credential", fake_build)
    with pytest.raises(StackctlError, match="refused the github-actions OIDC assertion") as caught:
        azure.azure_credential()
    assert built == [GITHUB]
    assert "federated credential" in str(caught.value.fix)
