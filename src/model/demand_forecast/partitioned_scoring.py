"""`score` over a conditioned folder partitioned by region: a bounded batch of regions at a time,
spread over workers.

Each worker (`demand_forecast.distributed`: rank of a torchrun / Azure ML PyTorch job, or the one
process of a plain run) takes its regions (`distributed.assign` over `_partitions.json`'s series
counts, the same answer on every rank) and, one batch of regions after another (at most BATCH_SERIES
series; a larger region alone), reads only those regions' partitions
(`loading.load_dataset(..., regions=batch)`), forecasts them and writes
`forecasts/region=<R>/part-0.parquet` per region into rank 0's output folder. A worker's memory is
bounded by its largest batch, not by the panel. Rank 0 then writes the step's outputs as a whole-data
run does: `forecasts.csv` by streaming the parts (a k-way merge in the whole run's row order: week,
store_id, product_id), `quarantine.csv` by streaming the batches' quarantine parts, and
`data_quality.json` from the batches' small summaries. The output contract publish, reporting and
the dashboard read is unchanged (`tests/model/test_partitioned_scoring.py` compares a partitioned run
with a whole one, row for row).

What is pooled over batches, so that it equals the whole-data figure: the as-of (the last shipment
week of all regions, read as one streamed column), the stale-data warning, the covariate-shift shares
(counts are summed before the share is taken), series and gap counts, weeks (their union), the
quarantine. What is per batch: validation's coverage warnings (one per batch whose share exceeds
the threshold) and the median that fills a store's missing numeric attribute (`features.py`; the
sample has none missing).
"""

from __future__ import annotations

import heapq
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from demand_forecast.dataset import ALL_REGIONS, REGION, last_week, read_partitions
from demand_forecast.distributed import (
    all_gather,
    assign,
    destroy_process_group,
    gather_to_rank0,
    init_process_group,
)
from demand_forecast.errors import UsageError
from demand_forecast.features import check_covariates
from demand_forecast.loading import load_dataset
from demand_forecast.outputs import write_atomic
from demand_forecast.scoring import (
    FORECAST_COLUMNS,
    Report,
    Scored,
    covariate_counts,
    covariate_warnings,
    forecast,
    quality_lines,
    shift_shares,
    stale_after,
    store_changes,
    without_forecast,
)
from demand_forecast.settings import Settings
from demand_forecast.training.model import TrainedModel

PARTS = "forecasts"  # forecasts/region=<R>/part-0.parquet in the score step's output
_QUARANTINE_PARTS = ".quarantine-parts"  # merged into quarantine.csv, then removed
_MERGE_KEY = ("week_start", "store_id", "product_id")
_ROW_END = "\x1e"  # record separator: pandas writes each row's CSV text, split on it for the merge
# Regions are scored in batches of at most this many series (a larger region alone). One region at a
# time re-validates and re-featurises per region, a fixed ~0.3 CPU-s each: on the 10x panel (140
# regions of ~32 series) that was 56 CPU-s against 8.4 for the whole panel at once, and 12.6 in
# batches of 1,000 (docs/scale.md, "Partitioned scoring"). Memory is bounded by the batch.
BATCH_SERIES = 1_000


@dataclass
class RegionScored:
    """What rank 0 needs of one scored batch of regions: counts and lists, never its rows."""

    region: str  # the batch's first region: names its quarantine part
    regions: list[str]
    history: bool
    rows: int
    series_forecast: int
    report: Report
    weeks: list[str]
    missing: list[dict[str, str | int]]
    assumed: list[str]
    store_warnings: list[str]
    shift: dict[str, tuple[int, int]]
    quarantine_rows: int
    shared_events: int


def score_partitioned(
    model: TrainedModel, data: Path, out: Path, as_of: pd.Timestamp | None, horizon: int, settings: Settings
) -> Scored | None:
    """Score conditioned folder `data` region by region into `out` (see the module docstring); the
    result on rank 0, None on the other ranks. Raises UsageError for a bad --as-of or --horizon before
    any region is read (every rank raises the same), DataContractError for unreadable partitions."""
    world = init_process_group(settings)
    try:
        shared = Path(all_gather(str(out))[0])  # rank 0's staging folder: every rank's parts go there
        partitions = read_partitions(data)
        mine = assign({region: p.series for region, p in partitions.items()}, world.world_size)[world.rank]
        # The default as-of needs every region's last week: one streamed column (a given one, nothing).
        as_of = last_week(data) + pd.Timedelta(weeks=1) if as_of is None else as_of
        _check_request(as_of, horizon)
        batches = region_batches(mine, {region: p.series for region, p in partitions.items()})
        scored = [_score_region(model, data, batch, as_of, horizon, settings, shared) for batch in batches]
        gathered = gather_to_rank0(scored)
    finally:
        destroy_process_group()
    if gathered is None:
        return None
    regions = sorted((r for part in gathered for r in part), key=lambda r: r.region)
    if not any(r.history for r in regions):
        raise UsageError(f"no shipments before --as-of {as_of.date()}; nothing to forecast from")
    rows, weeks = _merge_forecasts(shared / PARTS, out / "forecasts.csv")
    _merge_quarantine(shared / _QUARANTINE_PARTS, out / "quarantine.csv", [r.region for r in regions])
    report, lines = _report(regions, as_of)
    return Scored(rows=rows, weeks=weeks, report=report, lines=lines)


