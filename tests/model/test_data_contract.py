"""Issue 13: the nine kinds of real-world data that broke the data contract, one test (or more) each.

Every case starts from data/sample restricted inside the test to region R000 and R001 (six stores)
or to fewer stores where only validation runs, then breaks it the way an ERP export, a spreadsheet
round-trip or a partial load does, and asserts the right outcome through the real CLI.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from demand_forecast.cli import main
from demand_forecast.data_contract import validate_tables
from demand_forecast.dataset import finite_json, read_raw_tables
from demand_forecast.errors import DataContractError
from demand_forecast.reading import NumberFormat, NumberFormatError, infer_number_format, parse_numbers
from demand_forecast.settings import load_settings
from sample_cut import SAMPLE, read, restrict, write

DEFAULT = load_settings().validate_
NEVER_SOLD = ("S00000", "P999")


def add_never_sold(folder: Path) -> None:
    """A product of store S00000 shipped every week at 0 units (104 weeks of zeros)."""
    shipments = read(folder / "shipments.csv")
    weeks = sorted(shipments["week_start"].unique())
    zeros = pd.DataFrame(
        {
            "week_start": weeks,
            "store_id": NEVER_SOLD[0],
            "product_id": NEVER_SOLD[1],
            "units": "0",
            "returns": "0",
        }
    )
    write(pd.concat([shipments, zeros], ignore_index=True), folder / "shipments.csv")


def validate(folder: Path) -> dict[str, object]:
    return validate_tables(read_raw_tables(folder), DEFAULT).report


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """Two stores of R000: enough for every validation rule, fast."""
    return restrict(tmp_path / "small", ("R000",), stores=2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Raw data (R000, R001 and one never-sold series) and a model trained on it with promotions,
    weather, store numerics, events and returns."""
    base = tmp_path_factory.mktemp("contract")
    raw = restrict(base / "raw")
    add_never_sold(raw)
    assert (
        main(["train", "--data", str(raw), "--out", str(base / "model"), "--epochs", "2", "--no-tracking"])
        == 0
    )
    return raw, base / "model"


