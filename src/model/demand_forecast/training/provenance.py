"""What a model version is derived from: the content hashes of its data and of the package's code."""

from __future__ import annotations

import hashlib
from importlib import resources
from importlib.resources.abc import Traversable

import pandas as pd

from demand_forecast.dataset import Tables


def content_hash(tables: Tables) -> str:
    digest = hashlib.sha256()
    for name, frame in tables.items():
        digest.update(name.encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def code_hash() -> str:
    """sha256 of every `.py` and `.yaml` file of the package, subpackages included (`training/` is
    one), each with its path inside the package, in path order."""
    digest = hashlib.sha256()
    for path, entry in _package_files(resources.files("demand_forecast"), ""):
        digest.update(path.encode())
        digest.update(entry.read_bytes())
    return digest.hexdigest()


def _package_files(folder: Traversable, prefix: str) -> list[tuple[str, Traversable]]:
    files: list[tuple[str, Traversable]] = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir() and entry.name != "__pycache__":
            files.extend(_package_files(entry, f"{prefix}{entry.name}/"))
        elif entry.name.endswith((".py", ".yaml")):
            files.append((f"{prefix}{entry.name}", entry))
    return files