def _check_request(as_of: pd.Timestamp, horizon: int) -> None:
    if horizon < 1:
        raise UsageError(f"--horizon must be >= 1, got {horizon}")
    if as_of.day_of_week != 0:
        raise UsageError(f"--as-of {as_of.date()} is not a Monday; weeks start on Monday")


def region_batches(regions: list[str], series: dict[str, int], budget: int | None = None) -> list[list[str]]:
    """`regions` in order, cut into consecutive batches of at most `budget` series (default
    BATCH_SERIES); a region larger than the budget is a batch of its own. Raises ValueError for a
    budget < 1."""
    budget = BATCH_SERIES if budget is None else budget
    if budget < 1:
        raise ValueError(f"the batch budget must be >= 1 series, got {budget}")
    batches: list[list[str]] = []
    size = 0
    for region in regions:
        if not batches or size + series[region] > budget:
            batches.append([])
            size = 0
        batches[-1].append(region)
        size += series[region]
    return batches


def _score_region(
    model: TrainedModel,
    data: Path,
    batch: list[str],
    as_of: pd.Timestamp,
    horizon: int,
    settings: Settings,
    shared: Path,
) -> RegionScored:
    """Forecast one batch of regions and write each region's part; the batch's summary for rank 0."""
    region = batch[0]
    validation = load_dataset(data, settings, regions=batch)
    tables = validation.tables
    # A region whose shipments all lie after as-of has nothing to forecast (a whole-data run skips its
    # series the same way); only when no region has history is that the whole run's error.
    history = bool((tables.shipments["week_start"] < as_of).any())
    forecasts = forecast(model, tables, as_of, horizon) if history else pd.DataFrame(columns=FORECAST_COLUMNS)
    if len(forecasts):
        ds.write_dataset(
            pa.Table.from_pandas(forecasts, preserve_index=False),
            shared / PARTS,
            format="parquet",
            partitioning=[REGION],
            partitioning_flavor="hive",
            basename_template="part-{i}.parquet",
            existing_data_behavior="overwrite_or_ignore",
            preserve_order=True,
        )
    if len(validation.quarantine):
        part = shared / _QUARANTINE_PARTS / f"{_index_of(region)}.csv"
        write_atomic(part, lambda target: validation.quarantine.to_csv(target, index=False))
    missing = without_forecast(validation, forecasts, as_of)
    shipments = tables.shipments
    return RegionScored(
        region=region,
        regions=batch,
        history=history,
        rows=len(forecasts),
        series_forecast=int(forecasts[["store_id", "product_id"]].drop_duplicates().shape[0]),
        report=validation.report,
        weeks=sorted(shipments["week_start"].dt.strftime("%Y-%m-%d").unique().tolist()),
        missing=[
            {"store_id": r.store_id, "product_id": r.product_id, "rows": int(r.rows), "reasons": r.reasons}
            for r in missing.itertuples()
        ],
        assumed=list(check_covariates(tables, model.spec)),
        store_warnings=store_changes(model, tables),
        shift=covariate_counts(model, tables, as_of),
        quarantine_rows=len(validation.quarantine),
        shared_events=0 if tables.events is None else int((tables.events[REGION] == ALL_REGIONS).sum()),
    )


def _index_of(region: str) -> str:
    """A file name for `region` that any region id makes valid (the URI encoding pyarrow uses)."""
    from urllib.parse import quote

    return quote(region, safe="")


def _part_rows(path: Path, region: str) -> Iterator[tuple[tuple[str, ...], str]]:
    """(merge key, CSV text) of each row of one part, one record batch at a time."""
    for batch in pq.ParquetFile(path).iter_batches(batch_size=50_000):
        frame = batch.to_pandas()
        frame.insert(FORECAST_COLUMNS.index(REGION), REGION, region)
        text = frame[FORECAST_COLUMNS].to_csv(index=False, header=False, lineterminator=_ROW_END)
        keys = zip(*(frame[column].astype(str) for column in _MERGE_KEY), strict=True)
        yield from zip(keys, text.split(_ROW_END)[:-1], strict=True)


def _merge_forecasts(parts: Path, target: Path) -> tuple[int, int]:
    """forecasts.csv from every region's part, merged on (week, store, product): the row order of a
    whole-data run, one batch per part in memory. Returns the rows and the distinct weeks written."""
    found = sorted(parts.glob(f"{REGION}=*/part-*.parquet")) if parts.is_dir() else []
    streams = [_part_rows(path, _region_of(path)) for path in found]
    rows, weeks = 0, set()

    def write(path: Path) -> None:
        nonlocal rows
        with path.open("w", encoding="utf-8", newline="") as handle:
            handle.write(",".join(FORECAST_COLUMNS) + "\n")
            for key, line in heapq.merge(*streams, key=lambda item: item[0]):
                handle.write(line + "\n")
                weeks.add(key[0])
                rows += 1

    write_atomic(target, write)
    return rows, len(weeks)