def copy_of(raw: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for path in raw.glob("*.csv"):
        (target / path.name).write_bytes(path.read_bytes())
    return target


def score(model: Path, data: Path, out: Path, *extra: str) -> int:
    return main(["score", "--model", str(model), "--data", str(data), "--out", str(out), *extra])


def strict_json(path: Path) -> object:
    """Parse as strict JSON: NaN and Infinity tokens are errors."""

    def refuse(token: str) -> None:
        raise AssertionError(f"{path.name} holds {token}")

    return json.loads(path.read_text(), parse_constant=refuse)


# ---- 1. non-finite numbers --------------------------------------------------------------------


NON_FINITE = ["inf", "Infinity", "-inf", "1e400", "NaN", "nan"]


@pytest.mark.parametrize(
    ("file", "column"),
    [
        ("shipments.csv", "units"),
        ("shipments.csv", "returns"),
        ("promotions.csv", "price"),
        ("weather.csv", "temperature_c"),
    ],
)
def test_non_finite_number_is_unparsable_and_quarantined_in_every_numeric_column(
    small: Path, file: str, column: str
) -> None:
    frame = read(small / file)
    rows = [3 + 10 * k for k in range(len(NON_FINITE))]
    frame.loc[rows, column] = NON_FINITE
    write(frame, small / file)
    budget = load_settings(overrides={"validate": {"max_quarantine_fraction": 0.1}}).validate_
    result = validate_tables(read_raw_tables(small), budget)
    q = result.quarantine
    assert q[["file", "row", "column", "reason", "value"]].to_dict("records") == [
        {"file": file, "row": row + 1, "column": column, "reason": "unparsable_number", "value": value}
        for row, value in zip(rows, NON_FINITE, strict=True)
    ]
    assert result.report["quarantined_by_reason"] == {"unparsable_number": len(NON_FINITE)}
    table = getattr(result.tables, file.removesuffix(".csv"))
    assert np.isfinite(table.select_dtypes("number").to_numpy()).all()


def test_non_finite_store_attribute_is_refused_as_master_data(small: Path) -> None:
    stores = read(small / "stores.csv")
    stores.loc[1, "floor_area_m2"] = "inf"
    write(stores, small / "stores.csv")
    with pytest.raises(DataContractError) as caught:
        validate(small)
    assert (caught.value.file, caught.value.row, caught.value.column, caught.value.reason) == (
        "stores.csv",
        2,
        "floor_area_m2",
        "unparsable_number",
    )


@pytest.mark.slow
def test_inf_units_never_reach_a_forecast_or_json(trained: tuple[Path, Path], tmp_path: Path) -> None:
    raw, model = trained
    data = copy_of(raw, tmp_path / "raw")
    shipments = read(data / "shipments.csv")
    last = shipments["week_start"].max()
    shipments.loc[shipments.index[shipments["week_start"] == last][0], "units"] = "1e400"
    write(shipments, data / "shipments.csv")
    assert score(model, data, tmp_path / "score") == 0
    forecasts = pd.read_csv(tmp_path / "score" / "forecasts.csv")
    assert np.isfinite(forecasts["forecast_units"]).all()
    assert main(["monitor", "--model", str(model), "--data", str(data), "--out", str(tmp_path / "mon")]) == 0
    for name in ("monitoring.json", "data_quality.json"):
        strict_json(tmp_path / "mon" / name)
    quality = strict_json(tmp_path / "score" / "data_quality.json")
    assert isinstance(quality, dict)
    assert quality["quarantined_by_reason"] == {"unparsable_number": 1}


def test_json_writer_turns_non_finite_into_null() -> None:
    assert finite_json({"a": [1.0, float("nan")], "b": float("inf"), "c": "x"}) == {
        "a": [1.0, None],
        "b": None,
        "c": "x",
    }


# ---- 2. digit grouping and decimal marks ----------------------------------------------------


def test_digit_grouped_units_are_read_in_full_not_a_biased_subset(small: Path) -> None:
    shipments = read(small / "shipments.csv")
    fast = shipments["product_id"] == shipments["product_id"].iloc[0]
    level = pd.to_numeric(shipments.loc[fast, "units"]) * 300  # a fast mover: hundreds to thousands
    shipments.loc[fast, "units"] = [f"{int(v):,}" for v in level]
    assert (level >= 1000).sum() > 10
    write(shipments, small / "shipments.csv")  # pandas quotes "1,500": it holds the separator
    assert '"1,' in (small / "shipments.csv").read_text() or '"2,' in (small / "shipments.csv").read_text()
    result = validate_tables(read_raw_tables(small), DEFAULT)
    assert result.quarantine.empty
    got = result.tables.shipments
    first = shipments.loc[fast].iloc[0]
    kept = got[(got["store_id"] == first["store_id"]) & (got["product_id"] == first["product_id"])]
    assert len(kept) == int(fast.sum())
    assert sorted(kept["units"]) == sorted(level.astype(float))


@pytest.mark.parametrize(
    ("values", "decimal", "expected"),
    [
        (["1,500", "12", "2,000,000"], ".", [1500.0, 12.0, 2e6]),
        (["1,500.25", "3.5"], ".", [1500.25, 3.5]),
        (["1.500,25", "3,5"], ",", [1500.25, 3.5]),
        (["1 500", "1'500"], ".", [1500.0, 1500.0]),
        (["7,5", "12"], ",", [7.5, 12.0]),
        (["1e3", "-2"], ".", [1000.0, -2.0]),
    ],
)
def test_one_number_parser_reads_grouping_and_decimal_marks(
    values: list[str], decimal: str, expected: list[float]
) -> None:
    fmt = infer_number_format(pd.Series(values))
    assert fmt == NumberFormat(decimal)
    if decimal == ",":
        assert infer_number_format(pd.Series(values), separator=";") == fmt
    assert parse_numbers(pd.Series(values), fmt).tolist() == expected


@pytest.mark.parametrize("value", ["1,50,0", "12.5.3", "1,5000,000", "five", "inf", "1e400", "0x10"])
def test_one_number_parser_refuses_what_no_format_reads(value: str) -> None:
    assert parse_numbers(pd.Series([value])).isna().all()


@pytest.mark.parametrize(
    ("values", "separator", "seen"),
    [
        (["800", "1.500"], ",", "'1.500' (row 2) reads as 1.500 with '.' as the decimal mark or as 1500"),
        (["800", "1,500"], ";", "'1,500' (row 2) reads as 1.500 with ',' as the decimal mark or as 1500"),
        (["7.63", "7,25"], ",", "decimal comma in '7,25' (row 2) and decimal point in '7.63' (row 1)"),
    ],
)
def test_a_number_that_reads_two_ways_is_refused(values: list[str], separator: str, seen: str) -> None:
    with pytest.raises(NumberFormatError, match=re.escape(seen)):
        infer_number_format(pd.Series(values), separator=separator)


def test_a_value_that_shows_the_mark_settles_the_others() -> None:
    assert infer_number_format(pd.Series(["1.500", "2.25"])) == NumberFormat(".")
    assert infer_number_format(pd.Series(["1.500", "2,25"]), separator=";") == NumberFormat(",")
    assert infer_number_format(pd.Series(["1,500", "800"])) == NumberFormat(".")  # ',' file: grouping
    assert parse_numbers(pd.Series(["1.500", "2,25"]), NumberFormat(",")).tolist() == [1500.0, 2.25]


def test_a_column_mixing_decimal_marks_is_refused_naming_it(small: Path) -> None:
    promotions = read(small / "promotions.csv")
    promotions.loc[5, "price"] = "7,25"  # the rest reads "7.63": a decimal point
    write(promotions, small / "promotions.csv")
    with pytest.raises(DataContractError) as caught:
        validate(small)
    error = caught.value
    assert (error.file, error.column, error.reason) == ("promotions.csv", "price", "ambiguous number format")
    assert "'7,25' (row 6)" in str(error)
    assert "Fix:" in str(error)


# ---- 3. covariates the model was trained with, missing at scoring ----------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("breakage", "file", "column", "reason"),
    [
        ("no promotions.csv", "promotions.csv", "price", "missing file"),
        ("header-only promotions.csv", "promotions.csv", "price", "no data rows"),
        ("no weather.csv", "weather.csv", "temperature_c", "missing file"),
        ("stores.csv without population_k", "stores.csv", "population_k", "missing column"),
    ],
)
def test_scoring_without_a_trained_covariate_is_an_error_naming_it(
    trained: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    breakage: str,
    file: str,
    column: str,
    reason: str,
) -> None:
    raw, model = trained
    data = copy_of(raw, tmp_path / "raw")
    if breakage.startswith("no "):
        (data / file).unlink()
    elif breakage.startswith("header-only"):
        write(read(data / file).head(0), data / file)
    else:
        write(read(data / file).drop(columns=column), data / file)
    assert score(model, data, tmp_path / "score") == 2
    captured = capsys.readouterr()
    said = " ".join((captured.out + captured.err).split())
    assert f"{file}, column '{column}': {reason}" in said
    assert "Fix:" in said
    assert not (tmp_path / "score" / "forecasts.csv").exists()


