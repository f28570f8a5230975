"""The AML job images' package sets: resolution time, download size and installed size per image.

Measures, for CPython 3.11 on manylinux x86_64 (the images' platform, stackctl.aml.resolve):
  resolution   pip resolving the runtime lock's inputs, as tests/stackctl/test_aml_runtime.py does
  per image    every wheel the image's build installs (its torch build, the runtime packages, with
               requirements/aml-runtime.txt as constraints), downloaded, then installed into a
               scratch folder with pip: the bytes downloaded and the bytes on disk (.pyc included,
               as the Dockerfile's pip writes them). The base image and apt packages are not counted.

It needs the package indexes: PyPI, and torch's CPU and CUDA indexes (download.pytorch.org). An
image whose index is
unreachable is reported as not measured, with the reason; `--torch-wheels DIR` takes the CPU image's
torch wheel from a folder instead (this machine keeps the same 2.13.0+cpu file in /opt/wheels).
The GPU set is several GB of downloads; `--quick` measures the resolution time only.

    python benchmarks/bench_images.py                          # both images
    python benchmarks/bench_images.py --torch-wheels /opt/wheels
    python benchmarks/bench_images.py --quick                   # resolution time only
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stackctl.aml.environment import IMAGE_KINDS, RUNTIME_LOCK, Image, load_runtime
from stackctl.aml.resolve import (
    PLATFORM_ARGS,
    PYPI,
    UNREACHABLE,
    IndexUnreachable,
    isolated_pip_env,
    lock_inputs,
    locked_requirements,
    pip_resolve,
    torch_source,
    unreachable_hosts,
)
from stackctl.paths import repo_root

ROOT = repo_root()
MIB = 1024 * 1024


def _pip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pip", *args, "--disable-pip-version-check", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        env=isolated_pip_env(),
        timeout=3600,
    )


def _check(proc: subprocess.CompletedProcess[str], what: str) -> None:
    if proc.returncode == 0:
        return
    if UNREACHABLE.search(proc.stderr):
        raise IndexUnreachable(f"{what}: {unreachable_hosts(proc.stderr)}")
    raise SystemExit(f"{what} failed:\n{proc.stderr[-2000:]}")


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def measure_image(kind: str, image: Image, torch_wheels: Path | None, scratch: Path) -> tuple[int, int, int]:
    """(wheels, bytes downloaded, bytes installed) of one image's package set."""
    wheels = scratch / f"{kind}-wheels"
    target = scratch / f"{kind}-site-packages"
    lock = str(ROOT / RUNTIME_LOCK)
    requirements = scratch / f"{kind}-requirements.txt"
    requirements.write_text(
        "\n".join([*load_runtime().python_packages, image.torch]) + "\n", encoding="utf-8"
    )
    if torch_wheels is not None and "+cpu" in image.torch:
        torch_from = ["--no-index", "--find-links", str(torch_wheels)]
    else:
        torch_from = ["--index-url", image.torch_index]
    _check(
        _pip(
            "download", "--no-deps", "-d", str(wheels), *PLATFORM_ARGS, *torch_from, "-c", lock, image.torch
        ),
        f"{kind}: downloading {image.torch}",
    )
    _check(
        _pip(
            "download",
            "-d",
            str(wheels),
            *PLATFORM_ARGS,
            "--index-url",
            PYPI,
            "--find-links",
            str(wheels),
            "-r",
            str(requirements),
            "-c",
            lock,
        ),
        f"{kind}: downloading the runtime packages",
    )
    _check(
        _pip(
            "install",
            "--no-index",
            "--find-links",
            str(wheels),
            "--target",
            str(target),
            *PLATFORM_ARGS,
            "-r",
            str(requirements),
            "-c",
            lock,
        ),
        f"{kind}: installing the set",
    )
    count = len(list(wheels.glob("*.whl")))
    return count, _size(wheels), _size(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="resolution time only (no downloads)")
    parser.add_argument("--torch-wheels", type=Path, help="folder holding the CPU image's torch wheel")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    try:
        resolved = pip_resolve(locked_requirements(), lock_inputs(ROOT), *torch_source(args.torch_wheels))
    except IndexUnreachable as exc:
        print(f"resolution: not measured, the package index is unreachable ({exc})")
        return 0
    print(
        f"resolution: {len(resolved)} packages in {time.perf_counter() - start:.1f} s"
        " (pip, CPython 3.11 manylinux x86_64)"
    )
    if args.quick:
        return 0

    print(f"{'image':<6}{'wheels':>8}{'download MiB':>14}{'installed MiB':>15}{'seconds':>9}")
    runtime = load_runtime()
    with tempfile.TemporaryDirectory(prefix="bench-images-") as folder:
        for kind in IMAGE_KINDS:
            image = runtime.images[kind]
            began = time.perf_counter()
            try:
                count, downloaded, installed = measure_image(kind, image, args.torch_wheels, Path(folder))
            except IndexUnreachable as exc:
                print(f"{kind:<6}  not measured: {exc}")
                continue
            print(
                f"{kind:<6}{count:>8}{downloaded / MIB:>14.0f}{installed / MIB:>15.0f}"
                f"{time.perf_counter() - began:>9.0f}   ({image.torch})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
