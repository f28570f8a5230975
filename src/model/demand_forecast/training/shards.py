"""A worker's training rows on local disk: appended one region at a time, read back a window at a time.

The distributed training (docs/scale.md, issue 20) holds one region's design in memory while it fits
that region's segments, then appends the rows the shared network needs to a shard file and drops
them, so a worker's memory is bounded by its largest partition, not by its share of the panel. The
network then streams the rows back in windows of a few thousand: each window maps the file, copies
the rows it wants and unmaps it again, so the pages of the file never accumulate in the process's
resident set (a mapping kept open would count every page it ever touched in RSS/PSS).

Files are raw C-order arrays (`numpy.ndarray.tofile`), one per column group, plus the row count in
memory; they live in a temporary folder of the worker (`scratch_folder`) and are removed with it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

# Rows read per window: ~4,000 rows x 60 features x 4 bytes ~ 1 MiB; large enough to amortise mapping.
WINDOW_ROWS = 1 << 14

_COLUMNS = {"features": np.float32, "codes": np.int64, "target": np.float64}
SHARDS_PREFIX = "demand-forecast-shards-"


@contextlib.contextmanager
def scratch_folder(prefix: str = SHARDS_PREFIX) -> Iterator[Path]:
    """A temporary folder of this process, `<tmp>/<prefix><pid>-*`, removed when the block ends.

    A worker killed with SIGKILL (a lost node, a killed torchrun rank) never runs that removal, and
    its shards are as large as its share of the panel; so first remove the folders of `prefix` whose
    process is gone (`remove_orphans`): the next run on the machine cleans up after a killed one."""
    root = Path(tempfile.gettempdir())
    remove_orphans(root, prefix)
    with tempfile.TemporaryDirectory(prefix=f"{prefix}{os.getpid()}-", dir=root) as folder:
        yield Path(folder)


def remove_orphans(root: Path, prefix: str) -> list[Path]:
    """Remove the folders `<root>/<prefix><pid>-*` whose process `pid` no longer runs; return them.
    Folders of running processes, of other users (not removable) and without a pid are left alone."""
    removed = []
    for folder in sorted(root.glob(f"{prefix}*-*")):
        pid = folder.name[len(prefix) :].split("-", 1)[0]
        if folder.is_dir() and pid.isdigit() and not _running(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                removed.append(folder)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's
        return True
    return True


@dataclass
class Shard:
    """Rows with `features` (float32, n x width), `codes` (int64, n x n_codes) and `target` (float64)."""

    folder: Path
    width: int = -1  # known from the first rows appended, or from `shape` (a worker without rows)
    n_codes: int = -1
    rows: int = 0
    _shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for name in _COLUMNS:
            (self.folder / f"{name}.bin").touch()

    def shape(self, width: int, n_codes: int) -> None:
        """Fix the row shape (the first append does it from its arrays)."""
        if self.width >= 0 and (self.width, self.n_codes) != (width, n_codes):
            raise ValueError(f"shard rows are {self.width} + {self.n_codes} wide, not {width} + {n_codes}")
        self.width, self.n_codes = width, n_codes
        self._shapes = {"features": (width,), "codes": (n_codes,), "target": ()}

    def append(
        self,
        features: npt.NDArray[np.float32],
        codes: npt.NDArray[np.int64],
        target: npt.NDArray[np.float64],
    ) -> None:
        """Append rows (all three arrays have the same length)."""
        self.shape(features.shape[1], codes.shape[1])
        arrays: dict[str, npt.NDArray[np.generic]] = {"features": features, "codes": codes, "target": target}
        for name, array in arrays.items():
            if array.shape[1:] != self._shapes[name] or len(array) != len(target):
                raise ValueError(f"shard {name}: shape {array.shape} does not fit {self._shapes[name]}")
            with open(self.folder / f"{name}.bin", "ab") as sink:
                np.ascontiguousarray(array, dtype=_COLUMNS[name]).tofile(sink)
        self.rows += len(target)

    def take(
        self, index: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float64]]:
        """Copies of the rows at `index` (any order); the file is mapped only during the call."""
        return (
            self._read("features", index).astype(np.float32, copy=False),
            self._read("codes", index).astype(np.int64, copy=False),
            self._read("target", index).astype(np.float64, copy=False),
        )

    def _read(self, name: str, index: npt.NDArray[np.int64]) -> npt.NDArray[np.generic]:
        dtype = _COLUMNS[name]
        if self.rows == 0:
            return np.zeros((0, *self._shapes[name]), dtype=dtype)
        path = self.folder / f"{name}.bin"
        mapped = np.memmap(path, dtype=dtype, mode="r", shape=(self.rows, *self._shapes[name]))
        rows = np.array(mapped[index])
        del mapped  # unmaps: the pages read leave this process's resident set
        return rows

    def windows(
        self, size: int = WINDOW_ROWS
    ) -> Iterator[tuple[int, npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float64]]]:
        """(start, features, codes, target) of consecutive windows of at most `size` rows, in order."""
        for start in range(0, self.rows, size):
            features, codes, target = self.take(np.arange(start, min(start + size, self.rows)))
            yield start, features, codes, target
