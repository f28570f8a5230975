"""Base images come from the workspace's registry, imported there by digest (issue 22 item 14, m3):
Docker Hub's anonymous pull limit must not fail an AML image build. The import body is built with
azure-mgmt-containerregistry's own models (ImportImageParameters), as the real call sends it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stackctl.aml.base_image import import_base_images, pinned_image
from stackctl.aml.environment import load_runtime
from stackctl.errors import StackctlError

REGISTRY_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-forecast-dev/providers/"
    "Microsoft.ContainerRegistry/registries/acrforecastdev"
)
DIGEST = "sha256:" + "2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91"


@dataclass
class _Poller:
    def result(self) -> None:
        return None


@dataclass
class FakeRegistries:
    """The management client's `registries`; `answers` are what successive imports raise (None: ok)."""

    imports: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)
    answers: list[Exception | None] = field(default_factory=list)

    def get(self, group: str, name: str) -> Any:
        assert (group, name) == ("rg-forecast-dev", "acrforecastdev")
        return type("Registry", (), {"login_server": "acrforecastdev.azurecr.io"})()

    def begin_import_image(self, group: str, name: str, parameters: Any) -> _Poller:
        self.imports.append((group, name, parameters.as_dict()))
        answer = self.answers.pop(0) if self.answers else None
        if answer is not None:
            raise answer
        return _Poller()


@pytest.mark.parametrize(
    ("reference", "repository", "tag"),
    [
        (f"python:3.11-slim-bookworm@{DIGEST}", "library/python", "3.11-slim-bookworm"),
        (f"nvidia/cuda:12.8.0-base-ubuntu24.04@{DIGEST}", "nvidia/cuda", "12.8.0-base-ubuntu24.04"),
        (f"python@{DIGEST}", "library/python", None),
    ],
)
def test_a_pinned_docker_hub_reference_names_its_repository_and_digest(
    reference: str, repository: str, tag: str | None
) -> None:
    image = pinned_image(reference)
    assert (image.repository, image.tag, image.digest) == (repository, tag, DIGEST)


@pytest.mark.parametrize(
    "reference",
    [
        "python:3.11-slim-bookworm",
        "python:latest",
        f"mcr.microsoft.com/azureml/base@{DIGEST}",
        "python@sha256:abc",
    ],
)
def test_an_unpinned_or_foreign_reference_is_refused(reference: str) -> None:
    with pytest.raises(StackctlError, match="base image"):
        pinned_image(reference)


def test_each_runtime_image_is_imported_once_by_digest_and_built_from_the_copy() -> None:
    wanted = {kind: image.base_image for kind, image in load_runtime().images.items()}
    registries = FakeRegistries()
    imported = import_base_images(registries, REGISTRY_ID, wanted)
    # cpu and gpu share one base image: one import
    assert len(registries.imports) == len(set(wanted.values()))
    group, name, body = registries.imports[0]
    assert (group, name) == ("rg-forecast-dev", "acrforecastdev")
    source = pinned_image(next(iter(wanted.values())))
    assert body == {
        "source": {"registryUri": "docker.io", "sourceImage": f"library/python@{source.digest}"},
        "targetTags": [f"library/python:3.11-slim-bookworm-{source.digest[7:19]}"],
        "mode": "NoForce",
    }
    for kind, reference in imported.items():
        assert reference == f"acrforecastdev.azurecr.io/library/python@{pinned_image(wanted[kind]).digest}"


@pytest.mark.azure
def test_the_deployed_workspace_registry_holds_the_base_images() -> None:
    """Release pipeline: the import against the stack FORECAST_STACK_ENV names (idempotent)."""
    from rich.console import Console

    from stackctl.aml.azure import azure_credential, ml_client
    from stackctl.aml.base_image import workspace_registry_importer
    from stackctl.cloud_stack import read_stack

    env = os.environ.get("FORECAST_STACK_ENV", "")
    assert env in ("dev", "prod"), "FORECAST_STACK_ENV must name the deployed stack"
    stack = read_stack(env, Path(__file__).resolve().parents[2], Console())
    credential = azure_credential()
    importer = workspace_registry_importer(
        ml_client(stack, credential), stack.aml.workspace_name, credential, stack.subscription_id
    )
    wanted = {kind: image.base_image for kind, image in load_runtime().images.items()}
    assert all(".azurecr.io/" in reference for reference in importer(wanted).values())


def _refusal(status: int, message: str) -> Exception:
    """An ARM error as azure-core raises it from the import's long-running operation."""
    from azure.core.exceptions import HttpResponseError

    error = HttpResponseError(message=message)
    error.status_code = status
    return error


ONE = {"cpu": f"python:3.11-slim-bookworm@{DIGEST}"}


@pytest.mark.parametrize(
    "message",
    [
        # az acr import's wording of the NoForce refusal (Azure/azure-cli#10938)
        "Tag library/python:3.11-slim-bookworm-2e32f7d302ad already exists in target registry.",
        "(Conflict) The tag already exists.",
        "Operation registries-1 failed. Resource acrforecastdev library/python:pinned-2e32f7d302ad\n"
        "TAG library/python:3.11-slim-bookworm-2e32f7d302ad ALREADY EXISTS in target registry",
    ],
)
def test_an_image_the_registry_already_holds_is_not_asked_of_docker_hub_again(message: str) -> None:
    """Review finding: a forced import on every deploy re-exposed Docker Hub's 429. NoForce makes the
    registry refuse before any copying, and that refusal means the digest's tag is already there."""
    registries = FakeRegistries(answers=[_refusal(409, message)])
    slept: list[float] = []
    imported = import_base_images(registries, REGISTRY_ID, ONE, sleep=slept.append)
    assert imported == {"cpu": f"acrforecastdev.azurecr.io/library/python@{DIGEST}"}
    assert len(registries.imports) == 1
    assert registries.imports[0][2]["mode"] == "NoForce"
    assert slept == []


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (429, "Too Many Requests"),
        (400, "toomanyrequests: You have reached your unauthenticated pull rate limit."),
        (500, "Error copying blobs: rate limit exceeded"),
    ],
)
def test_docker_hubs_rate_limit_is_retried_with_backoff(status: int, message: str) -> None:
    registries = FakeRegistries(answers=[_refusal(status, message), _refusal(status, message), None])
    slept: list[float] = []
    import_base_images(registries, REGISTRY_ID, ONE, sleep=slept.append)
    assert len(registries.imports) == 3
    assert slept == [30.0, 120.0]


def test_a_rate_limit_that_outlasts_the_retries_is_one_clear_error() -> None:
    registries = FakeRegistries(answers=[_refusal(429, "toomanyrequests")] * 4)
    with pytest.raises(StackctlError, match="rate limit") as caught:
        import_base_images(registries, REGISTRY_ID, ONE, sleep=lambda _: None)
    assert "az acr import" in (caught.value.fix or "")
    assert len(registries.imports) == 4


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (403, "AuthorizationFailed: importImage/action"),
        (409, "A private endpoint connection already exists for this registry"),
        (400, "Repository library/python already exists as a different type"),
    ],
)
def test_any_other_refusal_is_not_mistaken_for_an_image_already_there(status: int, message: str) -> None:
    registries = FakeRegistries(answers=[_refusal(status, message)])
    from azure.core.exceptions import HttpResponseError

    with pytest.raises(HttpResponseError):
        import_base_images(registries, REGISTRY_ID, ONE, sleep=lambda _: None)