def _region_of(part: Path) -> str:
    from urllib.parse import unquote

    return unquote(part.parent.name.split("=", 1)[1])


def _merge_quarantine(parts: Path, target: Path, regions: list[str]) -> None:
    """quarantine.csv: the regions' quarantine parts one after another (region order), streamed."""
    files = [parts / f"{_index_of(region)}.csv" for region in regions]
    files = [path for path in files if path.is_file()]

    def write(path: Path) -> None:
        with path.open("w", encoding="utf-8", newline="") as handle:
            if not files:
                handle.write(",".join(_quarantine_columns()) + "\n")
            for number, part in enumerate(files):
                with part.open(encoding="utf-8", newline="") as source:
                    header = source.readline()
                    if number == 0:
                        handle.write(header)
                    shutil.copyfileobj(source, handle)

    write_atomic(target, write)
    shutil.rmtree(parts, ignore_errors=True)


def _quarantine_columns() -> list[str]:
    from demand_forecast.data_contract import QUARANTINE_COLUMNS

    return list(QUARANTINE_COLUMNS)


def _report(regions: list[RegionScored], as_of: pd.Timestamp) -> tuple[Report, list[str]]:
    """data_quality.json of the whole run from the regions' summaries, and the lines score prints."""
    shared = max((r.shared_events for r in regions), default=0)
    report = merge_reports([r.report for r in regions], [r.weeks for r in regions], shared)
    stale = stale_after(pd.Timestamp(report["last_week"]), as_of)  # the last week of all regions
    notes = [stale] if stale else []
    notes += _ordered(w for r in regions for w in r.store_warnings)
    shift: dict[str, tuple[int, int]] = {}
    for r in regions:
        for name, (outside, total) in r.shift.items():
            before = shift.get(name, (0, 0))
            shift[name] = (before[0] + outside, before[1] + total)
    notes += covariate_warnings(shift_shares(shift))
    missing = sorted((m for r in regions for m in r.missing), key=lambda m: (m["store_id"], m["product_id"]))
    assumed = _ordered(a for r in regions for a in r.assumed)
    report["warnings"] = [*report["warnings"], *notes]
    report["scoring"] = {
        "as_of": as_of.strftime("%Y-%m-%d"),
        "series_forecast": sum(r.series_forecast for r in regions),
        "series_without_forecast": len(missing),
        "without_forecast": missing,
        "assumed_inputs": assumed,
    }
    return report, quality_lines(report, pd.DataFrame(missing, columns=["store_id", "product_id"]), assumed)


def _ordered(values: Iterable[str]) -> list[str]:
    """Distinct values in first-seen order."""
    return list(dict.fromkeys(values))


_SUMMED_FILE_COUNTS = ("rows_in", "rows_out", "quarantined", "outside_run", "unmatched")


def merge_reports(reports: list[Report], weeks: list[list[str]], shared_rows: int = 0) -> Report:
    """One data_quality report of disjoint regions' reports (`data_contract.quality_report` shape):
    counts summed, weeks the union of the regions' shipment weeks (`weeks[i]`: report i's), first and
    last week the extremes, warnings in first-seen order. `shared_rows`: events rows for every region
    ("*"), which each region's report counts, so they are counted once. Raises ValueError for no report."""
    if not reports:
        raise ValueError("no region was scored: the conditioned folder lists no partition")
    merged = dict(reports[0])
    files: dict[str, Report] = {}
    reasons: dict[str, int] = {}
    for report in reports:
        for name, entry in report["files"].items():
            if name not in files:
                files[name] = dict(entry)
                continue
            for key in _SUMMED_FILE_COUNTS:
                if key in entry:
                    files[name][key] = files[name].get(key, 0) + entry[key]
        for reason, count in report["quarantined_by_reason"].items():
            reasons[reason] = reasons.get(reason, 0) + count
    if "events.csv" in files and shared_rows:
        # Events for every region ("*") are read with each region: count them once.
        for key in ("rows_in", "rows_out"):
            files["events.csv"][key] -= shared_rows * (len(reports) - 1)
    merged["files"] = files
    merged["quarantined_by_reason"] = dict(sorted(reasons.items()))
    for key in ("series", "gaps", "zero_unit_rows"):
        merged[key] = sum(int(report[key]) for report in reports)
    merged["weeks"] = len({week for listed in weeks for week in listed})
    merged["first_week"] = min(report["first_week"] for report in reports)
    merged["last_week"] = max(report["last_week"] for report in reports)
    merged["ignored_columns"] = {k: v for report in reports for k, v in report["ignored_columns"].items()}
    merged["warnings"] = _ordered(w for report in reports for w in report.get("warnings", []))
    return merged
