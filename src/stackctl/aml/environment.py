"""The model's AML environment: a Docker build context (base image + pins + the model wheel).

Its version is a content hash of the runtime file and the model's source, so an unchanged model and
runtime map to an existing environment version and deploy creates nothing.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from stackctl.errors import StackctlError
from stackctl.hashing import hash_tree

ENVIRONMENT_NAME = "demand-forecast-env"
RUNTIME_FILE = "runtime.yaml"


@dataclass(frozen=True)
class Runtime:
    base_image: str
    python_packages: tuple[str, ...]


def load_runtime() -> Runtime:
    text = resources.files("stackctl.aml").joinpath(RUNTIME_FILE).read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return Runtime(str(data["base_image"]), tuple(str(p) for p in data["python_packages"]))


def runtime_hash() -> str:
    text = resources.files("stackctl.aml").joinpath(RUNTIME_FILE).read_text(encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()


def model_source_hash(root: Path) -> str:
    model = root / "src" / "model"
    return hash_tree(model, ("*.py", "*.yaml", "pyproject.toml"))


def environment_version(root: Path) -> str:
    return hashlib.sha256((runtime_hash() + model_source_hash(root)).encode()).hexdigest()[:16]


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


def write_build_context(root: Path, context: Path) -> Path:
    """Dockerfile + requirements.txt + the wheel: what AML builds the environment image from."""
    runtime = load_runtime()
    if context.exists():
        shutil.rmtree(context)
    context.mkdir(parents=True)
    wheel = build_model_wheel(root, context)
    (context / "requirements.txt").write_text("\n".join(runtime.python_packages) + "\n", encoding="utf-8")
    (context / "Dockerfile").write_text(
        f"FROM {runtime.base_image}\n"
        "COPY requirements.txt /tmp/requirements.txt\n"
        f"COPY {wheel.name} /tmp/{wheel.name}\n"
        "RUN pip install --no-cache-dir -r /tmp/requirements.txt "
        f"&& pip install --no-cache-dir --no-deps /tmp/{wheel.name} && rm /tmp/*.whl /tmp/requirements.txt\n",
        encoding="utf-8",
    )
    return context
