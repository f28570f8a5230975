"""Reading and writing the input contract's tables (CSV or parquet): the I/O edge of the package.

Input folders (the input contract) hold one file per table. The conditioned folder `validate` writes
is partitioned by region (issue 20, docs/scale.md, contract 1; section "Conditioned layout" below)::

    <out>/shipments/region=<R>/part-0.parquet   the region of each row's store (stores.csv)
    <out>/promotions/region=<R>/part-0.parquet  likewise
    <out>/weather/region=<R>/part-0.parquet     their own region column
    <out>/events/region=<R>/part-0.parquet      their own region column; region "*" (every region)
                                                has a partition of its own, read with any region
    <out>/stores.parquet                        whole: small, every worker reads it
    <out>/_partitions.json                      {"version": 1, "partitions": {R: {"series", "rows", "bytes"}}}

Written with `pyarrow.dataset.write_dataset(..., partitioning=["region"], partitioning_flavor="hive")`
(https://arrow.apache.org/docs/python/dataset.html, "Writing partitioned data") and read back with a
`ds.field("region").isin(...)` filter, so only the asked regions' files are opened: the partition
pruning is pyarrow's ("Reading partitioned data": the filter on a partition key is evaluated against
each file's path before the file is read). Region values are URI-encoded in the directory name
(pyarrow's `segment_encoding="uri"`), so any region id is a valid path. A table with no rows is written
whole (`events.parquet`). `validate.output_format: csv` writes the same layout with `part-0.csv` files
(and `stores.csv`), read back with every column as text.

`_partitions.json` is the work list: one entry per region that has shipments; `series` counts its
(store_id, product_id) series, `rows` its shipment rows, `bytes` the size of its files in every table.
Workers assign regions from it (`demand_forecast.distributed.assign`). The input contract (a folder of
CSV files) is unchanged: this layout is internal to the conditioned folder.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from demand_forecast.contracts import DATA_QUALITY_FILE
from demand_forecast.errors import DataContractError, UsageError
from demand_forecast.outputs import write_atomic, write_csv_atomic, write_text_atomic
from demand_forecast.reading import header_name, read_csv_text

TABLE_NAMES = ("shipments", "stores", "promotions", "weather", "events")
REQUIRED_TABLES = ("shipments", "stores")
REQUIRED_COLUMNS = {
    "shipments": ["week_start", "store_id", "product_id", "units"],
    "stores": ["store_id", "region", "store_format"],
    "promotions": ["week_start", "store_id", "product_id"],
    "weather": ["week_start", "region"],
    "events": ["week_start", "region", "event"],
}


@dataclass(frozen=True)
class Tables:
    """The contract's tables after validation: typed, keys unique, week_start as Timestamp."""

    shipments: pd.DataFrame
    stores: pd.DataFrame
    promotions: pd.DataFrame | None = None
    weather: pd.DataFrame | None = None
    events: pd.DataFrame | None = None
    numeric_columns: dict[str, list[str]] = field(default_factory=dict)

    def items(self) -> list[tuple[str, pd.DataFrame]]:
        pairs = [(name, getattr(self, name)) for name in TABLE_NAMES]
        return [(name, frame) for name, frame in pairs if frame is not None]


# The forms one table may take: parquet, or CSV plain or compressed (the extensions pandas infers).
CSV_SUFFIXES = (".csv", ".csv.gz", ".csv.bz2", ".csv.xz", ".csv.zip")
TABLE_SUFFIXES = (".parquet", *CSV_SUFFIXES)


def table_files(folder: Path, name: str) -> list[Path]:
    """Every file in `folder` that holds table `name` (`shipments.parquet`, `Shipments.CSV`,
    `shipments.csv.gz`, ...): the name and extension are matched ignoring case."""
    wanted = {f"{name}{suffix}" for suffix in TABLE_SUFFIXES}
    return sorted(path for path in folder.iterdir() if path.is_file() and path.name.lower() in wanted)


