"""The runtime's base images, imported by digest into the workspace's own container registry.

Why (issue 22 item 14, review m3): Docker Hub limits anonymous pulls (per source IP, which an AML
image build shares), and a build that hits the limit fails with `toomanyrequests`. `stackctl deploy`
imports each base image of runtime.yaml, by its pinned digest, into the workspace's ACR (ACR's import
API: the registry copies the manifest itself, no local Docker, no pull on our side;
https://learn.microsoft.com/azure/container-registry/container-registry-import-images,
https://learn.microsoft.com/rest/api/containerregistry/registries/import-image), and the build
contexts' `FROM` names the ACR copy by the same digest. Image builds then pull from the workspace's
registry, which AML's build already authenticates to. The import runs as the deploying identity
(Microsoft.ContainerRegistry/registries/importImage/action, within its Contributor role on the stack's
resource group); re-importing the same digest is harmless (`Force` only re-points our own tag).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stackctl.errors import StackctlError

if TYPE_CHECKING:  # typing only: the Azure SDKs are imported where they are used
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential
    from azure.mgmt.containerregistry.operations import RegistriesOperations

DOCKER_HUB = "docker.io"
# `name[:tag]@sha256:<64 hex>`, the only form runtime.yaml allows (environment.load_runtime insists
# on the digest); a Docker Hub name without a namespace is an official image under `library/`.
_PINNED = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9._/-]*)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?@(?P<digest>sha256:[0-9a-f]{64})$"
)

ImageImporter = Callable[[Mapping[str, str]], dict[str, str]]


@dataclass(frozen=True)
class PinnedImage:
    repository: str  # e.g. library/python
    tag: str | None
    digest: str  # sha256:...

    @property
    def source(self) -> str:
        return f"{self.repository}@{self.digest}"

    @property
    def target_tag(self) -> str:
        """Our tag on the copy: the source tag plus the digest's start, so each digest keeps its own."""
        return f"{self.repository}:{self.tag or 'pinned'}-{self.digest[7:19]}"


def pinned_image(reference: str) -> PinnedImage:
    """A Docker Hub image reference pinned by digest; StackctlError for any other form."""
    match = _PINNED.match(reference)
    if not match:
        raise StackctlError(
            f"base image {reference!r} is not a Docker Hub image pinned by digest (name[:tag]@sha256:...)",
            where="src/stackctl/aml/runtime.yaml",
            fix="pin the image by digest (`docker buildx imagetools inspect IMAGE` prints it)",
        )
    name = match["name"]
    first = name.split("/", 1)[0]
    if "/" in name and ("." in first or first == "localhost"):
        raise StackctlError(
            f"base image {reference!r} is on {first}, not Docker Hub: nothing to import",
            where="src/stackctl/aml/runtime.yaml",
            fix="use a Docker Hub image pinned by digest, or extend stackctl/aml/base_image.py",
        )
    repository = name if "/" in name else f"library/{name}"
    return PinnedImage(repository, match["tag"], match["digest"])


def import_base_images(
    registries: RegistriesOperations, registry_id: str, base_images: Mapping[str, str]
) -> dict[str, str]:
    """Import each base image (kind -> Docker Hub reference) into the registry `registry_id`; returns
    kind -> the copy's reference (`<login server>/<repository>@<digest>`).

    `registries`: `ContainerRegistryManagementClient.registries` (begin_import_image, get)."""
    from azure.mgmt.containerregistry.models import ImportImageParameters, ImportMode, ImportSource
    from azure.mgmt.core.tools import parse_resource_id

    parts = parse_resource_id(registry_id)
    group, name = str(parts["resource_group"]), str(parts["name"])
    login_server = str(registries.get(group, name).login_server)
    imported: dict[str, str] = {}
    done: set[PinnedImage] = set()
    for kind, reference in base_images.items():
        image = pinned_image(reference)
        if image not in done:
            parameters = ImportImageParameters(
                source=ImportSource(registry_uri=DOCKER_HUB, source_image=image.source),
                target_tags=[image.target_tag],
                mode=ImportMode.FORCE,
            )
            registries.begin_import_image(group, name, parameters).result()
            done.add(image)
        imported[kind] = f"{login_server}/{image.source}"
    return imported


def workspace_registry_importer(
    client: MLClient, workspace_name: str, credential: TokenCredential, subscription_id: str
) -> ImageImporter:
    """The real importer: the workspace's registry (`MLClient.workspaces.get(...).container_registry`)
    through azure-mgmt-containerregistry."""

    def run(base_images: Mapping[str, str]) -> dict[str, str]:
        from azure.mgmt.containerregistry import ContainerRegistryManagementClient

        registry_id = client.workspaces.get(workspace_name).container_registry
        if not registry_id:
            raise StackctlError(
                f"workspace {workspace_name} has no container registry",
                where="modules/aml_workspace (container_registry_id)",
                fix="give the workspace its registry (the stack's Terraform does), then deploy again",
            )
        registries = ContainerRegistryManagementClient(credential, subscription_id).registries
        return import_base_images(registries, str(registry_id), base_images)

    return run
