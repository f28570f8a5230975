"""The worker's view of the data: its regions one at a time, and the global quantities every worker
agrees on, computed from small per-worker summaries exchanged with `distributed.all_gather`.

Global quantities (issue 20 item 2), each exact, not estimated:
- the week grid: the first and last shipment week of the panel (min / max over the workers);
- the counting unit (`features.unit_scale`, the 0.1% quantile of positive units): the quantile needs
  only the lowest floor(q (N - 1)) + 2 values of the panel, so each worker sends its lowest that many;
- which promotion columns are strictly positive (a logical and over the workers);
- the velocity threshold (`segments.velocity_quantile` of the series' mean training units): each
  worker sends its series' means, one float per series (not per row);
- the categorical vocabularies: the union of each worker's distinct values.
- the event vocabulary (the most frequent `features.max_event_features` events): each worker counts
  its regions' own events, and the events of every region ("*", read with each region) once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from demand_forecast import distributed
from demand_forecast.dataset import Tables
from demand_forecast.features import CATEGORICALS, UNIT_QUANTILE, FeatureSpec, make_spec, series_frame
from demand_forecast.settings import Settings
from demand_forecast.training.segments import check_history, segment_label, split_weeks

ALL_REGIONS = "*"  # an events row of every region (the input contract)


class RegionSource(Protocol):
    """Where a worker reads its regions from."""

    def series_counts(self) -> dict[str, int]:
        """Series per region: the work list the regions are assigned from."""
        ...

    def regions(self, names: list[str]) -> Iterator[tuple[str, Tables]]:
        """Each region of `names` in that order with its tables (its stores, their shipments and
        promotions, its weather and events), one region's tables at a time. A source whose reads have
        a fixed cost reads several regions at once, in batches of bounded size."""
        ...


@dataclass(frozen=True)
class TablesInMemory:
    """A `RegionSource` over tables already in memory (a folder of input CSV files, which has no
    partitions): each region's rows are found once, then cut out of the tables by position."""

    tables: Tables

    @cached_property
    def _rows(self) -> dict[str, dict[str, npt.NDArray[np.int64]]]:
        """Row positions of each table, per region."""
        store_region = self.tables.stores.set_index("store_id")["region"]
        out: dict[str, dict[str, npt.NDArray[np.int64]]] = {}
        for name, frame in self.tables.items():
            if name == "stores" or frame.empty:
                continue
            region = frame["region"] if "region" in frame else frame["store_id"].map(store_region)
            for key, rows in pd.Series(region.to_numpy()).groupby(region.to_numpy()).indices.items():
                out.setdefault(str(key), {})[name] = np.asarray(rows, dtype=np.int64)
        return out

    def series_counts(self) -> dict[str, int]:
        series = self.tables.shipments[["store_id", "product_id"]].drop_duplicates()
        regions = series.merge(self.tables.stores[["store_id", "region"]], on="store_id", how="left")
        return {str(region): int(count) for region, count in regions.groupby("region").size().items()}

    def regions(self, names: list[str]) -> Iterator[tuple[str, Tables]]:
        for name in names:
            yield name, self.region(name)

    def region(self, name: str) -> Tables:
        """The tables of region `name`, cut out of the tables in memory."""
        tables = self.tables
        rows = self._rows.get(name, {})
        star = self._rows.get(ALL_REGIONS, {})

        def cut(table: str, frame: pd.DataFrame | None) -> pd.DataFrame | None:
            if frame is None:
                return None
            index = rows.get(table, np.zeros(0, np.int64))
            if table == "events":  # events of every region ("*") belong to each region
                index = np.sort(np.concatenate([index, star.get(table, np.zeros(0, np.int64))]))
            return frame.iloc[index]

        shipments = cut("shipments", tables.shipments)
        assert shipments is not None
        return Tables(
            shipments=shipments,
            stores=tables.stores[tables.stores["region"] == name],
            promotions=cut("promotions", tables.promotions),
            weather=cut("weather", tables.weather),
            events=cut("events", tables.events),
            numeric_columns=tables.numeric_columns,
        )


