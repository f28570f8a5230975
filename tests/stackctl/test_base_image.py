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
    imports: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def get(self, group: str, name: str) -> Any:
        assert (group, name) == ("rg-forecast-dev", "acrforecastdev")
        return type("Registry", (), {"login_server": "acrforecastdev.azurecr.io"})()

    def begin_import_image(self, group: str, name: str, parameters: Any) -> _Poller:
        self.imports.append((group, name, parameters.as_dict()))
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
        "mode": "Force",
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
