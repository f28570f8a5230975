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
resource group).

Only what is missing is imported, so a deploy does not ask Docker Hub again for what the registry
already holds (review finding: a forced import on every deploy re-exposed the 429 it exists to
avoid). Our target tag carries the digest (`PinnedImage.target_tag`), so the tag existing means the
digest is there. The import runs with mode `NoForce`: "When NoForce, any existing target tags will
fail the operation before any copying begins" (ImportImageParameters.mode,
https://learn.microsoft.com/rest/api/containerregistry/registries/import-image), and that refusal,
"Tag <repo:tag> already exists in target registry" (as az acr import prints it, Azure/azure-cli#10938),
is read as "already imported". A `toomanyrequests` answer from Docker Hub is retried with backoff.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stackctl.errors import StackctlError

if TYPE_CHECKING:  # typing only: the Azure SDKs are imported where they are used
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential
    from azure.core.polling import LROPoller
    from azure.mgmt.containerregistry.operations import RegistriesOperations

DOCKER_HUB = "docker.io"
# `name[:tag]@sha256:<64 hex>`, the only form runtime.yaml allows (environment.load_runtime insists
# on the digest); a Docker Hub name without a namespace is an official image under `library/`.
_PINNED = re.compile(
    r"^(?P<name>[a-z0-9][a-z0-9._/-]*)(?::(?P<tag>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}))?@(?P<digest>sha256:[0-9a-f]{64})$"
)

ImageImporter = Callable[[Mapping[str, str]], dict[str, str]]
# Docker Hub's anonymous limit is per source IP over six hours; a few spaced tries get through a burst
# (https://docs.docker.com/docker-hub/usage/pulls/), not a spent quota: then the error names the fix.
RATE_LIMIT_BACKOFF_S = (30.0, 120.0, 300.0)
# The NoForce refusal as ACR words it: "Tag <repository>:<tag> already exists in target registry"
# (Azure/azure-cli#10938). It must name a tag, so an unrelated "already exists" is not read as our
# image being there; no more than that, so a reworded refusal does not fail every later deploy.
_ALREADY_THERE = re.compile(r"\btag\b.*\balready exists\b", re.IGNORECASE | re.DOTALL)
_RATE_LIMITED = re.compile(r"toomanyrequests|too many requests|rate limit", re.IGNORECASE)


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
    registries: RegistriesOperations,
    registry_id: str,
    base_images: Mapping[str, str],
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, str]:
    """Import each base image (kind -> Docker Hub reference) the registry `registry_id` lacks; returns
    kind -> the copy's reference (`<login server>/<repository>@<digest>`).

    `registries`: `ContainerRegistryManagementClient.registries` (begin_import_image, get). Errors:
    StackctlError for a reference not pinned by digest, or when Docker Hub's rate limit outlasts
    the retries; any other `HttpResponseError` from the import as raised."""
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
                mode=ImportMode.NO_FORCE,
            )
            start = functools.partial(registries.begin_import_image, group, name, parameters)
            _import_once(start, image, sleep)
            done.add(image)
        imported[kind] = f"{login_server}/{image.source}"
    return imported


def _import_once(
    start: Callable[[], LROPoller[None]], image: PinnedImage, sleep: Callable[[float], None]
) -> str:
    """Run one import (`start` begins the long-running operation): "imported", or "present" when
    the registry already holds the tag. Retries Docker Hub's rate limit after each pause of
    RATE_LIMIT_BACKOFF_S; StackctlError when it persists; any other refusal as raised."""
    from azure.core.exceptions import HttpResponseError

    pauses = list(RATE_LIMIT_BACKOFF_S)
    while True:
        try:
            start().result()
            return "imported"
        except HttpResponseError as exc:
            text = f"{exc.status_code} {exc.message or ''} {exc}"
            if _ALREADY_THERE.search(text):
                return "present"
            if not (exc.status_code == 429 or _RATE_LIMITED.search(text)):
                raise
            if not pauses:
                raise StackctlError(
                    f"Docker Hub refused {image.source} {len(RATE_LIMIT_BACKOFF_S) + 1} times "
                    f"(rate limit): {exc.message}",
                    where="stackctl deploy: base-image import into the workspace registry",
                    fix="wait for Docker Hub's limit to reset (a 6 h window) and deploy again, or import "
                    f"it once by hand with credentials: `az acr import --source docker.io/{image.source} "
                    f"--image {image.target_tag} --username <hub user> --password <token>`",
                ) from exc
            sleep(pauses.pop(0))


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
