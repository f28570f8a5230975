"""Per-segment promotion (issue 20, docs/scale.md "Per-segment promotion"): the routing table of a
registered bundle, the failed-partition rule, and the bundle's folder.

A run registers ONE model. Its bundle is the candidate's model folder plus `routing.json` (contract 3,
`contracts.Routing`): for each segment, the candidate's model where its holdout MAPE beats the
champion's on the same holdout rows by the margin (`register.margin`: candidate <= champion x
(1 - margin), the whole-model rule of `registry.promotion` applied per segment), else the champion's
entry, whose model folder is copied into the bundle under `members/<model_version>/`, so a scoring
job needs one registered model. Entries are flattened: a segment the champion itself routed to an
older model keeps that older model, and only referenced models are copied, so bundles do not nest.

Failed partitions (regions a distributed train could not train, `partitions.json`, contract 2): their
segments keep the champion's entries, marked `failed` with the error. More than
`distributed.max_failed_share` of the partitions failed, or any failed with no champion to fall back
to, fails the run before anything is registered (`FailedPartitionsError`, exit status 3).

No mlflow and no torch here: `registry` calls these with the files it downloaded.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from demand_forecast.contracts import (
    MODEL_INFO_FILE,
    PARTITIONS_FILE,
    ROUTING_FILE,
    HoldoutMape,
    Metrics,
    ModelInfo,
    Partitions,
    Route,
    Routing,
    SegmentScores,
)
from demand_forecast.errors import FailedPartitionsError, UsageError
from demand_forecast.outputs import MARKER, mark_complete, write_text_atomic

MEMBERS_DIR = "members"


def segment_region(segment: str) -> str:
    """The region of a segment id `region|store_format|velocity` (`training.segments.segment_label`)."""
    return segment.split("|", 1)[0]


def read_partitions(model_dir: Path) -> Partitions | None:
    """The model folder's `partitions.json`, or None for a model trained before it existed (then no
    partition failed: one process trained every region or failed as a whole)."""
    path = model_dir / PARTITIONS_FILE
    return Partitions.read(path) if path.is_file() else None


def failed_regions(partitions: Partitions | None) -> dict[str, str]:
    """Failed region -> its error ("" when the trainer recorded none), sorted by region."""
    if partitions is None:
        return {}
    return {region: error or "" for region, error in sorted(partitions.failed().items())}


def failed_partition_segments(partitions: Partitions | None) -> list[str]:
    """The segments `partitions.json` lists for its failed regions, sorted."""
    if partitions is None:
        return []
    return sorted(
        {s for part in partitions.partitions.values() if part.status == "failed" for s in part.segments}
    )


def check_failed_share(partitions: Partitions | None, max_failed_share: float, has_champion: bool) -> None:
    """FailedPartitionsError when the failed share exceeds `max_failed_share` (setting
    `distributed.max_failed_share`, 0..1) or, with no champion, when any partition failed."""
    if partitions is None or not partitions.partitions:
        return
    failed = failed_regions(partitions)
    if not failed:
        return
    share = len(failed) / len(partitions.partitions)
    listed = "; ".join(f"{region}: {error or 'no error recorded'}" for region, error in failed.items())
    where = f"{len(failed)} of {len(partitions.partitions)} partitions failed in training ({listed})"
    if not has_champion:
        raise FailedPartitionsError(
            f"{where}, and there is no champion whose models they could keep; nothing was registered. "
            "Fix the cause in the train step's log and rerun the training pipeline",
            failed,
            len(partitions.partitions),
        )
    if share > max_failed_share:
        raise FailedPartitionsError(
            f"{where}: {share:.1%} is above distributed.max_failed_share {max_failed_share:.1%}; nothing "
            "was registered. Fix the cause in the train step's log and rerun the training pipeline (or "
            "raise distributed.max_failed_share with --config)",
            failed,
            len(partitions.partitions),
        )


@dataclass(frozen=True)
class ChampionRoutes:
    """What the champion answers each segment with: its own model (`model_version`) or, for a
    champion bundle, the model its routing table names."""

    model_version: str
    routing: Routing | None

    @classmethod
    def of(cls, folder: Path) -> ChampionRoutes:
        """The champion's model folder or bundle (a model registered before routing has no table)."""
        info = ModelInfo.read(folder / MODEL_INFO_FILE)
        table = folder / ROUTING_FILE
        return cls(info.model_version, Routing.read(table) if table.is_file() else None)

    def version_for(self, segment: str) -> str:
        if self.routing is not None and segment in self.routing.segments:
            return self.routing.segments[segment].model_version
        return self.model_version

    def segments(self) -> set[str]:
        return set(self.routing.segments) if self.routing is not None else set()


def _ensemble_and_champion(segments: Iterable[SegmentScores]) -> dict[str, HoldoutMape]:
    """Per segment: the candidate's ensemble MAPE and the champion's, from evaluate's metrics."""
    found: dict[str, dict[str, float | None]] = {}
    for score in segments:
        if score.model in ("ensemble", "champion"):
            found.setdefault(score.segment, {})[score.model] = score.mape
    return {
        segment: HoldoutMape(candidate=values.get("ensemble"), champion=values.get("champion"))
        for segment, values in found.items()
    }


