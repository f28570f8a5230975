"""Prod's managed network lets the environment image build reach every host the build downloads from.

Prod's workspace runs AllowOnlyApprovedOutbound: an image build (on the image-build cluster, inside
the managed network) reaches only Microsoft's required hosts and the FQDN rules infra/main.tf gives
the workspace. A host the Dockerfile or runtime.yaml uses without a rule makes the build fail in prod
alone, after dev built fine ("Scenario: Use custom Docker images",
https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#scenario-use-custom-docker-images).
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import urlparse

import pytest

from stackctl.aml.base_image import import_base_images
from stackctl.aml.environment import IMAGE_KINDS, dockerfile, load_runtime
from stackctl.checks.hclmodel import read_dir

REPO = Path(__file__).resolve().parents[2]
# pip reads PyPI's index at pypi.org and its files at files.pythonhosted.org
# (https://docs.pypi.org/api/index-api/).
PYPI_HOSTS = {"pypi.org", "files.pythonhosted.org"}
# A Docker Hub pull: the registry, its token service and the layer CDN
# (https://docs.docker.com/desktop/setup/allow-list/).
# An anonymous pull's layers come from Cloudflare R2 (the "Personal plan / Anonymous" row).
DOCKER_HUB_HOSTS = {
    "registry-1.docker.io",
    "auth.docker.io",
    "production.cloudflare.docker.com",
    "docker-images-prod.6aa30f8b08e16409b46e0173d6de2f56.r2.cloudflarestorage.com",
}
# apt-get on a Debian base reads the distribution's mirror (security updates included).
DEBIAN_HOSTS = {"deb.debian.org"}
URL = re.compile(r"https?://([A-Za-z0-9.-]+)")


# The workspace's own registry: its builds reach it through its private endpoint, one of AML's
# required rules, not through an FQDN rule of ours
# (https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#list-of-required-rules).
WORKSPACE_REGISTRY = "crfcstprod.azurecr.io"
WORKSPACE_REGISTRY_ID = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-fcst-prod"
    "/providers/Microsoft.ContainerRegistry/registries/crfcstprod"
)


class _Registry:
    """Stands in for `ContainerRegistryManagementClient.registries`: the import succeeds."""

    class _Done:
        def result(self) -> None:
            return None

    def get(self, group: str, name: str) -> SimpleNamespace:
        return SimpleNamespace(login_server=WORKSPACE_REGISTRY)

    def begin_import_image(self, *args: object, **kwargs: object) -> _Done:
        return self._Done()


def cloud_base_images() -> dict[str, str]:
    """kind -> the FROM of a cloud image build: what `stackctl deploy` hands write_build_contexts,
    i.e. the copy stackctl.aml.base_image imports into the workspace's registry."""
    wanted = {kind: image.base_image for kind, image in load_runtime().images.items()}
    return import_base_images(_Registry(), WORKSPACE_REGISTRY_ID, wanted)


def build_hosts() -> set[str]:
    """Every host a cloud image build of runtime.yaml + runtime.Dockerfile downloads from, but the
    workspace's own registry."""
    hosts = set(PYPI_HOSTS)
    for kind in IMAGE_KINDS:
        declared = load_runtime().images[kind]  # its tag names the distribution (bookworm)
        image = replace(declared, base_image=cloud_base_images()[kind])
        hosts.add(str(urlparse(image.torch_index).hostname))
        registry = image.base_image.split("/", 1)[0]
        if "/" not in image.base_image or ("." not in registry and ":" not in registry):
            hosts |= DOCKER_HUB_HOSTS  # no registry host in the reference: Docker Hub
        elif registry != WORKSPACE_REGISTRY:
            hosts.add(registry)
        text = dockerfile(image, "demand_forecast_model-0.1.0-py3-none-any.whl")
        hosts |= set(URL.findall(text)) - {"learn.microsoft.com", "docs.nvidia.com"}  # comments' links
        if "apt-get" in text and "bookworm" in declared.base_image:
            hosts |= DEBIAN_HOSTS
    return hosts


def outbound_fqdns(infra: Path) -> set[str]:
    rules = read_dir(infra).module_calls["aml_workspace"].arguments["outbound_rules"]
    return set(rules["fqdns"].values())


def test_every_host_the_image_build_downloads_from_has_an_outbound_rule() -> None:
    missing = build_hosts() - outbound_fqdns(REPO / "infra")
    assert not missing, f"prod's image build cannot reach {sorted(missing)}: add FQDN rules in infra/main.tf"


def test_a_rule_missing_for_a_build_host_is_caught(tmp_path: Path) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    text = (REPO / "infra" / "main.tf").read_text(encoding="utf-8")
    broken = re.sub(r'\n\s*pythonhosted\s*=\s*"files.pythonhosted.org"', "", text)
    assert broken != text
    (infra / "main.tf").write_text(broken, encoding="utf-8")
    assert "files.pythonhosted.org" in build_hosts() - outbound_fqdns(infra)


# --- no rule for a host the build no longer downloads from (issue 22 item 14 leftover) -------------
# Every FQDN rule forces prod's managed-network firewall to admit that host for every job, not just
# the build; a registry the images no longer pull from (Docker Hub, since the base images are
# imported into the workspace's registry) widens prod's egress for nothing.


def test_no_outbound_rule_names_a_host_the_build_does_not_use() -> None:
    extra = outbound_fqdns(REPO / "infra") - build_hosts()
    assert not extra, f"prod admits {sorted(extra)}, which no image build downloads from: drop the rules"


@pytest.mark.parametrize(
    ("rule", "host"),
    [
        ("docker-auth", "auth.docker.io"),  # main's rules: Docker Hub, though the FROM names the ACR copy
        ("ghcr", "ghcr.io"),
        ("quay", "quay.io"),
        ("mcr", "mcr.microsoft.com"),  # one of AML's required rules already
    ],
)
def test_a_rule_for_a_registry_the_build_does_not_use_is_caught(tmp_path: Path, rule: str, host: str) -> None:
    infra = tmp_path / "infra"
    infra.mkdir()
    text = (REPO / "infra" / "main.tf").read_text(encoding="utf-8")
    anchor = '      pypi          = "pypi.org"\n'
    broken = text.replace(anchor, f'{anchor}      {rule} = "{host}"\n')
    assert broken != text
    (infra / "main.tf").write_text(broken, encoding="utf-8")
    assert outbound_fqdns(infra) - build_hosts() == {host}


def test_the_cloud_build_pulls_its_base_image_from_the_workspace_registry() -> None:
    for kind, reference in cloud_base_images().items():
        assert reference.startswith(f"{WORKSPACE_REGISTRY}/"), (kind, reference)
        assert "@sha256:" in reference
