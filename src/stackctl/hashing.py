"""Content hashes: what decides whether something changed (retraining, AML asset versions, the
reviewed plan, the audit's provenance). One implementation, so the same bytes always give the
same answer wherever the question is asked."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def hash_tree(folder: Path, patterns: Iterable[str] = ("*",)) -> str:
    """A content hash of the files under `folder` (names and bytes), stable across machines."""
    digest = hashlib.sha256()
    files: set[Path] = set()
    for pattern in patterns:
        files.update(p for p in folder.rglob(pattern) if p.is_file())
    for path in sorted(files):
        relative = path.relative_to(folder).as_posix()
        if "__pycache__" in relative or relative.startswith(".") or ".egg-info" in relative:
            continue
        digest.update(relative.encode())
        digest.update(b"\0")
        digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def hash_json(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()