@dataclass(frozen=True)
class GlobalFrame:
    """What every worker agrees on before it trains a region."""

    spec: FeatureSpec
    weeks: pd.DatetimeIndex  # first to last shipment week of the whole panel
    validation_start: pd.Timestamp
    holdout_start: pd.Timestamp
    velocity_threshold: float
    vocab: dict[str, list[str]]
    series: (
        pd.DataFrame
    )  # this worker's series: store_id, product_id, region, store_format, velocity, segment


def unit_quantile_values(units: npt.NDArray[np.float64], keep: int) -> npt.NDArray[np.float64]:
    """The `keep` lowest positive finite units, sorted: all a worker contributes to the unit."""
    positive = np.sort(units[np.isfinite(units) & (units > 0)])
    return positive[:keep]


def quantile_from_lowest(lowest: npt.NDArray[np.float64], total: int, q: float) -> float:
    """numpy's default ("linear") quantile `q` of `total` values of which `lowest` are the smallest
    floor(q (total - 1)) + 2 or more, sorted; 1.0 with no value (as `features.unit_scale`)."""
    if total == 0:
        return 1.0
    position = q * (total - 1)
    below = int(np.floor(position))
    upper = min(below + 1, total - 1)
    fraction = position - below
    return float(lowest[below] + fraction * (lowest[upper] - lowest[below]))


def lowest_needed(total: int, q: float) -> int:
    """How many of the lowest values `quantile_from_lowest` reads for `total` values."""
    return int(np.floor(q * max(total - 1, 0))) + 2


def _series_means(tables: Tables, holdout_start: pd.Timestamp) -> pd.DataFrame:
    """Each series of the region with its mean weekly units before the holdout (0 without any), as
    `segments.assign_segments` computes it on the panel."""
    shipments = tables.shipments
    series = series_frame(tables)
    training = shipments[shipments["week_start"] < holdout_start]
    means = training.groupby(["store_id", "product_id"])["units"].mean()
    keys = pd.MultiIndex.from_frame(series[["store_id", "product_id"]])
    series["mean_units"] = means.reindex(keys).fillna(0.0).to_numpy(dtype=np.float64)
    return series


@dataclass
class FirstRound:
    """One worker's summary before the week grid is known."""

    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None
    positives: int = 0
    promo: dict[str, bool] = dataclasses.field(default_factory=dict)
    spec: FeatureSpec | None = None
    events: dict[str, int] = dataclasses.field(default_factory=dict)  # its regions' own events
    everywhere: dict[str, int] = dataclasses.field(default_factory=dict)  # events of every region ("*")


def _first_round(source: RegionSource, regions: list[str], settings: Settings) -> FirstRound:
    """Per worker: the week range, the positive units' count, the promotion columns' positivity."""
    out = FirstRound()
    for _, tables in source.regions(regions):
        weeks = tables.shipments["week_start"]
        if len(weeks):
            out.first = weeks.min() if out.first is None else min(out.first, weeks.min())
            out.last = weeks.max() if out.last is None else max(out.last, weeks.max())
        units = tables.shipments["units"].to_numpy(dtype=np.float64)
        out.positives += int((np.isfinite(units) & (units > 0)).sum())
        out.spec = make_spec(tables, settings.features.max_event_features)
        for column in out.spec.promo_columns:
            out.promo[column] = out.promo.get(column, True) and column in out.spec.positive_promo_columns
        if tables.events is not None:
            own = tables.events["region"] != ALL_REGIONS
            _count(out.events, tables.events.loc[own, "event"])
            out.everywhere = _count({}, tables.events.loc[~own, "event"])
    return out


def _count(counts: dict[str, int], names: pd.Series) -> dict[str, int]:
    for name, count in names.astype(str).value_counts().items():
        counts[str(name)] = counts.get(str(name), 0) + int(count)
    return counts


def _event_names(rounds: list[FirstRound], limit: int) -> tuple[str, ...]:
    """The `limit` most frequent events over the whole panel (ties by name), sorted by name, as
    `features.make_spec` chooses them from the whole events table."""
    counts: dict[str, int] = {}
    star = next((r.everywhere for r in rounds if r.everywhere), {})
    for part in [*(r.events for r in rounds), star]:
        for name, count in part.items():
            counts[name] = counts.get(name, 0) + count
    chosen = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:limit] if limit > 0 else []
    return tuple(sorted(name for name, _ in chosen))


