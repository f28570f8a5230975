"""The model's AML environments: one Docker build context per image of runtime.yaml (cpu, gpu).

A build context holds the Dockerfile (runtime.Dockerfile filled from runtime.yaml), requirements.txt
(the runtime's distribution names), constraints.txt (requirements/aml-runtime.txt: every version,
transitive ones included) and the model wheel. The environments' version is a content hash of all of
it (runtime.yaml, the Dockerfile template, the runtime lock, the model's source), so an unchanged
model and runtime map to existing environment versions and deploy creates nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any, Literal

import yaml
from packaging.utils import canonicalize_name

from stackctl.errors import StackctlError
from stackctl.hashing import hash_tree

ImageKind = Literal["cpu", "gpu"]
IMAGE_KINDS: tuple[ImageKind, ...] = ("cpu", "gpu")
ENVIRONMENT_NAMES: dict[ImageKind, str] = {"cpu": "demand-forecast-cpu", "gpu": "demand-forecast-gpu"}
RUNTIME_FILE = "runtime.yaml"
DOCKERFILE_TEMPLATE = "runtime.Dockerfile"
CONSTRAINTS = Path("requirements") / "constraints.txt"
# The images' own pin file (stackctl.aml.resolve writes it): constraints.txt + runtime.yaml's overrides.
RUNTIME_LOCK = Path("requirements") / "aml-runtime.txt"
BASE_IMAGE_SOURCE = "base images imported by digest into the workspace's container registry"


@dataclass(frozen=True)
class Image:
    base_image: str
    torch: str
    torch_index: str


@dataclass(frozen=True)
class Runtime:
    images: dict[ImageKind, Image]
    python_packages: tuple[str, ...]
    # name -> version the images hold instead of the tests' (each justified in runtime.yaml)
    overrides: dict[str, str]


def _resource(name: str) -> str:
    return resources.files("stackctl.aml").joinpath(name).read_text(encoding="utf-8")


def load_runtime() -> Runtime:
    data: dict[str, Any] = yaml.safe_load(_resource(RUNTIME_FILE))
    images = {kind: Image(**{k: str(v) for k, v in data["images"][kind].items()}) for kind in IMAGE_KINDS}
    for kind, image in images.items():
        if "@sha256:" not in image.base_image:
            raise StackctlError(
                f"the {kind} base image {image.base_image} is not pinned by digest",
                where=f"stackctl/aml/{RUNTIME_FILE}",
                fix="append @sha256:<digest> (`docker buildx imagetools inspect IMAGE` prints it)",
            )
    overrides = {str(canonicalize_name(str(k))): str(v) for k, v in (data.get("overrides") or {}).items()}
    return Runtime(images, tuple(str(p) for p in data["python_packages"]), overrides)


def runtime_hash(root: Path) -> str:
    """sha256 over everything that goes into the images besides the model's source."""
    digest = hashlib.sha256()
    # BASE_IMAGE_SOURCE: the FROM now names the workspace registry's copy (base_image.py), a new
    # environment version even where runtime.yaml did not change.
    texts = (
        BASE_IMAGE_SOURCE,
        _resource(RUNTIME_FILE),
        _resource(DOCKERFILE_TEMPLATE),
        (root / RUNTIME_LOCK).read_text(),
    )
    for text in texts:
        digest.update(hashlib.sha256(text.encode()).digest())
    return digest.hexdigest()


def model_source_hash(root: Path) -> str:
    model = root / "src" / "model"
    return hash_tree(model, ("*.py", "*.yaml", "pyproject.toml"))


def environment_version(root: Path) -> str:
    return hashlib.sha256((runtime_hash(root) + model_source_hash(root)).encode()).hexdigest()[:16]


def build_model_wheel(root: Path, out: Path) -> Path:
    """`pip wheel` of src/model (no dependencies: the runtime pins them).

    It builds from a copy, because setuptools writes build/ and *.egg-info next to the sources it builds.
    """
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.whl"):
        old.unlink()
    with tempfile.TemporaryDirectory(prefix="model-wheel-") as scratch:
        source = Path(scratch) / "model"
        shutil.copytree(
            root / "src" / "model",
            source,
            ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", "dist"),
        )
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "-q",
                "-w",
                str(out),
                str(source),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
    wheels = sorted(out.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise StackctlError(
            f"building the model wheel failed:\n  {proc.stderr.strip()[-1500:]}",
            where=str(root / "src" / "model"),
            fix="fix the model package's pyproject.toml (try `pip wheel --no-deps src/model`)",
        )
    return wheels[0]


def dockerfile(image: Image, wheel_name: str) -> str:
    return Template(_resource(DOCKERFILE_TEMPLATE)).substitute(
        base_image=image.base_image, torch=image.torch, torch_index=image.torch_index, wheel=wheel_name
    )


def write_build_contexts(
    root: Path, out: Path, base_images: Mapping[str, str] | None = None
) -> dict[ImageKind, Path]:
    """One build context per image under out/<kind>/: Dockerfile, requirements, constraints, wheel.

    `base_images` (kind -> reference): the `FROM` of each image instead of runtime.yaml's, i.e. the
    copy `stackctl.aml.base_image` imported into the workspace's registry by the same digest."""
    runtime = load_runtime()
    if base_images:
        runtime = replace(
            runtime,
            images={
                kind: replace(image, base_image=base_images.get(kind, image.base_image))
                for kind, image in runtime.images.items()
            },
        )
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    wheel = build_model_wheel(root, out / "wheel")
    contexts: dict[ImageKind, Path] = {}
    for kind, image in runtime.images.items():
        context = out / kind
        context.mkdir()
        shutil.copy2(wheel, context / wheel.name)
        shutil.copy2(root / RUNTIME_LOCK, context / "constraints.txt")
        (context / "requirements.txt").write_text("\n".join(runtime.python_packages) + "\n", encoding="utf-8")
        (context / "Dockerfile").write_text(dockerfile(image, wheel.name), encoding="utf-8")
        contexts[kind] = context
    shutil.rmtree(out / "wheel")
    return contexts