@pytest.mark.slow
def test_scoring_without_events_uses_the_documented_fallback_and_says_so(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, model = trained
    data = copy_of(raw, tmp_path / "raw")
    (data / "events.csv").unlink()
    assert score(model, data, tmp_path / "score") == 0
    captured = capsys.readouterr()
    said = " ".join((captured.out + captured.err).split())
    assert (
        "warning: input assumed by the model's documented fallback: events.csv: no events in any week" in said
    )
    forecasts = read(tmp_path / "score" / "forecasts.csv")
    assert set(forecasts["assumed_inputs"]) == {"events.csv: no events in any week"}
    covariates = json.loads((model / "model.json").read_text())["feature_spec"]["covariates"]
    assert {(c["file"], c["column"]) for c in covariates} >= {
        ("promotions.csv", "price"),
        ("weather.csv", "temperature_c"),
        ("stores.csv", "population_k"),
        ("events.csv", "event"),
    }


# ---- 4. score and monitor account for what they drop -------------------------------------------


@pytest.mark.slow
def test_score_and_monitor_write_quarantine_and_count_series_left_without_forecast(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, model = trained
    data = copy_of(raw, tmp_path / "raw")
    shipments = read(data / "shipments.csv")
    last = shipments["week_start"].max()
    # A store that opened 6 weeks ago and is not in stores.csv yet: few rows, under the quarantine budget.
    recent = shipments["week_start"] > (pd.Timestamp(last) - pd.Timedelta(weeks=6)).strftime("%Y-%m-%d")
    new_store = shipments[(shipments["store_id"] == "S00001") & recent].assign(store_id="S09999")
    new_series = new_store.groupby("product_id").ngroups
    assert new_series >= 5
    twin = shipments[shipments["week_start"] == last].iloc[[0]]
    shipments = pd.concat([shipments, new_store, twin.assign(units="999")], ignore_index=True)
    write(shipments, data / "shipments.csv")
    capsys.readouterr()
    assert score(model, data, tmp_path / "score") == 0
    captured = capsys.readouterr()
    said = " ".join((captured.out + captured.err).split())
    quarantine = pd.read_csv(tmp_path / "score" / "quarantine.csv")
    assert quarantine["reason"].value_counts().to_dict() == {
        "unknown_store": len(new_store),
        "duplicate_key": 2,
    }
    quality = json.loads((tmp_path / "score" / "data_quality.json").read_text())
    assert quality["scoring"]["series_without_forecast"] == new_series
    assert {s["store_id"] for s in quality["scoring"]["without_forecast"]} == {"S09999"}
    assert f"{len(new_store) + 2} input rows quarantined" in said
    assert f"{new_series} active series left without a forecast (store S09999: {new_series})" in said
    out = tmp_path / "monitor"
    assert main(["monitor", "--model", str(model), "--data", str(data), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    said = " ".join((captured.out + captured.err).split())
    assert pd.read_csv(out / "quarantine.csv").shape[0] == len(new_store) + 2
    assert f"{len(new_store) + 2} input rows quarantined" in said
    assert (
        json.loads((out / "data_quality.json").read_text())["scoring"]["series_without_forecast"]
        >= new_series
    )


# ---- 5. covariate rows that match no series ---------------------------------------------------


def test_covariate_rows_matching_no_series_are_counted_and_warned_about(small: Path) -> None:
    # An Excel round-trip: shipments lost the ids' leading zeros, promotions kept them.
    shipments = read(small / "shipments.csv")
    promotions = read(small / "promotions.csv")
    numeric = {p: str(int(p[1:])) for p in shipments["product_id"].unique()}
    shipments["product_id"] = shipments["product_id"].map(numeric)
    promotions["product_id"] = promotions["product_id"].str[1:]  # "P007" -> "007"
    moved = promotions["product_id"].isin(["007", "013"])
    promotions.loc[~moved, "product_id"] = promotions.loc[~moved, "product_id"].map(lambda p: str(int(p)))
    write(shipments, small / "shipments.csv")
    write(promotions, small / "promotions.csv")
    report = validate(small)
    files = report["files"]
    assert isinstance(files, dict)
    assert files["promotions.csv"]["unmatched"] == int(moved.sum())
    assert files["weather.csv"]["unmatched"] == 0
    (warning,) = [w for w in report["warnings"] if w.startswith("promotions.csv")]  # type: ignore[attr-defined]
    assert f"{int(moved.sum())} of {len(promotions)} rows" in warning
    assert "leading zeros" in warning


def test_a_few_unmatched_rows_are_counted_without_a_warning(small: Path) -> None:
    promotions = read(small / "promotions.csv")
    promotions.loc[0, "product_id"] = "P_NOT_SHIPPED"
    write(promotions, small / "promotions.csv")
    report = validate(small)
    assert report["files"]["promotions.csv"]["unmatched"] == 1  # type: ignore[index]
    assert not [w for w in report["warnings"] if w.startswith("promotions.csv")]  # type: ignore[attr-defined]


# ---- 6. a chain-wide promotion plan ------------------------------------------------------------


def test_promotion_rows_for_stores_outside_the_run_are_ignored_and_counted(small: Path) -> None:
    plan = read(SAMPLE / "promotions.csv")
    run = read(small / "promotions.csv")
    others = plan[~plan["store_id"].isin(read(small / "stores.csv")["store_id"])].head(int(len(run) * 0.6))
    write(pd.concat([run, others], ignore_index=True), small / "promotions.csv")
    result = validate_tables(read_raw_tables(small), DEFAULT)
    entry = result.report["files"]["promotions.csv"]
    assert entry["outside_run"] == len(others)
    assert entry["quarantined"] == 0
    assert entry["rows_out"] == len(run)
    assert len(result.tables.promotions) == len(run)  # type: ignore[arg-type]
    assert any("stores not in stores.csv; ignored" in w for w in result.warnings)
    # The same for a calendar or weather feed covering regions this run does not have.
    assert result.report["files"]["weather.csv"]["outside_run"] == 0
    assert result.report["files"]["events.csv"]["outside_run"] > 0


def test_shipments_for_an_unknown_store_stay_quarantined(small: Path) -> None:
    shipments = read(small / "shipments.csv")
    shipments.loc[0, "store_id"] = "S09999"
    write(shipments, small / "shipments.csv")
    result = validate_tables(read_raw_tables(small), DEFAULT)
    assert result.report["quarantined_by_reason"] == {"unknown_store": 1}


# ---- 7. extra numeric columns in shipments.csv ---------------------------------------------------


def test_extra_numeric_shipment_columns_are_listed_as_ignored_with_the_reason(small: Path) -> None:
    shipments = read(small / "shipments.csv")
    shipments["list_price"] = "4.99"
    shipments["on_shelf"] = "1"
    write(shipments, small / "shipments.csv")
    report = validate(small)
    assert report["feature_columns"]["shipments"] == []  # type: ignore[index]
    ignored = report["ignored_columns"]["shipments"]  # type: ignore[index]
    assert set(ignored) == {"list_price", "on_shelf"}
    assert "not known before the forecast week" in ignored["list_price"]
    assert "promotions.csv" in ignored["on_shelf"]


# ---- 8. a series that has never sold -------------------------------------------------------------


@pytest.mark.slow
def test_a_never_sold_series_is_forecast_at_about_zero(trained: tuple[Path, Path], tmp_path: Path) -> None:
    raw, model = trained
    data = copy_of(raw, tmp_path / "raw")
    add_never_sold_elsewhere = read(data / "shipments.csv")
    weeks = sorted(add_never_sold_elsewhere["week_start"].unique())
    unseen = pd.DataFrame(
        {"week_start": weeks, "store_id": "S00100", "product_id": "P998", "units": "0", "returns": "0"}
    )
    write(pd.concat([add_never_sold_elsewhere, unseen], ignore_index=True), data / "shipments.csv")
    assert score(model, data, tmp_path / "score", "--horizon", "2") == 0
    forecasts = read(tmp_path / "score" / "forecasts.csv").set_index(["store_id", "product_id"])
    for key in (NEVER_SOLD, ("S00100", "P998")):  # seen in training, and new
        assert pd.to_numeric(forecasts.loc[key, "forecast_units"]).max() < 0.01
    sold = pd.to_numeric(forecasts.drop(index=[NEVER_SOLD, ("S00100", "P998")])["forecast_units"])
    assert sold.median() > 1  # the rule touches only series without a sale


# ---- 9. separators, encodings, empty files ----------------------------------------------------


def _conditioned(folder: Path) -> dict[str, pd.DataFrame]:
    tables = validate_tables(read_raw_tables(folder), DEFAULT).tables
    return dict(tables.items())


def test_semicolon_files_with_decimal_commas_are_read_correctly(small: Path, tmp_path: Path) -> None:
    expected = _conditioned(small)
    european = tmp_path / "eu"
    european.mkdir()
    for path in small.glob("*.csv"):
        frame = read(path)
        for column in frame.columns:
            if frame[column].str.fullmatch(r"-?\d+\.\d+").any():
                frame[column] = frame[column].str.replace(".", ",", regex=False)
        frame.to_csv(european / path.name, sep=";", index=False)
    got = _conditioned(european)
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(got[name], frame)
    files = validate(european)["files"]
    assert files["promotions.csv"]["read_as"] == {"encoding": "utf-8", "separator": "semicolon"}  # type: ignore[index]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-8-sig"])
def test_utf16_and_bom_files_are_read_correctly(small: Path, tmp_path: Path, encoding: str) -> None:
    expected = _conditioned(small)
    other = copy_of(small, tmp_path / "enc")
    text = (small / "stores.csv").read_text(encoding="utf-8")
    (other / "stores.csv").write_bytes(text.encode(encoding))
    pd.testing.assert_frame_equal(_conditioned(other)["stores"], expected["stores"])


def test_latin1_file_is_refused_saying_so_with_the_fix(small: Path) -> None:
    stores = read(small / "stores.csv")
    stores.loc[1, "region"] = "Zürich"
    (small / "stores.csv").write_bytes(stores.to_csv(index=False).encode("latin-1"))
    with pytest.raises(DataContractError) as caught:
        read_raw_tables(small)
    message = str(caught.value)
    assert message.startswith("stores.csv: not UTF-8 (byte 0xFC on line 3")
    assert "Fix: re-save the file as UTF-8" in message


@pytest.mark.parametrize("name", ["shipments.csv", "stores.csv"])
def test_an_empty_required_file_is_its_own_error(small: Path, name: str) -> None:
    (small / name).write_bytes(b"")
    with pytest.raises(DataContractError) as caught:
        read_raw_tables(small)
    assert (caught.value.file, caught.value.reason) == (name, "empty file")
    assert "Fix:" in str(caught.value)


@pytest.mark.parametrize("name", ["shipments.csv", "stores.csv"])
def test_a_header_only_required_file_is_its_own_error(small: Path, name: str) -> None:
    write(read(small / name).head(0), small / name)
    with pytest.raises(DataContractError) as caught:
        validate(small)
    assert (caught.value.file, caught.value.reason) == (name, "no data rows")


def test_cli_reports_the_empty_file_with_exit_2(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (small / "stores.csv").write_bytes(b"")
    assert main(["validate", "--data", str(small), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert "stores.csv: empty file" in " ".join((captured.out + captured.err).split())


# ---- quarantine.csv: integer rows -----------------------------------------------------------------


def test_quarantine_rows_are_written_as_integers(small: Path, tmp_path: Path) -> None:
    shipments = read(small / "shipments.csv")
    shipments.loc[200, "units"] = "-3"
    write(shipments, small / "shipments.csv")
    assert main(["validate", "--data", str(small), "--out", str(tmp_path / "out")]) == 0
    lines = (tmp_path / "out" / "quarantine.csv").read_text().splitlines()
    assert lines[0].startswith("file,row,")
    assert re.match(r"^shipments\.csv,201,units,negative_units,", lines[1])
