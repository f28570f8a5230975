"""Where the local stack keeps each stand-in under .local/, and the content hashes that decide reruns."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from stackctl.errors import StackctlError
from stackctl.hashing import sha256_file
from stackctl.paths import local_stack_dir

LAKE_FILE_SYSTEMS = ("raw", "conditioned", "scored")
_LANDED_MANIFEST = ".landed.json"


@dataclass(frozen=True)
class LocalLayout:
    root: Path  # the repository root

    @property
    def base(self) -> Path:
        return local_stack_dir(self.root)

    @property
    def lake(self) -> Path:
        return self.base / "lake"

    def lake_fs(self, name: str) -> Path:
        return self.lake / name

    @property
    def mlflow_dir(self) -> Path:
        return self.base / "mlflow"

    @property
    def tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def reporting_db(self) -> Path:
        return self.base / "reporting" / "reporting.db"

    @property
    def runs(self) -> Path:
        return self.base / "runs"

    @property
    def quarantine(self) -> Path:
        return self.base / "quarantine"

    @property
    def state_file(self) -> Path:
        return self.base / "state.json"

    @property
    def telemetry(self) -> Path:
        """Where the local OpenTelemetry exporter writes the steps' metrics (metrics.jsonl)."""
        return self.base / "telemetry"

    @property
    def dashboard(self) -> Path:
        return self.base / "dashboard.html"

    def provision(self) -> list[str]:
        """Create every stand-in's folder; returns what was new (empty on a second run)."""
        created = []
        folders = [self.lake_fs(fs) for fs in LAKE_FILE_SYSTEMS]
        folders += [self.mlflow_dir, self.reporting_db.parent, self.runs, self.quarantine]
        for folder in folders:
            if not folder.is_dir():
                folder.mkdir(parents=True, exist_ok=True)
                created.append(str(folder.relative_to(self.base)))
        return created


@dataclass(frozen=True)
class LandingReport:
    landed: list[str]
    updated: list[str]
    kept: list[str]


def land_sample(sample: Path, raw: Path) -> LandingReport:
    """Copy the bundled sample CSVs into `raw`, never overwriting a file someone changed there.

    A manifest remembers the hash of what we landed: a raw file still equal to it may be refreshed
    from a newer sample; one that differs was put there by a person and is kept as is.
    """
    if not sample.is_dir() or not any(sample.glob("*.csv")):
        raise StackctlError(
            "the bundled sample data is missing",
            where=str(sample),
            fix="run `make sample-data` (or set `sample_data` in envs/local/settings.yaml)",
        )
    manifest_path = raw / _LANDED_MANIFEST
    manifest: dict[str, str] = {}
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    landed, updated, kept = [], [], []
    for source in sorted(sample.glob("*.csv")):
        target = raw / source.name
        source_hash = sha256_file(source)
        if not target.exists():
            if source.name in manifest:
                # Someone removed a file we landed: respect that, do not bring it back silently.
                kept.append(source.name)
                continue
            shutil.copy2(source, target)
            landed.append(source.name)
        else:
            current = sha256_file(target)
            if current == source_hash:
                manifest.setdefault(source.name, source_hash)
                continue
            if manifest.get(source.name) == current:
                shutil.copy2(source, target)
                updated.append(source.name)
            else:
                kept.append(source.name)
                continue
        manifest[source.name] = source_hash
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    return LandingReport(landed, updated, kept)


def quarantine_copy(raw: Path, quarantine: Path, run_id: str) -> Path:
    """Keep a copy of raw data that a pipeline refused, next to the run that refused it."""
    target = quarantine / run_id
    shutil.copytree(raw, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns(_LANDED_MANIFEST))
    return target