def table_path(folder: Path, name: str) -> Path | None:
    """The one file of table `name` in `folder`, None when there is none.

    Raises DataContractError when there are two (`shipments.parquet` beside `shipments.csv`): which
    one is current cannot be told from the folder, and reading either silently could forecast from
    last month's data."""
    found = table_files(folder, name)
    if len(found) > 1:
        raise DataContractError(
            found[0].name,
            "two files for one table",
            detail=f"{folder} holds {' and '.join(p.name for p in found)}; each table is read from one file",
            fix=f"keep the current one and remove the other(s) (one input format per table: {name}.csv, a "
            f"compressed {name}.csv.gz, or {name}.parquet)",
        )
    return found[0] if found else None


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A typed table as text like a CSV: dates as YYYY-MM-DD, missing values as '', every other
    value as written (a product code `None` or `NA` stays a code); headers matched like CSV headers."""
    text = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")
        missing = values.isna()
        text[header_name(str(column))] = values.astype(str).where(~missing, "")
    text.attrs["csv_format"] = {"encoding": "parquet"}
    return text


def _read_parquet_text(path: Path) -> pd.DataFrame:
    """A parquet table as text like a CSV (`as_text`)."""
    return as_text(pd.read_parquet(path))


def read_raw_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Read every contract table present in `folder` as text, so no value is lost before validation.

    CSV files (plain or compressed) go through `demand_forecast.reading.read_csv_text` (empty file,
    encoding, separator, header forms, repeated headers, trailing fields); how each was read is kept
    in `frame.attrs["csv_format"]` for data_quality.json. One file per table (`table_path`). A
    conditioned folder written by validate (partitioned by region) is read whole through
    `read_partitioned`; one of the layout before issue 20 is a UsageError
    that says to re-run validate."""
    if not folder.is_dir():
        raise UsageError(
            f"data folder {folder} does not exist; pass --data with a folder of the contract's CSVs"
        )
    if is_partitioned(folder):
        return read_partitioned(folder)
    frames: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES:
        path = table_path(folder, name)
        if path is None:
            if name in REQUIRED_TABLES:
                raise DataContractError(
                    f"{name}.csv",
                    "missing file",
                    detail=f"not found in {folder}",
                    fix=f"add {name}.csv (or {name}.csv.gz, or {name}.parquet) to the data folder",
                )
            continue
        frames[name] = read_table_text(path, name)
    return frames


def read_table_text(path: Path, name: str) -> pd.DataFrame:
    """One file of table `name` (parquet, or CSV through `read_csv_text`) as text.

    Raises DataContractError naming the file when it cannot be read."""
    try:
        if path.suffix.lower() == ".parquet":
            frame = _read_parquet_text(path)
        else:
            frame, csv_format = read_csv_text(path, REQUIRED_COLUMNS[name])
            frame.attrs["csv_format"] = csv_format.to_dict()
    except (OSError, ValueError) as exc:
        raise DataContractError(path.name, "unreadable file", detail=str(exc)) from exc
    frame.attrs["file_name"] = f"{name}.csv"
    return frame


def write_table_file(frame: pd.DataFrame, folder: Path, name: str, output_format: str) -> Path:
    """Table `name` whole, as `NAME.parquet` or `NAME.csv` (dates as YYYY-MM-DD), atomically."""
    folder.mkdir(parents=True, exist_ok=True)
    if output_format == "parquet":
        return write_atomic(folder / f"{name}.parquet", partial(frame.to_parquet, index=False))
    out = frame.copy()
    if "week_start" in out:
        out["week_start"] = out["week_start"].dt.strftime("%Y-%m-%d")
    return write_csv_atomic(out, folder / f"{name}.csv")


# ---- Conditioned layout: the tables partitioned by region -------------------------------------------

PARTITIONS_FILE = "_partitions.json"
PARTITIONS_VERSION = 1
REGION = "region"
# Tables partitioned by region; the first two take their rows' region from stores.csv.
REGION_TABLES = ("shipments", "promotions", "weather", "events")
_REGION_FROM_STORE = ("shipments", "promotions")
ALL_REGIONS = "*"  # an events row for every region (data contract)
_PARTITIONING = ds.partitioning(pa.schema([(REGION, pa.string())]), flavor="hive")
RERUN = "re-run `demand-forecast validate --data RAW_FOLDER --out FOLDER` to write it again"


@dataclass(frozen=True)
class Partition:
    """One region of the conditioned data: its shipment series and rows, its files' bytes (all tables)."""

    series: int
    rows: int
    bytes: int


def is_partitioned(folder: Path) -> bool:
    """True when `folder` is a conditioned folder of this layout (it holds `_partitions.json`).

    Raises UsageError for a conditioned folder this package cannot read: one of the flat layout that
    validate wrote before issue 20 (`shipments.parquet` beside `data_quality.json`), or partitioned
    tables without `_partitions.json` (a writer cut short, a partial copy). A folder of input files
    (the input contract) is neither and returns False."""
    if not folder.is_dir():
        return False  # no folder: read_raw_tables says so
    if (folder / PARTITIONS_FILE).is_file():
        return True
    table_dirs = [name for name in REGION_TABLES if (folder / name).is_dir()]
    if table_dirs:
        raise UsageError(
            f"{folder} holds region-partitioned tables ({', '.join(f'{n}/' for n in table_dirs)}) but no "
            f"{PARTITIONS_FILE}: it was written in part (an interrupted validate, a partial copy); {RERUN}"
        )
    flat = table_path(folder, "shipments")
    if flat is not None and (folder / DATA_QUALITY_FILE).is_file():
        raise UsageError(
            f"{folder} is a conditioned folder of the flat layout validate wrote before issue 20 "
            f"({flat.name} beside {DATA_QUALITY_FILE}, no {PARTITIONS_FILE}); "
            f"the steps read the conditioned data partitioned by region now: {RERUN}, or pass the raw "
            "input folder instead"
        )
    return False


