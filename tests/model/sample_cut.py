"""data/sample cut small, for the data-contract tests (one copy for test_data_contract and round three)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
REGIONS = ("R000", "R001")


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def write(frame: pd.DataFrame, path: Path) -> None:
    frame.to_csv(path, index=False)


def restrict(target: Path, regions: tuple[str, ...] = REGIONS, stores: int | None = None) -> Path:
    """data/sample cut down to `regions` (and the first `stores` of them), written to `target`."""
    target.mkdir(parents=True, exist_ok=True)
    store_table = read(SAMPLE / "stores.csv")
    store_table = store_table[store_table["region"].isin(regions)]
    if stores is not None:
        store_table = store_table.head(stores)
    keep = set(store_table["store_id"])
    write(store_table, target / "stores.csv")
    for name in ("shipments", "promotions"):
        frame = read(SAMPLE / f"{name}.csv")
        write(frame[frame["store_id"].isin(keep)], target / f"{name}.csv")
    weather = read(SAMPLE / "weather.csv")
    write(weather[weather["region"].isin(regions)], target / "weather.csv")
    write(read(SAMPLE / "events.csv"), target / "events.csv")
    return target
