"""The data contract: one test per rejection reason, quarantine below the budget, the DQ report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from demand_forecast.cli import main
from demand_forecast.data_contract import validate_tables
from demand_forecast.dataset import read_raw_tables
from demand_forecast.errors import DataContractError
from demand_forecast.settings import load_settings


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


STRICT = load_settings(overrides={"validate": {"max_quarantine_fraction": 0.0}}).validate_
DEFAULT = load_settings().validate_


def _break(folder: Path, file: str, row: int, column: str, value: str) -> None:
    frame = read(folder / file)
    frame.loc[row, column] = value
    frame.to_csv(folder / file, index=False)


def _reject(folder: Path) -> DataContractError:
    with pytest.raises(DataContractError) as caught:
        validate_tables(read_raw_tables(folder), STRICT)
    return caught.value


@pytest.mark.parametrize(
    ("file", "column", "value", "reason"),
    [
        ("shipments.csv", "week_start", "2024-13-45", "unparsable_date"),
        ("shipments.csv", "week_start", "last week", "unparsable_date"),
        ("shipments.csv", "week_start", "2023-01-03", "not_monday"),
        ("shipments.csv", "units", "-4", "negative_units"),
        ("shipments.csv", "units", "many", "unparsable_number"),
        ("shipments.csv", "returns", "-1", "negative_returns"),
        ("shipments.csv", "store_id", "S999", "unknown_store"),
        ("shipments.csv", "product_id", "", "missing_id"),
        ("promotions.csv", "week_start", "2023-01-04", "not_monday"),
    ],
)
def test_bad_row_is_rejected_naming_file_row_column_and_reason(
    raw_copy: Path, file: str, column: str, value: str, reason: str
) -> None:
    _break(raw_copy, file, 6, column, value)
    error = _reject(raw_copy)
    assert (error.file, error.row, error.column, error.reason) == (file, 7, column, reason)
    assert f"{file}, row 7, column '{column}': {reason}" in str(error)
    assert "Fix:" in str(error)


def test_missing_column_is_rejected(raw_copy: Path) -> None:
    read(raw_copy / "shipments.csv").drop(columns="units").to_csv(raw_copy / "shipments.csv", index=False)
    error = _reject(raw_copy)
    assert (error.file, error.column, error.reason) == ("shipments.csv", "units", "missing column")


def test_missing_required_file_is_rejected(raw_copy: Path) -> None:
    (raw_copy / "stores.csv").unlink()
    assert _reject(raw_copy).reason == "missing file"


def test_unknown_store_format_is_rejected_even_once(raw_copy: Path) -> None:
    _break(raw_copy, "stores.csv", 1, "store_format", "medium")
    with pytest.raises(DataContractError) as caught:
        validate_tables(read_raw_tables(raw_copy), DEFAULT)  # stores are never quarantined
    assert (caught.value.file, caught.value.row, caught.value.reason) == (
        "stores.csv",
        2,
        "unknown_store_format",
    )


def test_conflicting_duplicate_key_is_rejected_and_exact_repeat_keeps_one(raw_copy: Path) -> None:
    frame = read(raw_copy / "shipments.csv")
    conflicting = frame.iloc[[3]].assign(units="999")
    frame = pd.concat([frame, conflicting, frame.iloc[[5]]], ignore_index=True)
    frame.to_csv(raw_copy / "shipments.csv", index=False)
    error = _reject(raw_copy)
    assert error.reason == "duplicate_key"
    result = validate_tables(read_raw_tables(raw_copy), DEFAULT)
    quarantined = result.quarantine[result.quarantine["reason"] == "duplicate_key"]
    # Both copies of the conflicting key go (neither can be trusted); the exact repeat loses one copy.
    assert sorted(quarantined["row"]) == sorted([4, len(frame) - 1, len(frame)])


def test_few_bad_rows_are_quarantined_with_reason_and_counted(raw_copy: Path) -> None:
    _break(raw_copy, "shipments.csv", 2, "units", "-1")
    _break(raw_copy, "shipments.csv", 9, "week_start", "2023-02-01")
    rows_in = len(read(raw_copy / "shipments.csv"))
    result = validate_tables(read_raw_tables(raw_copy), DEFAULT)
    q = result.quarantine.sort_values("row")
    assert list(q["reason"]) == ["negative_units", "not_monday"]
    assert list(q["row"]) == [3, 10]
    assert json.loads(q.iloc[0]["original"])["units"] == "-1"
    files = result.report["files"]["shipments.csv"]
    assert {k: files[k] for k in ("rows_in", "rows_out", "quarantined")} == {
        "rows_in": rows_in,
        "rows_out": rows_in - 2,
        "quarantined": 2,
    }
    assert files["read_as"] == {"encoding": "utf-8", "separator": "comma"}
    assert result.report["quarantined_by_reason"] == {"negative_units": 1, "not_monday": 1}
    assert len(result.tables.shipments) == rows_in - 2


def test_report_counts_gaps_series_and_weeks(tiny_data: Path) -> None:
    result = validate_tables(read_raw_tables(tiny_data), DEFAULT)
    shipments = read(tiny_data / "shipments.csv")
    report = result.report
    assert report["series"] == shipments.groupby(["store_id", "product_id"]).ngroups
    assert report["first_week"] == shipments["week_start"].min()
    assert report["last_week"] == shipments["week_start"].max()
    assert report["weeks"] == shipments["week_start"].nunique()
    assert report["gaps"] > 0  # the generator drops weeks; they are counted, not filled with zeros
    assert report["feature_columns"]["promotions"] == ["price", "on_deal", "featured"]


def test_cli_validate_writes_conditioned_data_and_exits_2_on_unusable_data(
    raw_copy: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cond"
    assert main(["validate", "--data", str(raw_copy), "--out", str(out)]) == 0
    assert {"shipments", "_partitions.json", "stores.parquet", "quarantine.csv", "data_quality.json"} <= {
        p.name for p in out.iterdir()
    }
    # A conditioned folder is itself valid input.
    assert main(["validate", "--data", str(out), "--out", str(tmp_path / "again")]) == 0
    frame = read(raw_copy / "shipments.csv")
    frame.loc[: len(frame) // 2, "units"] = "-1"
    frame.to_csv(raw_copy / "shipments.csv", index=False)
    assert main(["validate", "--data", str(raw_copy), "--out", str(tmp_path / "bad")]) == 2
