"""Lock the AML runtime for the images' interpreter and platform, with the project's one locking tool.

`requirements/aml-runtime.txt` pins every package the images install (transitive ones included);
the Dockerfile installs with it as the constraints file. It is made from requirements/constraints.txt
(the versions the tests run) with the few overrides runtime.yaml names and justifies, by uv's resolver
(`uv pip compile`, stackctl.locking) for CPython 3.11 on the images' platform, whatever this machine is,
so an unresolvable set fails at `make lock-aml` or in the test, not in AML's image build.

    python -m stackctl.aml.resolve        # rewrite requirements/aml-runtime.txt (needs the indexes)
    python -m stackctl.aml.resolve --torch-wheels DIR   # torch's CPU wheel from DIR, the rest from PyPI
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from stackctl.aml.environment import CONSTRAINTS, RUNTIME_LOCK, load_runtime
from stackctl.errors import ExitStatus, StackctlError
from stackctl.locking import IndexUnreachable, read_pins, uv_compile, write_lock_file
from stackctl.locking import torch_source as _torch_source

# The images' base is Debian bookworm (glibc 2.36, runtime.yaml): it takes every manylinux wheel up to
# manylinux_2_36 (https://peps.python.org/pep-0600/), which uv's target triple says in one name
# (https://docs.astral.sh/uv/reference/cli/#uv-pip-compile--python-platform).
IMAGE_PLATFORM = "x86_64-manylinux_2_36"

__all__ = ["IMAGE_PLATFORM", "IndexUnreachable", "lock_inputs", "locked_requirements", "read_pins", "resolve"]


def lock_inputs(root: Path) -> str:
    """constraints.txt with runtime.yaml's overrides in place of the tests' versions."""
    overrides = load_runtime().overrides
    lines = []
    for line in (root / CONSTRAINTS).read_text(encoding="utf-8").splitlines():
        bare = line.split("#", 1)[0].strip()
        if bare and canonicalize_name(Requirement(bare).name) in overrides:
            continue
        lines.append(line)
    lines += [f"{name}=={version}" for name, version in sorted(overrides.items())]
    return "\n".join(lines) + "\n"


def resolve(requirements: list[str], constraints: str, *extra: str) -> dict[str, str]:
    """{name: version} that installing `requirements` within `constraints` gives on the images' platform
    (uv pip compile for CPython 3.11, IMAGE_PLATFORM, binary wheels only).

    Raises IndexUnreachable when an index cannot be reached, StackctlError when it cannot resolve."""
    try:
        return uv_compile(requirements, constraints=constraints, python_platform=IMAGE_PLATFORM, extra=extra)
    except StackctlError as exc:
        raise StackctlError(
            exc.what,
            where="stackctl/aml/runtime.yaml + requirements/constraints.txt",
            fix="change the conflicting pin or add a justified override in runtime.yaml",
        ) from exc


def locked_requirements() -> list[str]:
    """What the lock resolves: the runtime's packages and the CPU image's torch, so torch's own
    dependencies (sympy, networkx, fsspec, ...) are pinned too. The GPU image's CUDA build needs the
    same ones plus its nvidia-*-cu12 wheels and triton, which its metadata pins exactly (==)."""
    runtime = load_runtime()
    return [*runtime.python_packages, runtime.images["cpu"].torch]


def torch_source(torch_wheels: Path | None = None) -> list[str]:
    """uv arguments that find the CPU image's torch: its index (runtime.yaml), or a folder of wheels."""
    return _torch_source(torch_wheels, load_runtime().images["cpu"].torch_index)


def write_runtime_lock(root: Path, torch_wheels: Path | None = None) -> Path:
    resolved = resolve(locked_requirements(), lock_inputs(root), *torch_source(torch_wheels))
    # The public version: `torch==2.13.0` admits both images' builds (+cpu, +cu128), PEP 440.
    resolved["torch"] = Version(resolved["torch"]).public
    header = (
        "# Every package of the AML job images, torch and its dependencies included (the GPU image's\n"
        "# CUDA wheels aside: its torch build pins them exactly), for CPython 3.11 manylinux x86_64.\n"
        "# The Dockerfile installs with this file as constraints.\n"
        "# = requirements/constraints.txt + the overrides in src/stackctl/aml/runtime.yaml.\n"
        "# Regenerate: make lock-aml  (uv pip compile, python -m stackctl.aml.resolve [--torch-wheels DIR])\n"
    )
    return write_lock_file(root / RUNTIME_LOCK, header, resolved)


def main(argv: list[str] | None = None) -> int:
    from stackctl.paths import repo_root

    parser = argparse.ArgumentParser(prog="python -m stackctl.aml.resolve", description=__doc__)
    parser.add_argument(
        "--torch-wheels",
        type=Path,
        help="a folder holding the CPU image's torch wheel, where its index cannot be reached",
    )
    args = parser.parse_args(argv)
    try:
        path = write_runtime_lock(repo_root(), args.torch_wheels)
    except IndexUnreachable as exc:
        print(f"error: the package index is unreachable: {exc}", file=sys.stderr)
        return ExitStatus.SETUP_FAULT
    except StackctlError as exc:
        print(exc.render(), file=sys.stderr)
        return ExitStatus.SETUP_FAULT
    print(f"wrote {path}")
    return ExitStatus.OK


if __name__ == "__main__":
    raise SystemExit(main())
