"""Resolve the AML runtime with pip for the images' interpreter and platform, and lock it.

`requirements/aml-runtime.txt` pins every package the images install (transitive ones included);
the Dockerfile installs with it as the constraints file. It is made from requirements/constraints.txt
(the versions the tests run) with the few overrides runtime.yaml names and justifies, by pip's own
resolver for CPython 3.11 on manylinux x86_64 (`pip install --dry-run --ignore-installed --report`),
so an unresolvable set fails at `make lock-aml` or in the test, not in AML's image build.

    python -m stackctl.aml.resolve        # rewrite requirements/aml-runtime.txt (needs the indexes)
    python -m stackctl.aml.resolve --torch-wheels DIR   # torch's CPU wheel from DIR, the rest from PyPI
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

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


PYPI = "https://pypi.org/simple"


class IndexUnreachable(Exception):
    """The package index could not be reached; nothing was resolved."""


def unreachable_hosts(stderr: str) -> str:
    """'cannot reach download.pytorch.org' from pip's retry warnings (their last line otherwise)."""
    hosts = sorted(set(re.findall(r"host='([^']+)'", stderr)))
    return f"cannot reach {', '.join(hosts)}" if hosts else stderr.strip().splitlines()[-1][:300]


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


def isolated_pip_env() -> dict[str, str]:
    """The environment for a pip run whose answer this machine's own pip configuration (extra
    indexes, find-links, caps) must not change."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    return env


def pip_resolve(requirements: list[str], constraints: str, *extra: str) -> dict[str, str]:
    """{name: version} that `pip install` would install on the images' platform.

    Raises IndexUnreachable when the index cannot be reached, StackctlError when pip cannot resolve.
    """
    with tempfile.TemporaryDirectory(prefix="aml-resolve-") as scratch:
        folder = Path(scratch)
        (folder / "requirements.txt").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        (folder / "constraints.txt").write_text(constraints, encoding="utf-8")
        env = isolated_pip_env()
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
                raise IndexUnreachable(unreachable_hosts(proc.stderr))
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
    """What the lock resolves: the runtime's packages and the CPU image's torch, so torch's own
    dependencies (sympy, networkx, fsspec, ...) are pinned too. The GPU image's CUDA build needs the
    same ones plus its nvidia-*-cu12 wheels and triton, which its metadata pins exactly (==)."""
    runtime = load_runtime()
    return [*runtime.python_packages, runtime.images["cpu"].torch]


def torch_source(torch_wheels: Path | None = None) -> list[str]:
    """pip arguments that find the CPU image's torch: its index, or a folder holding the wheel."""
    if torch_wheels is not None:
        return ["--index-url", PYPI, "--find-links", str(torch_wheels)]
    return ["--index-url", load_runtime().images["cpu"].torch_index, "--extra-index-url", PYPI]


def write_runtime_lock(root: Path, torch_wheels: Path | None = None) -> Path:
    resolved = pip_resolve(locked_requirements(), lock_inputs(root), *torch_source(torch_wheels))
    # The public version: `torch==2.13.0` admits both images' builds (+cpu, +cu128), PEP 440.
    resolved["torch"] = Version(resolved["torch"]).public
    header = (
        "# Every package of the AML job images, torch and its dependencies included (the GPU image's\n"
        "# CUDA wheels aside: its torch build pins them exactly), for CPython 3.11 manylinux x86_64.\n"
        "# The Dockerfile installs with this file as constraints.\n"
        "# = requirements/constraints.txt + the overrides in src/stackctl/aml/runtime.yaml.\n"
        "# Regenerate: make lock-aml   (python -m stackctl.aml.resolve [--torch-wheels DIR])\n"
    )
    target = root / RUNTIME_LOCK
    target.write_text(header + "".join(f"{n}=={v}\n" for n, v in sorted(resolved.items())), encoding="utf-8")
    return target


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
