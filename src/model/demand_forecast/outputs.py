"""Where the steps write: atomic files, fresh output folders and the completion marker.

A step killed at any instant (SIGKILL, a lost node, a full disk) must leave what an earlier run
wrote intact and readable, and must never leave a half-written file or folder that a later step
reads as whole. Three rules give that (src/model/README.md, "Outputs"):

* **Atomic files.** Every file is written beside its target (`.NAME.tmp-*` in the same folder, so
  on the same file system), flushed and fsync'ed, then `os.replace`d over the target, and the
  folder is fsync'ed: a reader sees the old file or the new one, never a prefix. POSIX `rename(2)`
  is atomic within one file system; the fsyncs make the new content durable before the name points
  at it (the ext4/XFS "replace via rename" guidance, e.g. https://lwn.net/Articles/457667/).
* **Fresh folders.** A step writes its whole `--out` into a staging sibling (`.OUT.partial-*`), then
  swaps it in: nothing of an earlier run survives into the new folder (issue 25, kind 9), and until
  the swap the previous folder stays as it was. Where the folder cannot be renamed (a mount point:
  an AML `rw_mount` output, which is empty when the job starts) its entries are replaced instead.
* **Completion marker.** The last file into a folder is `_SUCCESS` (the marker Hadoop and Spark
  write into a finished output folder), holding the size and SHA-256 of every file. A folder
  without it is partial; a folder whose files disagree with it is corrupt. `verify_complete` names
  the folder, the file and what to do.

`check_writable` runs before any work, so an unwritable `--out` is one clear error (exit 2) up
front, not a traceback after an hour of training (issue 25, kind 10).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from demand_forecast.errors import UsageError

MARKER = "_SUCCESS"
STEP_RUN_FILE = "step_run.json"
_PARTIAL = ".partial-"
_PREVIOUS = ".previous-"


class IncompleteOutputError(UsageError):
    """A folder a step wrote is partial (no completion marker) or corrupt (a file differs from it)."""


def _fsync_dir(folder: Path) -> None:
    """Make a rename or a new entry in `folder` durable (a no-op where directories cannot be opened)."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass
    finally:
        os.close(handle)


