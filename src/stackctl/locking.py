"""The project's pin files, all made by one tool: uv's pip-compatible resolver (`uv pip compile`,
https://docs.astral.sh/uv/pip/compile/), one lock per environment:

* `requirements/constraints.txt`: .venv on this machine (both packages, dev and bench extras, the CPU
  build of torch), `make lock`;
* `requirements/tools.txt`: .venv-tools (checkov alone: its bc-python-hcl2 would replace
  python-hcl2's `hcl2` module in .venv), `make lock-tools`;
* `requirements/aml-runtime.txt`: the AML job images, resolved for their interpreter and platform
  (`--python-version 3.11 --python-platform x86_64-manylinux_2_36`, whatever this machine is),
  `make lock-aml` (stackctl.aml.resolve).

uv reads an existing output file as the preferred versions (as pip-tools does,
https://docs.astral.sh/uv/pip/compile/#upgrading-requirements): re-locking after a dependency change
moves only what must move; `--upgrade` moves everything to the newest allowed. Its configuration files
and UV_* variables are ignored (`--no-config`), so this machine's settings cannot change a lock.

    python -m stackctl.locking main|tools [--upgrade] [--torch-wheels DIR]
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from stackctl.errors import ExitStatus, StackctlError

PYPI = "https://pypi.org/simple"
# The version every environment runs (requires-python of both packages; the images' python:3.11).
# uv reads "3.11" as 3.11.0, the lowest 3.11 the images' tag could hold: a release that needs a later
# patch (soupsieve>=3.0.2 needs >=3.11.5) is left out there. This machine's locks use its own patch.
PYTHON_VERSION = "3.11"
THIS_PYTHON = platform.python_version()
# The CPU build of torch .venv and the CPU image run (the GPU image's CUDA build is the same version).
TORCH_CPU = "torch==2.13.0+cpu"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
UNREACHABLE = re.compile(
    r"dns error|failed to lookup address|error sending request|tcp connect error|Connection refused|"
    r"Network is unreachable|No route to host|operation timed out|Could not connect|client error \(Connect\)",
    re.IGNORECASE,
)


class IndexUnreachable(Exception):
    """The package index could not be reached; nothing was resolved."""


@dataclass(frozen=True)
class Lock:
    """One environment's pin file: what it resolves and for which interpreter and platform."""

    path: str
    requirements: tuple[str, ...]  # requirement lines; {root} is the repository's absolute path
    header: str
    python_platform: str | None = None  # None: this machine's (and its Python's patch version)
    torch_local_label: bool = True  # keep torch==X+cpu (False: write the public X, PEP 440)


LOCKS = {
    "main": Lock(
        "requirements/constraints.txt",
        ("-e {root}/src/model[bench]", "-e {root}[dev]", TORCH_CPU),
        "# Pinned versions for everything installed into .venv/ (both packages install against this file).\n"
        "# Regenerate: make lock  (uv pip compile, python -m stackctl.locking main)\n",
        torch_local_label=False,
    ),
    "tools": Lock(
        "requirements/tools.txt",
        ("checkov",),
        "# checkov lives in .venv-tools/: its bc-python-hcl2 replaces python-hcl2's hcl2 module when both\n"
        "# share one environment.\n"
        "# Regenerate: make lock-tools  (uv pip compile, python -m stackctl.locking tools)\n",
    ),
}


def uv_binary() -> str:
    """The uv executable of the `uv` package installed in .venv (pinned in constraints.txt)."""
    try:
        from uv import find_uv_bin
    except ImportError as exc:
        raise StackctlError(
            "uv is not installed in this environment",
            where=sys.executable,
            fix="run `make setup` (uv is a dev dependency, pinned in requirements/constraints.txt)",
        ) from exc
    return str(find_uv_bin())


def read_pins(text: str) -> dict[str, str]:
    """{canonical name: version} of a pin file's `name==version` lines (editable lines skipped)."""
    pins: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            requirement = Requirement(line)
            pins[str(canonicalize_name(requirement.name))] = str(requirement.specifier).removeprefix("==")
    return pins


def torch_source(torch_wheels: Path | None = None, index: str = TORCH_CPU_INDEX) -> list[str]:
    """uv arguments that find a torch build: its own index beside PyPI, or a folder holding the wheel.

    With the index, every package may come from either (`unsafe-best-match`, pip's own behaviour):
    PyTorch's index also serves numpy and other packages at versions PyPI has newer ones of."""
    if torch_wheels is not None:
        return ["--find-links", str(torch_wheels)]
    return ["--extra-index-url", index, "--index-strategy", "unsafe-best-match"]


