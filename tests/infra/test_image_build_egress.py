"""Prod's managed network lets the environment image build reach every host the build downloads from.

Prod's workspace runs AllowOnlyApprovedOutbound: an image build (on the image-build cluster, inside
the managed network) reaches only Microsoft's required hosts and the FQDN rules infra/main.tf gives
the workspace. A host the Dockerfile or runtime.yaml uses without a rule makes the build fail in prod
alone, after dev built fine ("Scenario: Use custom Docker images",
https://learn.microsoft.com/azure/machine-learning/how-to-managed-network#scenario-use-custom-docker-images).
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlparse

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


def build_hosts() -> set[str]:
    """Every host an image build of runtime.yaml + runtime.Dockerfile downloads from."""
    hosts = set(PYPI_HOSTS)
    for kind in IMAGE_KINDS:
        image = load_runtime().images[kind]
        hosts.add(str(urlparse(image.torch_index).hostname))
        registry = image.base_image.split("/", 1)[0]
        if "/" not in image.base_image or ("." not in registry and ":" not in registry):
            hosts |= DOCKER_HUB_HOSTS  # no registry host in the reference: Docker Hub
        else:
            hosts.add(registry)
        text = dockerfile(image, "demand_forecast_model-0.1.0-py3-none-any.whl")
        hosts |= set(URL.findall(text)) - {"learn.microsoft.com", "docs.nvidia.com"}  # comments' links
        if "apt-get" in text and "bookworm" in image.base_image:
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