def write_partitioned(tables: Tables, folder: Path, output_format: str) -> dict[str, Partition]:
    """Write `tables` into `folder` in the layout above (`output_format` "parquet" or "csv") and
    `_partitions.json` last; return the partitions. `folder` is a fresh staging folder."""
    folder.mkdir(parents=True, exist_ok=True)
    store_region = tables.stores.set_index("store_id")[REGION]
    for name, frame in tables.items():
        if name not in REGION_TABLES or frame.empty:
            write_table_file(frame, folder, name, output_format)
            continue
        if name in _REGION_FROM_STORE:
            frame = frame.assign(**{REGION: frame["store_id"].map(store_region)})
        _write_dataset(frame, folder / name, output_format)
    partitions = _partitions(tables.shipments, store_region, folder)
    document = {"version": PARTITIONS_VERSION, "partitions": {r: vars(p) for r, p in partitions.items()}}
    write_text_atomic(folder / PARTITIONS_FILE, json.dumps(document, indent=1, sort_keys=True) + "\n")
    return partitions


def _write_dataset(frame: pd.DataFrame, path: Path, output_format: str) -> None:
    if output_format == "csv" and "week_start" in frame:
        frame = frame.assign(week_start=frame["week_start"].dt.strftime("%Y-%m-%d"))
    # Rows grouped by region (a stable sort keeps each region's own order): pyarrow then finishes one
    # partition's file before it opens the next, so more regions than its max_open_files (1,024) never
    # close a file early and split a partition into part-0, part-1, ...
    frame = frame.sort_values(REGION, kind="stable")
    regions = int(frame[REGION].nunique())
    # preserve_order: each file keeps the rows' order, so a re-read is the same table row for row.
    # max_partitions: pyarrow refuses more than 1,024 partitions by default ("Fragment would be written
    # into N partitions"), and a large retailer has more regions than that (issue 20's 100x panel: 1,400).
    ds.write_dataset(
        pa.Table.from_pandas(frame, preserve_index=False),
        path,
        format=output_format,
        partitioning=[REGION],
        partitioning_flavor="hive",
        basename_template=f"part-{{i}}.{output_format}",
        existing_data_behavior="error",
        preserve_order=True,
        max_partitions=max(1024, regions),
    )


def _partitions(shipments: pd.DataFrame, store_region: pd.Series, folder: Path) -> dict[str, Partition]:
    region = shipments["store_id"].map(store_region)
    keys = shipments[["store_id", "product_id"]].assign(region=region.to_numpy())
    series = keys.drop_duplicates().groupby(REGION).size()
    rows = keys.groupby(REGION).size()
    sizes: dict[str, int] = {}
    for name in REGION_TABLES:
        if (folder / name).is_dir():
            for fragment in _dataset(folder / name).get_fragments():
                key = str(ds.get_partition_keys(fragment.partition_expression).get(REGION))
                sizes[key] = sizes.get(key, 0) + Path(fragment.path).stat().st_size
    return {
        str(r): Partition(series=int(series[r]), rows=int(rows[r]), bytes=sizes.get(str(r), 0))
        for r in sorted(series.index, key=str)
    }


