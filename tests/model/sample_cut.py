"""data/sample cut small, for the data-contract tests (one copy for test_data_contract and round three)."""

from __future__ import annotations

import functools
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
    for name, text in _cut(regions, stores).items():
        (target / name).write_text(text, encoding="utf-8")
    return target


@functools.cache
def _cut(regions: tuple[str, ...], stores: int | None) -> dict[str, str]:
    """The files of a cut as CSV text, made once per process: about a hundred tests cut the same
    sample the same way, and reading its 85k shipment rows each time was most of their cost."""
    store_table = read(SAMPLE / "stores.csv")
    store_table = store_table[store_table["region"].isin(regions)]
    if stores is not None:
        store_table = store_table.head(stores)
    keep = set(store_table["store_id"])
    files = {"stores.csv": store_table}
    for name in ("shipments", "promotions"):
        frame = read(SAMPLE / f"{name}.csv")
        files[f"{name}.csv"] = frame[frame["store_id"].isin(keep)]
    weather = read(SAMPLE / "weather.csv")
    files["weather.csv"] = weather[weather["region"].isin(regions)]
    files["events.csv"] = read(SAMPLE / "events.csv")
    return {name: frame.to_csv(index=False) for name, frame in files.items()}
