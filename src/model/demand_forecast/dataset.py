"""Reading and writing the input contract's tables (CSV or parquet): the I/O edge of the package."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from demand_forecast.errors import DataContractError, UsageError
from demand_forecast.outputs import write_atomic, write_csv_atomic
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


def _read_parquet_text(path: Path) -> pd.DataFrame:
    """A parquet table as text like a CSV: dates as YYYY-MM-DD, missing values as '', every other
    value as written (a product code `None` or `NA` stays a code); headers matched like CSV headers."""
    frame = pd.read_parquet(path)
    text = pd.DataFrame(index=frame.index)
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            values = values.dt.strftime("%Y-%m-%d")
        missing = values.isna()
        text[header_name(str(column))] = values.astype(str).where(~missing, "")
    text.attrs["csv_format"] = {"encoding": "parquet"}
    return text


def read_raw_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Read every contract table present in `folder` as text, so no value is lost before validation.

    CSV files (plain or compressed) go through `demand_forecast.reading.read_csv_text` (empty file,
    encoding, separator, header forms, repeated headers, trailing fields); how each was read is kept
    in `frame.attrs["csv_format"]` for data_quality.json. One file per table (`table_path`)."""
    if not folder.is_dir():
        raise UsageError(
            f"data folder {folder} does not exist; pass --data with a folder of the contract's CSVs"
        )
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
        try:
            if path.suffix.lower() == ".parquet":
                frame = _read_parquet_text(path)
            else:
                frame, csv_format = read_csv_text(path, REQUIRED_COLUMNS[name])
                frame.attrs["csv_format"] = csv_format.to_dict()
        except (OSError, ValueError) as exc:
            raise DataContractError(path.name, "unreadable file", detail=str(exc)) from exc
        frame.attrs["file_name"] = f"{name}.csv"
        frames[name] = frame
    return frames


def write_tables(tables: Tables, folder: Path, output_format: str) -> None:
    """Each table as `NAME.parquet` or `NAME.csv`, atomically. `folder` is the step's fresh staging
    folder (`demand_forecast.outputs.fresh_output`): no table of an earlier run can survive in it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        if output_format == "parquet":
            write_atomic(folder / f"{name}.parquet", partial(frame.to_parquet, index=False))
        else:
            out = frame.copy()
            if "week_start" in out:
                out["week_start"] = out["week_start"].dt.strftime("%Y-%m-%d")
            write_csv_atomic(out, folder / f"{name}.csv")


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