def read_partitions(folder: Path) -> dict[str, Partition]:
    """`_partitions.json` of conditioned folder `folder`: region -> Partition, regions in name order.

    Raises UsageError naming the file when it is missing, unreadable, of another version or malformed."""
    path = folder / PARTITIONS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("version") != PARTITIONS_VERSION:
            raise ValueError(f"version {document.get('version')!r}, this package reads {PARTITIONS_VERSION}")
        return {
            str(region): Partition(int(entry["series"]), int(entry["rows"]), int(entry["bytes"]))
            for region, entry in sorted(document["partitions"].items())
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{path} is unreadable ({type(exc).__name__}: {exc}); {RERUN}") from exc


def _dataset(path: Path, regions: Collection[str] = ()) -> ds.Dataset:
    """The partitioned table at `path`, every column as text for CSV parts (ids such as 007 stay ids).

    Its schema is read from a part of `regions` where there is one (else the first part) and given to
    pyarrow, so discovery lists the other regions' folders but opens none of their files.
    Raises DataContractError naming the table's folder when that part is unreadable."""
    wanted = [path / f"{REGION}={quote(region, safe='')}" for region in sorted(regions)]
    first = next((p for folder in wanted for p in sorted(folder.glob("part-*"))), None)
    first = first or next(iter(sorted(path.rglob("part-*"))), None)
    region = pa.field(REGION, pa.string())
    try:
        if first is not None and first.suffix == ".csv":
            with first.open(encoding="utf-8", newline="") as handle:
                header = next(csv.reader(handle), [])
            options = pacsv.ConvertOptions(
                column_types={column: pa.string() for column in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            )
            schema = pa.schema([*(pa.field(c, pa.string()) for c in header if c != REGION), region])
            form: ds.FileFormat | str = ds.CsvFileFormat(convert_options=options)
        else:
            schema = pq.read_schema(first).append(region) if first is not None else None
            form = "parquet"
        return ds.dataset(path, schema=schema, format=form, partitioning=_PARTITIONING)
    except (OSError, pa.ArrowException) as exc:
        raise DataContractError(
            f"{path.name}.csv", "unreadable file", detail=f"{path}: {exc}", fix=RERUN
        ) from exc


def _read_region_table(path: Path, name: str, regions: Collection[str] | None) -> pd.DataFrame:
    """Table `name` from its partitioned folder as text, only `regions`' rows (None: all)."""
    dataset = _dataset(path, regions or ())
    wanted = None
    if regions is not None:
        values = sorted({*regions, *([ALL_REGIONS] if name == "events" else [])})
        wanted = ds.field(REGION).isin(values)
    try:
        table = dataset.to_table(filter=wanted)
    except (OSError, pa.ArrowException) as exc:
        raise DataContractError(f"{name}.csv", "unreadable file", detail=f"{path}: {exc}") from exc
    frame = table.to_pandas()
    if name in _REGION_FROM_STORE:
        frame = frame.drop(columns=[REGION])
    text = as_text(frame)
    text.attrs["file_name"] = f"{name}.csv"
    return text


def read_partitioned(folder: Path, regions: Collection[str] | None = None) -> dict[str, pd.DataFrame]:
    """The tables of partitioned conditioned folder `folder` as text (as `read_raw_tables` returns
    them), only the rows of `regions` (None: all): stores of those regions, the region tables' rows of
    their partitions (events also the "*" partition). Files of other regions are not opened.

    Raises UsageError for a region `_partitions.json` does not list, DataContractError for a missing
    required table or an unreadable file."""
    known = read_partitions(folder)
    unknown = sorted(set(regions or ()) - set(known))
    if unknown:
        raise UsageError(
            f"region(s) {', '.join(unknown)} are not in {folder / PARTITIONS_FILE} (it lists "
            f"{len(known)} regions with shipments); ask for regions of that data"
        )
    frames: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES:
        whole = table_path(folder, name)
        if whole is not None and (folder / name).is_dir():
            raise DataContractError(
                whole.name,
                "two files for one table",
                detail=f"{folder} holds {whole.name} and the partitioned {name}/; a table is read from one",
                fix=f"remove the one an earlier run or a copy left, or {RERUN}",
            )
        if (folder / name).is_dir():
            frames[name] = _read_region_table(folder / name, name, regions)
        elif whole is not None:
            frame = read_table_text(whole, name)
            if regions is not None and REGION in frame and name != "shipments":
                keep = frame[REGION].isin({*regions, ALL_REGIONS})
                frame = frame[keep.to_numpy()].reset_index(drop=True)
            frames[name] = frame
        elif name in REQUIRED_TABLES:
            raise DataContractError(
                f"{name}.csv", "missing file", detail=f"not found in conditioned folder {folder}", fix=RERUN
            )
    return frames


def last_week(folder: Path) -> pd.Timestamp:
    """The last shipment week of partitioned folder `folder`, read one batch of one column at a time
    (a streaming reader: memory is one record batch, not the table)."""
    latest: pd.Timestamp | None = None
    for batch in _batches(folder / "shipments", ["week_start"]):
        value = pc.max(batch.column(0)).as_py()
        if value is not None and (latest is None or pd.Timestamp(value) > latest):
            latest = pd.Timestamp(value)
    if latest is None:
        raise DataContractError("shipments.csv", "no usable rows", detail=f"{folder} has no shipment rows")
    return pd.Timestamp(latest)


def _batches(path: Path, columns: list[str]) -> Iterator[pa.RecordBatch]:
    if not path.is_dir():
        raise DataContractError("shipments.csv", "missing file", detail=f"{path} is not a folder", fix=RERUN)
    yield from _dataset(path).to_batches(columns=columns)


def finite_json(value: Any) -> Any:
    """`value` with every non-finite float (NaN, inf) replaced by None, so JSON output is strict
    JSON (`null`), never the `NaN`/`Infinity` tokens Python's json writes by default."""
    if isinstance(value, dict):
        return {key: finite_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
