"""The AML job runtime installs: pip itself resolves it for CPython 3.11 on manylinux x86_64.

The environment image is built by AML long after review; an unresolvable pin set (two pins that
exclude each other, a pin without a cp311 wheel) would only fail there. This resolves the exact
packages and constraints the Dockerfile installs, with pip's resolver, for the images' interpreter
and platform, so it fails here instead. It needs the package index (PyPI; the torch index for the
torch builds): CI reaches it; where it is unreachable the tests skip and say so.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from stackctl.aml.environment import CONSTRAINTS, IMAGE_KINDS, dockerfile, load_runtime

REPO = Path(__file__).resolve().parents[2]
# The images: CPython 3.11 on glibc x86_64 (Debian bookworm: glibc 2.36; the CUDA base: Ubuntu 22.04, 2.35).
PLATFORM_ARGS = [
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
    *[
        arg
        for tag in ("manylinux_2_28_x86_64", "manylinux2014_x86_64", "manylinux_2_17_x86_64", "linux_x86_64")
        for arg in ("--platform", tag)
    ],
    "--only-binary=:all:",
]
UNREACHABLE = re.compile(
    r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution|"
    r"Name or service not known|Network is unreachable|ConnectTimeout|No route to host|ProxyError"
)


def constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO / CONSTRAINTS).read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            pins[canonicalize_name(requirement.name)] = str(requirement.specifier).removeprefix("==")
    return pins


def pip_resolve(tmp_path: Path, requirements: list[str], *extra: str) -> dict[str, str]:
    """`pip install --dry-run --ignore-installed` for the images' platform: {name: version} to install."""
    (tmp_path / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
    report = tmp_path / "report.json"
    # The machine's own pip configuration (extra indexes, caps) must not change what CI would resolve.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--disable-pip-version-check",
            "--target",
            str(tmp_path / "target"),
            *PLATFORM_ARGS,
            "--report",
            str(report),
            "-r",
            str(tmp_path / "requirements.txt"),
            "-c",
            str(REPO / CONSTRAINTS),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=900,
    )
    if proc.returncode != 0:
        if UNREACHABLE.search(proc.stderr):
            pytest.skip(
                "the package index is unreachable from here, so resolution is not checked: "
                f"{proc.stderr.strip()[-300:]}"
            )
        pytest.fail(
            f"pip cannot resolve the AML runtime for CPython 3.11 manylinux x86_64:\n{proc.stderr[-4000:]}"
        )
    installed = json.loads(report.read_text(encoding="utf-8"))["install"]
    return {canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"] for item in installed}


def test_every_runtime_package_is_pinned_by_the_constraints_and_covers_the_model_dependencies() -> None:
    pins = constraints()
    runtime = load_runtime()
    names = {canonicalize_name(name) for name in runtime.python_packages}
    missing = sorted(name for name in names if name not in pins)
    assert not missing, f"not pinned in {CONSTRAINTS} (run `make lock`): {missing}"
    model = tomllib.loads((REPO / "src" / "model" / "pyproject.toml").read_text(encoding="utf-8"))
    needed = {canonicalize_name(Requirement(dep).name) for dep in model["project"]["dependencies"]}
    assert needed - {"torch"} <= names, f"the model wheel needs {sorted(needed - names - {'torch'})}"
    assert "torch" in needed


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
    assert "+cu" in runtime.images["gpu"].torch


def test_the_runtime_resolves_for_cpython_311_on_manylinux_with_every_package_pinned(tmp_path: Path) -> None:
    """Fault kind: pins that exclude each other (azureml-mlflow needs mlflow-skinny<=3.15.0) or have
    no cp311 wheel. Every resolved package, transitive ones too, must come pinned from the constraints."""
    runtime = load_runtime()
    resolved = pip_resolve(tmp_path, list(runtime.python_packages))
    pins = constraints()
    unpinned = sorted(f"{name}=={version}" for name, version in resolved.items() if name not in pins)
    assert not unpinned, f"resolved without a pin in {CONSTRAINTS} (run `make lock`): {unpinned}"
    drifted = sorted(
        f"{name} {version} != {pins[name]}" for name, version in resolved.items() if pins[name] != version
    )
    assert not drifted, drifted
    assert {"azureml-mlflow", "mlflow", "mlflow-skinny", "pandas", "numpy"} <= set(resolved)


@pytest.mark.parametrize("kind", IMAGE_KINDS)
def test_torch_resolves_from_the_images_torch_index(tmp_path: Path, kind: str) -> None:
    image = load_runtime().images[kind]  # type: ignore[index]
    resolved = pip_resolve(
        tmp_path,
        [image.torch],
        "--index-url",
        image.torch_index,
        "--extra-index-url",
        "https://pypi.org/simple",
    )
    assert resolved["torch"] == image.torch.split("==", 1)[1]
