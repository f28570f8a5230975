"""Resolve the AML runtime with pip for the images' interpreter and platform, and lock it.

`requirements/aml-runtime.txt` pins every package the images install (transitive ones included);
the Dockerfile installs with it as the constraints file. It is made from requirements/constraints.txt
(the versions the tests run) with the few overrides runtime.yaml names and justifies, by pip's own
resolver for CPython 3.11 on manylinux x86_64 (`pip install --dry-run --ignore-installed --report`),
so an unresolvable set fails at `make lock-aml` or in the test, not in AML's image build.

    python -m stackctl.aml.resolve        # rewrite requirements/aml-runtime.txt (needs the index)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from stackctl.aml.environment import CONSTRAINTS, RUNTIME_LOCK, load_runtime
from stackctl.errors import ExitStatus, StackctlError

# The tags pip accepts on the images' base (Debian bookworm, glibc 2.36): with --platform, pip takes
# only the tags it is given, and the CUDA libraries torch needs ship as manylinux_2_27 wheels.
PLATFORM_TAGS = (
    *(f"manylinux_2_{minor}_x86_64" for minor in range(36, 16, -1)),
    "manylinux2014_x86_64",
    "linux_x86_64",
)
PLATFORM_ARGS = [
    "--python-version",
    "3.11",
    "--implementation",
    "cp",
    "--abi",
    "cp311",
    *[arg for tag in PLATFORM_TAGS for arg in ("--platform", tag)],
    "--only-binary=:all:",
]
UNREACHABLE = re.compile(
    r"NewConnectionError|Max retries exceeded|Temporary failure in name resolution|"
    r"Name or service not known|Network is unreachable|ConnectTimeout|No route to host|ProxyError"
)


class IndexUnreachable(Exception):
    """The package index could not be reached; nothing was resolved."""


def read_pins(text: str) -> dict[str, str]:
    """{canonical name: version} of a pin file's `name==version` lines."""
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            requirement = Requirement(line)
            pins[str(canonicalize_name(requirement.name))] = str(requirement.specifier).removeprefix("==")
    return pins


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


def pip_resolve(requirements: list[str], constraints: str, *extra: str) -> dict[str, str]:
    """{name: version} that `pip install` would install on the images' platform.

    Raises IndexUnreachable when the index cannot be reached, StackctlError when pip cannot resolve.
    """
    with tempfile.TemporaryDirectory(prefix="aml-resolve-") as scratch:
        folder = Path(scratch)
        (folder / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        (folder / "constraints.txt").write_text(constraints, encoding="utf-8")
        # This machine's own pip configuration (extra indexes, caps) must not change the answer.
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
                str(folder / "target"),
                *PLATFORM_ARGS,
                "--report",
                str(folder / "report.json"),
                "-r",
                str(folder / "requirements.txt"),
                "-c",
                str(folder / "constraints.txt"),
                *extra,
            ],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            timeout=1200,
        )
        if proc.returncode != 0:
            if UNREACHABLE.search(proc.stderr):
                raise IndexUnreachable(proc.stderr.strip()[-400:])
            raise StackctlError(
                "pip cannot resolve the AML runtime for CPython 3.11 manylinux x86_64:\n"
                + proc.stderr[-3000:],
                where="stackctl/aml/runtime.yaml + requirements/constraints.txt",
                fix="change the conflicting pin or add a justified override in runtime.yaml",
            )
        installed = json.loads((folder / "report.json").read_text(encoding="utf-8"))["install"]
    return {
        str(canonicalize_name(item["metadata"]["name"])): str(item["metadata"]["version"])
        for item in installed
    }


def locked_requirements() -> list[str]:
    """What the lock resolves: the runtime's packages and the GPU image's torch (PyPI's CUDA build).

    torch's own dependencies (sympy, networkx, ...; on Linux the CUDA wheels and triton) are then
    pinned too. The CPU image's torch (the same version, +cpu, from torch's CPU index) needs a subset
    of them, so one lock serves both images.
    """
    runtime = load_runtime()
    return [*runtime.python_packages, runtime.images["gpu"].torch]


def write_runtime_lock(root: Path) -> Path:
    resolved = pip_resolve(locked_requirements(), lock_inputs(root))
    header = (
        "# Every package of the AML job images, torch and its dependencies (the CUDA wheels of the GPU\n"
        "# image's build) included, for CPython 3.11 manylinux x86_64. The Dockerfile installs with\n"
        "# this file as constraints.\n"
        "# = requirements/constraints.txt + the overrides in src/stackctl/aml/runtime.yaml.\n"
        "# Regenerate: make lock-aml   (python -m stackctl.aml.resolve)\n"
    )
    target = root / RUNTIME_LOCK
    target.write_text(header + "".join(f"{n}=={v}\n" for n, v in sorted(resolved.items())), encoding="utf-8")
    return target


def main() -> int:
    from stackctl.paths import repo_root

    try:
        path = write_runtime_lock(repo_root())
    except IndexUnreachable as exc:
        print(f"error: the package index is unreachable: {exc}", file=sys.stderr)
        return ExitStatus.FAILED
    print(f"wrote {path}")
    return ExitStatus.OK


if __name__ == "__main__":
    raise SystemExit(main())
