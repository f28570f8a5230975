"""Reading and writing the input contract's tables (CSV or parquet): the I/O edge of the package."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from demand_forecast.errors import DataContractError, UsageError
from demand_forecast.reading import read_csv_text

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


def table_path(folder: Path, name: str) -> Path | None:
    for suffix in (".parquet", ".csv"):
        candidate = folder / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def read_raw_tables(folder: Path) -> dict[str, pd.DataFrame]:
    """Read every contract table present in `folder` as text, so no value is lost before validation.

    CSV files go through `demand_forecast.reading.read_csv_text` (empty file, encoding and separator
    detection); how each was read is kept in `frame.attrs["csv_format"]` for data_quality.json."""
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
                    fix=f"add {name}.csv (or {name}.parquet) to the data folder",
                )
            continue
        try:
            if path.suffix == ".parquet":
                frame = pd.read_parquet(path)
                for column in frame.columns:
                    if pd.api.types.is_datetime64_any_dtype(frame[column]):
                        frame[column] = frame[column].dt.strftime("%Y-%m-%d")
                frame = frame.astype(str).replace({"nan": "", "None": "", "<NA>": ""})
                frame.columns = [str(column).strip() for column in frame.columns]
                frame.attrs["csv_format"] = {"encoding": "parquet"}
            else:
                text_frame, csv_format = read_csv_text(path, REQUIRED_COLUMNS[name])
                frame = text_frame
                frame.attrs["csv_format"] = csv_format.to_dict()
        except (OSError, ValueError) as exc:
            raise DataContractError(path.name, "unreadable file", detail=str(exc)) from exc
        frames[name] = frame
    return frames


def write_tables(tables: Tables, folder: Path, output_format: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        for stale in (folder / f"{name}.csv", folder / f"{name}.parquet"):
            stale.unlink(missing_ok=True)
        if output_format == "parquet":
            frame.to_parquet(folder / f"{name}.parquet", index=False)
        else:
            out = frame.copy()
            if "week_start" in out:
                out["week_start"] = out["week_start"].dt.strftime("%Y-%m-%d")
            out.to_csv(folder / f"{name}.csv", index=False)


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