def write_atomic(path: Path, write: Callable[[Path], object]) -> Path:
    """Run `write(temporary_path)` beside `path`, fsync the result and rename it over `path`.

    `write` is any writer that takes a path (`DataFrame.to_csv`, `to_parquet`, `torch.save`). On any
    failure the temporary file is removed and `path` is left as it was. Returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.tmp-", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        with temporary.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def write_text_atomic(path: Path, text: str) -> Path:
    """`path.write_text(text)` (UTF-8), atomically."""
    return write_atomic(path, lambda target: target.write_text(text, encoding="utf-8"))


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> Path:
    """`frame.to_csv(path, index=False)`, atomically."""
    return write_atomic(path, lambda target: frame.to_csv(target, index=False))


def _digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def _manifest(folder: Path) -> dict[str, dict[str, int | str]]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MARKER)
    return {
        p.relative_to(folder).as_posix(): {"bytes": p.stat().st_size, "sha256": _digest(p)}
        for p in files
        if not p.name.startswith(".")
    }


def mark_complete(folder: Path) -> None:
    """Write `_SUCCESS` (every file's size and SHA-256) into `folder`, last."""
    write_text_atomic(folder / MARKER, json.dumps({"files": _manifest(folder)}, indent=1) + "\n")


def verify_complete(folder: Path, what: str, fix: str) -> None:
    """Raise IncompleteOutputError unless `folder` holds `_SUCCESS` and every file it lists, unchanged.

    `what` names the folder's kind in the message ("model folder"); `fix` says what to do."""
    marker = folder / MARKER
    if not marker.is_file():
        raise IncompleteOutputError(
            f"{what} {folder} is incomplete: it has no {MARKER} marker, so its writer was interrupted "
            f"(or it predates the marker); {fix}"
        )
    try:
        listed = json.loads(marker.read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IncompleteOutputError(
            f"{what} {folder} is corrupt: {marker.name} is unreadable ({exc}); {fix}"
        ) from exc
    for name, expected in sorted(listed.items()):
        path = folder / name
        if not path.is_file():
            raise IncompleteOutputError(f"{what} {folder} is corrupt: {name} is missing; {fix}")
        size = path.stat().st_size
        if size != expected["bytes"] or _digest(path) != expected["sha256"]:
            raise IncompleteOutputError(
                f"{what} {folder} is corrupt: {name} is {size} bytes and differs from the "
                f"{expected['bytes']} bytes written; {fix}"
            )


def check_writable(out: Path) -> None:
    """Create `out` (and its parents) and write a probe file in it and beside it, before any work.

    Raises UsageError naming the folder and the operating system's reason (permission denied,
    read-only file system, not a folder, no space)."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        if not out.is_dir():
            raise NotADirectoryError(20, "not a folder", str(out))
        handle, probe = tempfile.mkstemp(prefix=".write-probe-", dir=out)
        os.close(handle)
        os.unlink(probe)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(
            f"--out {out} cannot be written ({reason}); nothing was run. Pass a folder you can write "
            "to (its parent must exist or be creatable)"
        ) from exc


def _looks_like_step_output(out: Path) -> bool:
    names = {entry.name for entry in out.iterdir()}
    return not names or bool(names & {MARKER, STEP_RUN_FILE})


def refuse_foreign_folder(out: Path) -> None:
    """A non-empty `--out` that no step wrote (no `_SUCCESS`, no step_run.json) is refused: replacing
    its contents would delete someone's files (`--out data/sample`)."""
    if out.is_dir() and not _looks_like_step_output(out):
        shown = ", ".join(sorted(entry.name for entry in out.iterdir())[:5])
        raise UsageError(
            f"--out {out} already holds files no step wrote ({shown}); a step replaces its whole output "
            "folder, so pass a new or empty folder"
        )


def _staging(out: Path) -> Path:
    try:
        return Path(tempfile.mkdtemp(prefix=f".{out.name}{_PARTIAL}", dir=out.parent))
    except OSError:
        # The parent is read-only (an AML output mount point): stage inside the folder itself.
        return Path(tempfile.mkdtemp(prefix=_PARTIAL, dir=out))


def _replace_entries(staging: Path, out: Path) -> None:
    """Swap contents where `out` itself cannot be renamed (a mount point): the old marker goes first,
    the new one last, so the folder never holds a marker over a mix of old and new files."""
    (out / MARKER).unlink(missing_ok=True)
    for entry in out.iterdir():
        if entry == staging:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    for entry in sorted(staging.iterdir(), key=lambda e: e.name == MARKER):
        shutil.move(str(entry), str(out / entry.name))
    staging.rmdir()


def _commit(staging: Path, out: Path) -> None:
    """Put the finished `staging` folder at `out`, replacing what was there."""
    if staging.parent == out:
        _replace_entries(staging, out)
    else:
        previous = None
        if out.exists():
            previous = out.parent / f".{out.name}{_PREVIOUS}{os.getpid()}"
            try:
                os.rename(out, previous)
            except OSError:  # a mount point: replace its entries instead
                _replace_entries(staging, out)
                return
        os.rename(staging, out)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
    _fsync_dir(out.parent)


def restore_interrupted(out: Path) -> None:
    """Undo the one instant a swap can be cut at: `out` renamed away and the new folder not yet in place.

    Leftover staging folders of killed steps are removed (they were never committed)."""
    if not out.parent.is_dir():
        return
    for leftover in out.parent.glob(f".{out.name}{_PREVIOUS}*"):
        if not out.exists():
            os.rename(leftover, out)
        else:
            shutil.rmtree(leftover, ignore_errors=True)
    for leftover in [*out.parent.glob(f".{out.name}{_PARTIAL}*"), *out.glob(f"{_PARTIAL}*")]:
        shutil.rmtree(leftover, ignore_errors=True)


@contextlib.contextmanager
def fresh_output(out: Path) -> Iterator[Path]:
    """A staging folder to write the step's whole output into; committed to `out` with `_SUCCESS`
    when the block ends normally, discarded (and `out` untouched) when it raises."""
    restore_interrupted(out)
    check_writable(out)
    refuse_foreign_folder(out)
    staging = _staging(out)
    try:
        yield staging
        mark_complete(staging)
        _commit(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_step_run(out: Path, step: str, started_at: datetime, seconds: float, outcome: str) -> None:
    """The step's own record (start in UTC, duration in s, outcome) next to its outputs, which
    the publish step reads. Every step's CLI writes it as the step ends, so it lives here, not in
    publish.py: importing publish (SQLAlchemy, the reporting schema) cost each step ~0.23 CPU-s."""
    out.mkdir(parents=True, exist_ok=True)
    record = {
        "step": step,
        "started_at": started_at.astimezone(UTC).isoformat(),
        "duration_seconds": round(seconds, 3),
        "outcome": outcome,
    }
    write_text_atomic(out / STEP_RUN_FILE, json.dumps(record) + "\n")
