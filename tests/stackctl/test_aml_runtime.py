"""The AML job runtime installs: uv's resolver (`uv pip compile`, the project's one locking tool)
resolves it for CPython 3.11 on the images' platform (x86_64-manylinux_2_36), whatever this machine is.

The environment image is built by AML long after review; an unresolvable pin set (two pins that
exclude each other, a pin without a cp311 wheel) would only fail there. This resolves the exact
packages and constraints the Dockerfile installs, with that resolver, for the images' interpreter
and platform, so it fails here instead. It needs the package indexes (PyPI; torch's own index for
the torch builds): the release pipeline's PR validation (GitHub-hosted) reaches both; where one is
unreachable a test skips and says which, except in CI (CI=true), where that skip fails (tests/conftest.py);
they are marked `network` so that CI can run them as their own job (`make test-network`).
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from stackctl.aml.environment import CONSTRAINTS, IMAGE_KINDS, RUNTIME_LOCK, dockerfile, load_runtime
from stackctl.aml.resolve import (
    IndexUnreachable,
    lock_inputs,
    locked_requirements,
    read_pins,
    torch_source,
)
from stackctl.aml.resolve import resolve as uv_resolve

REPO = Path(__file__).resolve().parents[2]


def resolve(requirements: list[str], constraints: str, *extra: str) -> dict[str, str]:
    try:
        return uv_resolve(requirements, constraints, *extra)
    except IndexUnreachable as exc:
        pytest.skip(f"the package index is unreachable from here, so resolution is not checked: {exc}")


def test_every_runtime_package_is_locked_and_covers_the_model_dependencies() -> None:
    lock = read_pins((REPO / RUNTIME_LOCK).read_text(encoding="utf-8"))
    runtime = load_runtime()
    names = {canonicalize_name(name) for name in runtime.python_packages}
    missing = sorted(name for name in names if name not in lock)
    assert not missing, f"not pinned in {RUNTIME_LOCK} (run `make lock-aml`): {missing}"
    model = tomllib.loads((REPO / "src" / "model" / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {canonicalize_name(Requirement(dep).name) for dep in model["project"]["dependencies"]}
    assert needed - {"torch"} <= names, f"the model wheel needs {sorted(needed - names - {'torch'})}"


def test_the_images_hold_the_tests_versions_except_the_justified_overrides() -> None:
    """Jobs run what the tests ran: a pin may differ from constraints.txt only as runtime.yaml says."""
    lock = read_pins((REPO / RUNTIME_LOCK).read_text(encoding="utf-8"))
    tested = read_pins((REPO / CONSTRAINTS).read_text(encoding="utf-8"))
    overrides = load_runtime().overrides
    differing = {name for name in lock if name in tested and lock[name] != tested[name]}
    assert differing <= set(overrides), sorted(differing - set(overrides))
    for name, version in overrides.items():
        assert lock[name] == version, name


def test_base_images_are_pinned_by_digest_and_the_build_checks_python_311() -> None:
    runtime = load_runtime()
    for kind in IMAGE_KINDS:
        image = runtime.images[kind]
        assert re.search(r"@sha256:[0-9a-f]{64}$", image.base_image), image.base_image
        assert ":latest" not in image.base_image
        text = dockerfile(image, "demand_forecast_model-0.1.0-py3-none-any.whl")
        assert f"FROM {image.base_image}" in text
        assert "sys.version_info[:2] == (3, 11)" in text
        assert "-c /opt/demand-forecast/constraints.txt" in text
        assert "pip check" in text
    assert "+cpu" in runtime.images["cpu"].torch


# The NVIDIA driver branch of AML compute cluster nodes: 535 (CUDA 12.2); no cluster setting picks
# another (https://github.com/rapidsai/deployment/pull/719). A CUDA major's builds run on drivers from
# the branch its minor version compatibility needs
# (https://docs.nvidia.com/deploy/cuda-compatibility/minor-version-compatibility.html; CUDA 13.0:
# https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/index.html).
AML_NODE_DRIVER_BRANCH = 535
MINIMUM_DRIVER_BRANCH = {11: 450, 12: 525, 13: 580}


def test_the_gpu_image_torch_build_runs_on_aml_nodes_driver() -> None:
    """Fault kind: a CUDA build newer than the nodes' driver (PyPI's torch 2.13.0 is CUDA 13.0, which
    needs driver >= 580): torch.cuda.is_available() is False on every node and training cannot use
    the GPU. The build must name its CUDA version (+cuNNN) and that version must fit the driver."""
    torch = load_runtime().images["gpu"].torch
    label = re.search(r"\+cu(\d+?)(\d)$", torch)
    assert label, f"{torch}: name the CUDA build (+cuNNN, from torch's own index), not PyPI's default"
    major = int(label.group(1))
    assert MINIMUM_DRIVER_BRANCH[major] <= AML_NODE_DRIVER_BRANCH, (
        f"{torch} needs driver >= {MINIMUM_DRIVER_BRANCH[major]}"
    )


def test_both_images_hold_the_locked_torch_version_and_its_dependencies() -> None:
    """The CPU build (+cpu) and the CUDA build (+cu128) are one torch version, the one the lock pins
    with its own dependencies, so neither image installs an unpinned sympy or networkx."""
    lock = read_pins((REPO / RUNTIME_LOCK).read_text(encoding="utf-8"))
    for kind in IMAGE_KINDS:
        pinned = Version(load_runtime().images[kind].torch.split("==", 1)[1])
        assert pinned.public == lock["torch"], (kind, str(pinned), lock["torch"])
    assert {"sympy", "networkx", "fsspec", "jinja2", "filelock"} <= set(lock)


@pytest.mark.network
def test_the_runtime_packages_resolve_for_cpython_311_on_manylinux_within_the_lock() -> None:
    """Fault kind: pins that exclude each other (azureml-mlflow needs mlflow-skinny<=3.15.0) or have no
    cp311 manylinux wheel. pip resolves the runtime's packages from PyPI as the Dockerfile installs
    them, with the lock as constraints: every package it installs is in the lock at that version."""
    lock = read_pins((REPO / RUNTIME_LOCK).read_text(encoding="utf-8"))
    resolved = resolve(
        list(load_runtime().python_packages), (REPO / RUNTIME_LOCK).read_text(encoding="utf-8")
    )
    assert {"azureml-mlflow", "mlflow-skinny", "pandas", "numpy"} <= set(resolved)
    unpinned = sorted(set(resolved) - set(lock))
    assert not unpinned, f"installed but not in {RUNTIME_LOCK} (run `make lock-aml`): {unpinned}"
    assert resolved == {name: lock[name] for name in resolved}, "resolution differs from the lock"


@pytest.mark.network
def test_the_lock_is_exactly_what_its_inputs_resolve_to() -> None:
    """With the CPU image's torch (its index, or the folder TORCH_WHEELS names): the tests' constraints
    + the overrides give the lock, every package pinned (a new transitive dependency fails here until
    `make lock-aml`)."""
    lock = read_pins((REPO / RUNTIME_LOCK).read_text(encoding="utf-8"))
    wheels = os.environ.get("TORCH_WHEELS")
    resolved = resolve(
        locked_requirements(), lock_inputs(REPO), *torch_source(Path(wheels) if wheels else None)
    )
    resolved["torch"] = Version(resolved["torch"]).public
    assert resolved == lock, sorted(set(lock.items()) ^ set(resolved.items()))


@pytest.mark.network
@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_torch_resolves_from_the_images_torch_index(kind: str) -> None:
    image = load_runtime().images[kind]  # type: ignore[index]
    constraints = (REPO / RUNTIME_LOCK).read_text(encoding="utf-8")
    resolved = resolve([image.torch], constraints, "--extra-index-url", image.torch_index)
    assert resolved["torch"] == image.torch.split("==", 1)[1]