def uv_compile(
    requirements: Sequence[str],
    *,
    constraints: str | None = None,
    python_platform: str | None = None,
    python_version: str = PYTHON_VERSION,
    preferred: str | None = None,
    extra: Sequence[str] = (),
    http_retries: int | None = None,
) -> dict[str, str]:
    """{canonical name: version} that `uv pip compile` resolves for `requirements` (requirement lines)
    on CPython `python_version` and `python_platform` (None: this machine), within `constraints`
    (pin-file text), starting from the versions of `preferred` (a pin file's text; None: the newest).
    `http_retries`: how often uv retries a failed request (None: uv's default, 3, with back-off;
    `UV_HTTP_RETRIES`, https://docs.astral.sh/uv/reference/environment/#uv_http_retries); 0 says
    "unreachable" in under a second instead of ~9 s of back-off.

    Raises IndexUnreachable when an index cannot be reached, StackctlError when uv cannot resolve."""
    with tempfile.TemporaryDirectory(prefix="uv-lock-") as scratch:
        folder = Path(scratch)
        (folder / "requirements.in").write_text("\n".join(requirements) + "\n", encoding="utf-8")
        (folder / "lock.txt").write_text(preferred or "", encoding="utf-8")
        args = [uv_binary(), "pip", "compile", "--no-config", "--quiet", "--no-header", "--no-annotate"]
        args += [str(folder / "requirements.in"), "-o", str(folder / "lock.txt")]
        args += ["--python-version", python_version, "--index-url", PYPI, *extra]
        if python_platform:
            args += ["--python-platform", python_platform, "--only-binary", ":all:"]
        if constraints is not None:
            (folder / "constraints.txt").write_text(constraints, encoding="utf-8")
            args += ["-c", str(folder / "constraints.txt")]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
        if http_retries is not None:
            env["UV_HTTP_RETRIES"] = str(http_retries)
        proc = subprocess.run(args, capture_output=True, text=True, check=False, env=env, timeout=1200)
        if proc.returncode != 0:
            if UNREACHABLE.search(proc.stderr):
                raise IndexUnreachable(proc.stderr.strip().splitlines()[-1][:300])
            raise StackctlError(
                f"uv cannot resolve {', '.join(requirements)} for CPython {python_version} "
                f"({python_platform or 'this machine'}):\n{proc.stderr[-3000:]}",
                where="uv pip compile",
                fix="change the conflicting pin, or add a justified override",
            )
        return read_pins((folder / "lock.txt").read_text(encoding="utf-8"))


def write_lock_file(path: Path, header: str, pins: dict[str, str]) -> Path:
    path.write_text(header + "".join(f"{n}=={v}\n" for n, v in sorted(pins.items())), encoding="utf-8")
    return path


def lock(name: str, root: Path, *, upgrade: bool = False, torch_wheels: Path | None = None) -> Path:
    """Re-resolve LOCKS[name] and rewrite its file; the path written."""
    spec = LOCKS[name]
    target = root / spec.path
    current = None if upgrade or not target.exists() else target.read_text(encoding="utf-8")
    extra = torch_source(torch_wheels) if any(r.startswith("torch") for r in spec.requirements) else []
    requirements = [line.format(root=root.resolve().as_posix()) for line in spec.requirements]
    python = PYTHON_VERSION if spec.python_platform else THIS_PYTHON
    pins = uv_compile(
        requirements,
        python_platform=spec.python_platform,
        python_version=python,
        preferred=current,
        extra=extra,
    )
    if "torch" in pins and not spec.torch_local_label:
        pins["torch"] = pins["torch"].split("+", 1)[0]
    return write_lock_file(target, spec.header, pins)


def main(argv: list[str] | None = None) -> int:
    from stackctl.paths import repo_root

    parser = argparse.ArgumentParser(prog="python -m stackctl.locking", description=__doc__)
    parser.add_argument("which", choices=sorted(LOCKS))
    parser.add_argument(
        "--upgrade", action="store_true", help="newest allowed versions, not the current pins"
    )
    parser.add_argument(
        "--torch-wheels", type=Path, help="a folder holding torch's CPU wheel (no torch index)"
    )
    args = parser.parse_args(argv)
    try:
        path = lock(args.which, repo_root(), upgrade=args.upgrade, torch_wheels=args.torch_wheels)
    except IndexUnreachable as exc:
        print(f"error: the package index is unreachable: {exc}", file=sys.stderr)
        return ExitStatus.SETUP_FAULT
    except StackctlError as exc:
        print(exc.render(), file=sys.stderr)
        return ExitStatus.SETUP_FAULT
    print(f"wrote {path} ({len(read_pins(path.read_text(encoding='utf-8')))} pins)")
    return ExitStatus.OK


if __name__ == "__main__":
    raise SystemExit(main())