def _combined_spec(rounds: list[FirstRound], settings: Settings, unit: float) -> FeatureSpec:
    """The feature spec every worker uses: one worker's column choice, with the global positivity,
    event vocabulary and unit."""
    specs = [r.spec for r in rounds if r.spec is not None]
    if not specs:
        raise ValueError("no worker read any region: nothing to train")
    promo: dict[str, bool] = {}
    for r in rounds:
        for column, positive in r.promo.items():
            promo[column] = promo.get(column, True) and positive
    spec = specs[0]
    return dataclasses.replace(
        spec,
        positive_promo_columns=tuple(c for c in spec.promo_columns if promo.get(c, False)),
        event_names=_event_names(rounds, settings.features.max_event_features),
        unit_scale=unit,
    )


def global_frame(source: RegionSource, regions: list[str], settings: Settings) -> GlobalFrame:
    """Agree with the other workers on the spec, week grid, velocity threshold and vocabularies.

    Raises UsageError (`segments.check_history`) when the panel is too short."""
    rounds = distributed.all_gather(_first_round(source, regions, settings))
    firsts = [r.first for r in rounds if r.first is not None]
    lasts = [r.last for r in rounds if r.last is not None]
    weeks = pd.date_range(min(firsts), max(lasts), freq="7D")
    validation_start, holdout_start = split_weeks(weeks[-1], settings)
    check_history(len(weeks), int((validation_start - weeks[0]).days // 7), settings)
    total = sum(r.positives for r in rounds)
    keep = lowest_needed(total, UNIT_QUANTILE)
    lowest, series = [], []
    for _, tables in source.regions(regions):
        lowest.append(unit_quantile_values(tables.shipments["units"].to_numpy(dtype=np.float64), keep))
        series.append(_series_means(tables, holdout_start))
    columns = ["store_id", "product_id", "region", "store_format", "mean_units"]
    mine = pd.concat(series, ignore_index=True) if series else pd.DataFrame(columns=columns)
    mine_lowest = np.sort(np.concatenate(lowest))[:keep] if lowest else np.zeros(0)
    shared = distributed.all_gather((mine_lowest, mine["mean_units"].to_numpy()))
    unit = quantile_from_lowest(np.sort(np.concatenate([s[0] for s in shared]))[:keep], total, UNIT_QUANTILE)
    spec = _combined_spec(rounds, settings, unit)
    threshold = _threshold(settings, np.concatenate([s[1] for s in shared]))
    mine = _label(mine, threshold)
    vocab = _vocab(distributed.all_gather({c: sorted(set(map(str, mine[c]))) for c in CATEGORICALS}))
    return GlobalFrame(spec, weeks, validation_start, holdout_start, threshold, vocab, mine)


def _threshold(settings: Settings, means: npt.NDArray[np.float64]) -> float:
    if settings.segments.velocity_threshold is not None:
        return float(settings.segments.velocity_threshold)
    return float(np.quantile(means, settings.segments.velocity_quantile))


def _label(series: pd.DataFrame, threshold: float) -> pd.DataFrame:
    """Velocity and segment of each series, as `segments.assign_segments` labels them."""
    out = series.drop(columns=["mean_units"])
    out["velocity"] = np.where(series["mean_units"].to_numpy() >= threshold, "fast", "slow")
    out["segment"] = [
        segment_label(r, f, v)
        for r, f, v in zip(out["region"], out["store_format"], out["velocity"], strict=True)
    ]
    return out


def _vocab(parts: list[dict[str, list[str]]]) -> dict[str, list[str]]:
    return {column: sorted(set().union(*(part[column] for part in parts))) for column in CATEGORICALS}


def my_regions(source: RegionSource, world: distributed.World) -> tuple[dict[str, int], list[str]]:
    """Every region's series count and the regions of this worker (`distributed.assign`)."""
    counts = source.series_counts()
    return counts, distributed.assign(counts, world.world_size)[world.rank]


def only(frame: pd.DataFrame, regions: Collection[str]) -> pd.DataFrame:
    return frame[frame["region"].isin(list(regions))].reset_index(drop=True)


def share(failed: Mapping[str, object], total: int) -> float:
    return len(failed) / total if total else 0.0