def beats(candidate: float | None, champion: float | None, margin: float) -> bool:
    """The promotion rule per segment: candidate MAPE <= champion MAPE x (1 - margin); a segment with
    no candidate MAPE keeps the champion, one with no champion MAPE (nothing to compare) takes the
    candidate."""
    if candidate is None:
        return False
    return champion is None or candidate <= champion * (1 - margin)


def decide_routing(
    metrics: Metrics,
    candidate_version: str,
    champion: ChampionRoutes | None,
    failed: dict[str, str],
    margin: float,
    whole_model_promoted: bool,
    failed_segments: Iterable[str] = (),
) -> Routing:
    """The routing table of this run's bundle.

    Segments: those of the candidate's holdout, the champion's table and `failed_segments` (the
    failed partitions' segments as `partitions.json` lists them, `failed_partition_segments`).
    No champion: every segment routes to the candidate (a failed partition has already failed the
    run, `check_failed_share`). A segment of a failed region keeps the champion's entry, marked.
    With per-segment champion scores on the same holdout (`metrics.overall.champion` set), each
    segment follows `beats`; without them (the champion could not score this data) every segment
    follows the whole-model decision `whole_model_promoted` (`registry.promotion` on recorded MAPEs).
    """
    scores = _ensemble_and_champion(metrics.segments)
    segments = set(scores) | (champion.segments() if champion else set())
    segments |= {s for s in failed_segments if segment_region(s) in failed}
    same_holdout = metrics.overall.champion is not None
    table: dict[str, Route] = {}
    for segment in sorted(segments):
        mape = scores.get(segment, HoldoutMape(candidate=None, champion=None))
        error = failed.get(segment_region(segment))
        if champion is None:
            table[segment] = Route(source="candidate", model_version=candidate_version, holdout_mape=mape)
            continue
        keep = champion.version_for(segment)
        if error is not None:
            table[segment] = Route(
                source="champion", model_version=keep, holdout_mape=mape, failed=True, error=error or None
            )
            continue
        wins = segment in scores and (
            beats(mape.candidate, mape.champion, margin) if same_holdout else whole_model_promoted
        )
        if wins:
            table[segment] = Route(source="candidate", model_version=candidate_version, holdout_mape=mape)
        else:
            table[segment] = Route(source="champion", model_version=keep, holdout_mape=mape)
    return Routing(version=1, segments=table)


def worse_segments(routing: Routing) -> list[str]:
    """Segments routed to the candidate although its holdout MAPE is above the champion's (none when
    margin >= 0: `beats` guarantees it; checked anyway before promoting)."""
    return sorted(
        segment
        for segment, route in routing.segments.items()
        if route.source == "candidate"
        and route.holdout_mape.candidate is not None
        and route.holdout_mape.champion is not None
        and route.holdout_mape.candidate > route.holdout_mape.champion
    )


def routed_mape(routing: Routing, metrics: Metrics) -> float | None:
    """The bundle's holdout MAPE: each segment's MAPE of the model it routes to, weighted by its rows
    with a non-zero actual (MAPE is their mean, `demand_forecast.metrics.mape`), so it equals the MAPE
    of the routed forecasts over the whole holdout. None when no segment has a figure, or when a
    segment kept the champion without the champion's score on this holdout (unknown, not guessed)."""
    by_key = {(s.segment, s.model): s for s in metrics.segments}
    total = weight = 0.0
    for segment in sorted({s.segment for s in metrics.segments if s.model == "ensemble"}):
        route = routing.segments.get(segment)
        model = "champion" if route is not None and route.source == "champion" else "ensemble"
        record = by_key.get((segment, model))
        if record is None:
            return None
        if record.mape is None:
            continue
        rows = record.n - record.n_zero_actual
        total += record.mape * rows
        weight += rows
    return total / weight if weight else None


def _copy_model(source: Path, target: Path) -> None:
    """A model folder's files (not a bundle's table, members or marker) into `target`, then its marker."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(ROUTING_FILE, MEMBERS_DIR, MARKER, ".*"))
    mark_complete(target)


def assemble_bundle(candidate_dir: Path, routing: Routing, champion_dir: Path | None, target: Path) -> Path:
    """The registered bundle in `target` (must not exist): the candidate's model folder, `routing.json`
    and `members/<version>/` for each champion model a segment routes to, taken from the champion's
    bundle (its own model at its root, older ones under its `members/`); `_SUCCESS` last, over all.

    UsageError when a routed version is in neither place (a champion bundle missing a member)."""
    _copy_model(candidate_dir, target)
    own = ModelInfo.read(candidate_dir / MODEL_INFO_FILE).model_version
    for version in sorted(routing.versions() - {own}):
        if champion_dir is None:
            raise UsageError(f"routing names model {version} but there is no champion to copy it from")
        root = ChampionRoutes.of(champion_dir).model_version
        source = champion_dir if version == root else champion_dir / MEMBERS_DIR / version
        if not (source / MODEL_INFO_FILE).is_file():
            raise UsageError(
                f"the champion's bundle {champion_dir} has no model {version} (its routing names it); "
                "register a complete champion again or promote another version"
            )
        _copy_model(source, target / MEMBERS_DIR / version)
    write_text_atomic(target / ROUTING_FILE, routing.model_dump_json(indent=1) + "\n")
    mark_complete(target)
    return target
