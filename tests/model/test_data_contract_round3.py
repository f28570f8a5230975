"""Issue 25: the data contract, round three. One section per kind of bad input (and the three
unlisted instances of last round's kinds); each case starts from data/sample cut small and breaks it
the way an export, a spreadsheet, a shell or a disk does, and asserts the right outcome.

Every kind has the issue's case plus at least three instances of our own (parametrised)."""

from __future__ import annotations

import bz2
import gzip
import json
import os
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from demand_forecast.cli import main
from demand_forecast.data_contract import ValidationResult, validate_tables
from demand_forecast.dataset import read_raw_tables
from demand_forecast.errors import DataContractError, ExitStatus
from demand_forecast.features import make_spec
from demand_forecast.reading import read_text_csv
from demand_forecast.reporting.migration import ensure_sqlite_schema
from demand_forecast.settings import load_settings
from sample_cut import read, restrict, write

DEFAULT = load_settings().validate_


def copy_of(raw: Path, target: Path) -> Path:
    target.mkdir(parents=True)
    for path in raw.glob("*.csv"):
        (target / path.name).write_bytes(path.read_bytes())
    return target


def validate(folder: Path) -> ValidationResult:
    return validate_tables(read_raw_tables(folder), DEFAULT)


def said(capsys: pytest.CaptureFixture[str]) -> str:
    captured = capsys.readouterr()
    return " ".join((captured.out + captured.err).split())


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """Two stores of R000 (one of them S00001): enough for every validation rule, fast."""
    return restrict(tmp_path / "small", ("R000",), stores=2)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """The conditioned tables of an unbroken `small` folder (the same cut), to compare a broken copy
    with: made once for the module, since it depends on the cut only (read, never changed)."""
    return dict(validate(restrict(tmp_path_factory.mktemp("reference"), ("R000",), stores=2)).tables.items())


def assert_same_tables(got: ValidationResult, expected: dict[str, pd.DataFrame]) -> None:
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(
            getattr(got.tables, name).reset_index(drop=True), frame.reset_index(drop=True)
        )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Raw data of R000 and R001 and a model trained on it (2 epochs, no tracking)."""
    base = tmp_path_factory.mktemp("round3")
    raw = restrict(base / "raw")
    out = base / "model"
    assert main(["train", "--data", str(raw), "--out", str(out), "--epochs", "2", "--no-tracking"]) == 0
    return raw, out


def score(model: Path, data: Path, out: Path, *extra: str) -> int:
    return main(["score", "--model", str(model), "--data", str(data), "--out", str(out), *extra])


# ---- 1. headers and ids that differ only in form -------------------------------------------------


@pytest.mark.parametrize(
    ("file", "column", "written"),
    [
        ("shipments.csv", "week_start", "Week_Start"),  # the case
        ("shipments.csv", "week_start", " week_start "),  # the case
        ("stores.csv", "store_id", "Store_ID"),
        ("shipments.csv", "units", "UNITS"),
        ("weather.csv", "temperature_c", "Temperature C"),
        ("promotions.csv", "product_id", "product_id "),
    ],
)
def test_headers_are_matched_ignoring_case_and_spaces_and_said_once(
    small: Path, reference: dict[str, pd.DataFrame], file: str, column: str, written: str
) -> None:
    frame = read(small / file).rename(columns={column: written})
    write(frame, small / file)
    result = validate(small)
    assert_same_tables(result, reference)
    notes = [w for w in result.warnings if w.startswith(file) and "ignoring case" in w]
    assert len(notes) == 1
    assert written.strip() in notes[0]
    assert f"' as '{column}'" in notes[0]
    read_as = result.report["files"][file]["read_as"]
    assert list(read_as["renamed_columns"].values()) == [column]


@pytest.mark.parametrize(
    ("written", "known", "cause"),
    [
        ("s00101", "S00101", "letter case"),  # the case
        ("S101", "S00101", "leading zeros"),  # zero padding lost
        ("S 00101", "S00101", "spaces inside"),
        ("s0101", "S00101", "leading zeros, letter case"),
    ],
)
def test_a_store_id_near_miss_is_named_as_the_likely_cause(
    tmp_path: Path, written: str, known: str, cause: str
) -> None:
    folder = restrict(tmp_path / "r001", ("R001",))
    shipments = read(folder / "shipments.csv")
    shipments.loc[shipments["store_id"] == known, "store_id"] = written
    write(shipments, folder / "shipments.csv")
    with pytest.raises(DataContractError) as caught:
        validate(folder)
    message = str(caught.value)
    assert caught.value.reason == "unknown_store"
    assert "likely cause: 1 store_id value(s) differ from stores.csv's only in letter case" in message
    assert f"'{written}' vs '{known}' ({cause})" in message
    assert "ids are compared exactly" in message


def test_a_few_near_miss_rows_are_quarantined_with_a_warning_naming_the_cause(small: Path) -> None:
    shipments = read(small / "shipments.csv")
    shipments.loc[[0, 1], "store_id"] = shipments.loc[[0, 1], "store_id"].str.lower()
    write(shipments, small / "shipments.csv")
    result = validate(small)
    assert result.report["quarantined_by_reason"] == {"unknown_store": 2}
    assert any("'s00000' vs 'S00000'" in w for w in result.warnings)


def test_a_region_near_miss_in_weather_is_named(small: Path) -> None:
    weather = read(small / "weather.csv")
    weather["region"] = weather["region"].str.lower()
    write(weather, small / "weather.csv")
    result = validate(small)
    assert any(w.startswith("weather.csv") and "'r000' vs 'R000'" in w for w in result.warnings)


# Ids are compared exactly: spaces around an id are part of it and never trimmed. Each case adds
# whitespace to one id in one row (space, tab, no-break space; before, after, both).
@pytest.mark.parametrize(
    ("file", "column", "written"),
    [
        ("shipments.csv", "store_id", " S00000"),  # a leading space
        ("shipments.csv", "product_id", "P000 "),  # a trailing space
        ("weather.csv", "region", " R000 "),  # both
        ("promotions.csv", "store_id", "\tS00000"),  # a tab (a tab-separated export pasted in)
        ("promotions.csv", "product_id", "P000\u00a0"),  # a no-break space (copied from a web page)
        ("weather.csv", "region", "\u2003R000"),  # an em space
    ],
)
def test_an_id_with_spaces_around_it_is_quarantined_naming_the_id_it_nearly_is(
    small: Path, file: str, column: str, written: str
) -> None:
    frame = read(small / file)
    row = int(frame.index[frame[column] == written.strip()][0])
    frame.loc[row, column] = written
    write(frame, small / file)
    result = validate(small)
    assert result.report["quarantined_by_reason"] == {"untrimmed_id": 1}
    assert result.quarantine[["file", "row", "column", "value"]].to_dict(orient="records") == [
        {"file": file, "row": row + 1, "column": column, "value": written}
    ]
    hints = [w for w in result.warnings if w.startswith(file) and "likely cause" in w]
    assert len(hints) == 1
    assert f"{written!r} vs {written.strip()!r} (spaces around it)" in hints[0]
    assert written not in set(getattr(result.tables, file.removesuffix(".csv"))[column])


@pytest.mark.parametrize("written", ["S00001 ", " S00001", "\tS00001\t"])
def test_a_store_written_with_spaces_on_every_row_exits_2_naming_the_near_miss(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], written: str
) -> None:
    shipments = read(small / "shipments.csv")
    shipments.loc[shipments["store_id"] == "S00001", "store_id"] = written
    write(shipments, small / "shipments.csv")
    assert main(["validate", "--data", str(small), "--out", str(tmp_path / "out")]) == ExitStatus.DATA_REFUSED
    message = said(capsys)
    assert "shipments.csv, row" in message
    assert "untrimmed_id" in message
    cause = "likely cause: 1 id value(s) are written with spaces or tabs around them"
    assert f"{cause} ({written!r} vs 'S00001' (spaces around it))" in message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("column", "written"), [("store_id", " S00000"), ("store_id", "S00001 "), ("region", "R000\t")]
)
def test_an_id_with_spaces_around_it_in_stores_exits_2_even_where_another_file_matches_it(
    small: Path, column: str, written: str
) -> None:
    stores = read(small / "stores.csv")
    known = written.strip()
    stores.loc[stores[column] == known, column] = written
    write(stores, small / "stores.csv")
    if column == "store_id":  # the shipments agree with stores.csv: exact comparison would match
        shipments = read(small / "shipments.csv")
        shipments.loc[shipments["store_id"] == known, "store_id"] = written
        write(shipments, small / "shipments.csv")
    with pytest.raises(DataContractError) as caught:
        validate(small)
    assert caught.value.file == "stores.csv"
    assert caught.value.reason == "untrimmed_id"
    assert f"value {written!r}" in str(caught.value)
    assert "remove the spaces" in str(caught.value)


# ---- 2. concatenated exports --------------------------------------------------------------------


def _concatenated(frame: pd.DataFrame, path: Path, second_header: list[str] | None = None) -> int:
    """Write `frame` as two exports joined with `cat`; the second part's header (and columns) in
    `second_header`'s order. Returns the file line of the second header."""
    half = len(frame) // 2
    first, second = frame.iloc[:half], frame.iloc[half:]
    if second_header is not None:
        second = second[[c.strip().lower() for c in second_header]]
        second.columns = pd.Index(second_header)
    path.write_text(first.to_csv(index=False) + second.to_csv(index=False))
    return half + 2


@pytest.mark.parametrize(
    ("file", "second_header"),
    [
        ("shipments.csv", None),  # the same order: dropped and counted
        ("stores.csv", None),
        ("promotions.csv", None),
        ("shipments.csv", ["WEEK_START", "store_id", "product_id", "units", "returns"]),  # another case
    ],
)
def test_a_repeated_header_in_the_same_order_is_dropped_and_counted(
    small: Path, reference: dict[str, pd.DataFrame], file: str, second_header: list[str] | None
) -> None:
    _concatenated(read(small / file), small / file, second_header)
    result = validate(small)
    assert result.quarantine.empty
    assert_same_tables(result, reference)
    assert result.report["files"][file]["read_as"]["repeated_header_lines"] == 1
    assert any(w.startswith(file) and "header line(s) inside the file dropped" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("file", "second_header"),
    [
        ("shipments.csv", ["week_start", "store_id", "product_id", "returns", "units"]),  # the case
        (
            "stores.csv",
            ["store_id", "store_format", "region", "population_k", "median_income_k", "floor_area_m2"],
        ),
        ("promotions.csv", ["week_start", "store_id", "product_id", "on_deal", "price", "featured"]),
        ("weather.csv", ["region", "week_start", "temperature_c", "precipitation_mm"]),
    ],
)
def test_a_repeated_header_in_another_order_is_an_error_naming_the_line_and_both_orders(
    small: Path, file: str, second_header: list[str]
) -> None:
    frame = read(small / file)
    line = _concatenated(frame, small / file, second_header)
    with pytest.raises(DataContractError) as caught:
        validate(small)
    error = caught.value
    assert (error.file, error.reason, error.row) == (file, "header line in another column order", line - 1)
    message = str(error)
    assert f"line {line} is a header ({', '.join(second_header)})" in message
    assert f"line 1's ({', '.join(frame.columns)})" in message


def test_cat_of_two_exports_with_swapped_columns_exits_2_through_the_cli(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _concatenated(
        read(small / "shipments.csv"),
        small / "shipments.csv",
        ["week_start", "store_id", "product_id", "returns", "units"],
    )
    assert main(["validate", "--data", str(small), "--out", str(tmp_path / "out")]) == 2
    assert "shipments.csv, row" in said(capsys)


# ---- 3. trailing delimiters and ragged rows ---------------------------------------------------------


@pytest.mark.parametrize(
    "file", ["stores.csv", "shipments.csv", "weather.csv", "promotions.csv", "events.csv"]
)
@pytest.mark.parametrize("header_too", [False, True])
def test_a_trailing_delimiter_on_every_row_is_accepted_and_counted(
    small: Path, reference: dict[str, pd.DataFrame], file: str, header_too: bool
) -> None:
    lines = (small / file).read_text().splitlines()
    head, rows = lines[0], lines[1:]
    (small / file).write_text(
        "\n".join([head + ("," if header_too else ""), *(r + "," for r in rows)]) + "\n"
    )
    result = validate(small)
    assert_same_tables(result, reference)
    assert result.report["files"][file]["read_as"]["trailing_empty_fields"] == len(rows)


@pytest.mark.parametrize(
    ("file", "extra"),
    [
        ("stores.csv", ",1"),  # one value too many
        ("shipments.csv", ",5"),
        ("weather.csv", ",,"),  # two empty fields: not a trailing delimiter
        ("promotions.csv", ",x,y"),
    ],
)
def test_any_other_extra_field_is_a_clear_error_naming_the_row(small: Path, file: str, extra: str) -> None:
    lines = (small / file).read_text().splitlines()
    lines[1] += extra
    (small / file).write_text("\n".join(lines) + "\n")
    with pytest.raises(DataContractError) as caught:
        validate(small)
    error = caught.value
    assert (error.file, error.reason, error.row) == (file, "extra field", 1)
    assert "line 2 has" in str(error)
    assert "Fix:" in str(error)


def test_a_ragged_stores_file_exits_2_without_a_traceback(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = (small / "stores.csv").read_text().splitlines()
    (small / "stores.csv").write_text("\n".join([lines[0], *(r + ",extra" for r in lines[1:])]) + "\n")
    assert main(["validate", "--data", str(small), "--out", str(tmp_path / "out")]) == 2
    text = said(capsys)
    assert "stores.csv, row 1: extra field" in text
    assert "Traceback" not in text


# ---- 4. ids that pandas reads as missing ----------------------------------------------------------

NA_LIKE = ("NA", "NULL", "N/A", "None", "nan")


@pytest.mark.slow
def test_na_like_ids_survive_train_score_monitor_and_publish(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw = restrict(tmp_path / "raw", ("R000",))
    products = sorted(read(raw / "shipments.csv")["product_id"].unique())[: len(NA_LIKE)]
    rename = dict(zip(products, NA_LIKE, strict=True))
    for name in ("shipments.csv", "promotions.csv"):
        frame = read(raw / name)
        frame["product_id"] = frame["product_id"].replace(rename)
        write(frame, raw / name)
    for name in ("stores.csv", "weather.csv"):  # the region NA (Namibia, North America)
        frame = read(raw / name)
        frame["region"] = frame["region"].replace({"R000": "NA"})
        write(frame, raw / name)
    cond, model = tmp_path / "cond", tmp_path / "model"
    assert main(["validate", "--data", str(raw), "--out", str(cond)]) == 0
    assert main(["train", "--data", str(cond), "--out", str(model), "--epochs", "1", "--no-tracking"]) == 0
    assert set(NA_LIKE) <= set(read_text_csv(model / "series.csv")["product_id"])
    assert score(model, cond, tmp_path / "scored") == 0
    forecasts = read_text_csv(tmp_path / "scored" / "forecasts.csv")
    assert set(NA_LIKE) <= set(forecasts["product_id"])
    assert set(forecasts["region"]) == {"NA"}
    monitoring = tmp_path / "monitoring"
    forecasts_file = str(tmp_path / "scored" / "forecasts.csv")
    args = ["--data", str(cond), "--out", str(monitoring), "--forecasts", forecasts_file]
    assert main(["monitor", "--model", str(model), *args]) == 0
    db = tmp_path / "reporting.db"
    ensure_sqlite_schema(db)
    folders = ["--conditioned", str(tmp_path / "scored"), "--scored", str(tmp_path / "scored")]
    publish = [
        "publish",
        "--pipeline",
        "scoring",
        "--run-id",
        "r1",
        "--reporting-database",
        f"sqlite:///{db}",
    ]
    assert main([*publish, *folders, "--monitoring", str(monitoring), "--out", str(tmp_path / "pub")]) == 0
    with sqlite3.connect(db) as conn:
        regions = {row[0] for row in conn.execute("select region from forecasts")}
        products = {row[0] for row in conn.execute("select product_id from forecasts")}
    assert regions == {"NA"}
    assert set(NA_LIKE) <= products


@pytest.mark.parametrize("value", NA_LIKE)
def test_the_package_reader_keeps_na_like_text_and_parses_only_numeric_columns(
    tmp_path: Path, value: str
) -> None:
    path = tmp_path / "forecasts.csv"
    path.write_text(f"store_id,product_id,region,forecast_units\nS1,{value},{value},1.5\nS1,P2,R1,\n")
    frame = read_text_csv(path, ("forecast_units",))
    assert frame["product_id"].tolist() == [value, "P2"]
    assert frame["region"].tolist() == [value, "R1"]
    assert frame["forecast_units"].iloc[0] == 1.5
    assert np.isnan(frame["forecast_units"].iloc[1])


@pytest.mark.parametrize("value", ["None", "nan", "NA", "<NA>"])
def test_conditioned_parquet_keeps_na_like_ids(small: Path, tmp_path: Path, value: str) -> None:
    shipments = read(small / "shipments.csv")
    product = shipments["product_id"].iloc[0]
    shipments["product_id"] = shipments["product_id"].replace({product: value})
    write(shipments, small / "shipments.csv")
    assert main(["validate", "--data", str(small), "--out", str(tmp_path / "cond")]) == 0
    again = validate(tmp_path / "cond")
    assert value in set(again.tables.shipments["product_id"])
    assert again.quarantine.empty


# ---- 5. a store that was closed ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("closed_weeks", [14, 20, 30])
def test_a_store_closed_for_weeks_gets_its_forecasts_when_it_reopens(
    trained: tuple[Path, Path], tmp_path: Path, closed_weeks: int
) -> None:
    raw, model = trained
    data = copy_of(raw, tmp_path / "raw")
    shipments = read(data / "shipments.csv")
    last = pd.Timestamp(shipments["week_start"].max())
    cut = (last - pd.Timedelta(weeks=closed_weeks - 1)).strftime("%Y-%m-%d")
    closed = (shipments["store_id"] == "S00101") & (shipments["week_start"] >= cut)
    series = shipments.loc[shipments["store_id"] == "S00101", "product_id"].nunique()
    write(shipments[~closed], data / "shipments.csv")
    assert score(model, data, tmp_path / "score") == 0
    forecasts = read(tmp_path / "score" / "forecasts.csv")
    assert (forecasts["store_id"] == "S00101").sum() == series
    quality = json.loads((tmp_path / "score" / "data_quality.json").read_text())
    assert quality["scoring"]["series_without_forecast"] == 0


@pytest.mark.slow
def test_a_discontinued_product_of_a_store_that_keeps_shipping_is_not_forecast(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    raw, model = trained
    data = copy_of(raw, tmp_path / "raw")
    shipments = read(data / "shipments.csv")
    last = pd.Timestamp(shipments["week_start"].max())
    cut = (last - pd.Timedelta(weeks=20)).strftime("%Y-%m-%d")
    product = shipments.loc[shipments["store_id"] == "S00101", "product_id"].iloc[0]
    gone = (shipments["store_id"] == "S00101") & (shipments["product_id"] == product)
    write(shipments[~(gone & (shipments["week_start"] >= cut))], data / "shipments.csv")
    assert score(model, data, tmp_path / "score") == 0
    forecasts = read(tmp_path / "score" / "forecasts.csv")
    kept = forecasts[forecasts["store_id"] == "S00101"]
    assert product not in set(kept["product_id"])
    assert len(kept) > 0


# ---- 6. price edges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [("price", "0"), ("price", "-1.5"), ("price", "0.00"), ("unit_price", "0"), ("Price", "-0.01")],
)
def test_a_non_positive_price_is_quarantined_and_prices_stay_prices(
    small: Path, column: str, value: str
) -> None:
    promotions = read(small / "promotions.csv").rename(columns={"price": column})
    promotions.loc[7, column] = value
    write(promotions, small / "promotions.csv")
    result = validate(small)
    name = column.lower()
    assert result.quarantine[["file", "row", "column", "reason", "value"]].to_dict("records") == [
        {"file": "promotions.csv", "row": 8, "column": name, "reason": "non_positive_price", "value": value}
    ]
    assert result.tables.promotions is not None
    assert (result.tables.promotions[name].dropna() > 0).all()
    spec = make_spec(result.tables, 20)
    assert name in spec.positive_promo_columns  # a missing price is the last known one, as before


# ---- 7. a covariate that changes unit -----------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize(
    ("file", "column", "convert"),
    [
        ("weather.csv", "temperature_c", lambda c: c * 9 / 5 + 32),  # the case: Fahrenheit
        ("weather.csv", "precipitation_mm", lambda p: p * 25.4),  # inches read as mm... the other way
        ("promotions.csv", "price", lambda p: p * 100),  # cents
        ("weather.csv", "temperature_c", lambda c: c + 273.15),  # Kelvin
    ],
)
def test_a_covariate_in_another_unit_is_warned_about_and_flagged_in_model_health(
    trained: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file: str,
    column: str,
    convert: object,
) -> None:
    raw, model = trained
    data = copy_of(raw, tmp_path / "raw")
    frame = read(data / file)
    last_shipment = pd.Timestamp(read(data / "shipments.csv")["week_start"].max())
    # The feed switched unit 8 weeks ago: those weeks and every forecast week it covers.
    recent = frame["week_start"] >= (last_shipment - pd.Timedelta(weeks=8)).strftime("%Y-%m-%d")
    values = pd.to_numeric(frame.loc[recent, column])
    frame.loc[recent, column] = values.map(convert).round(2).astype(str)  # type: ignore[arg-type]
    write(frame, data / file)
    capsys.readouterr()
    assert score(model, data, tmp_path / "score") == 0
    assert f"{file}: column {column}:" in said(capsys)
    assert "far outside the range the model trained on" in said_again(tmp_path / "score")
    assert main(["monitor", "--model", str(model), "--data", str(data), "--out", str(tmp_path / "mon")]) == 0
    health = json.loads((tmp_path / "mon" / "monitoring.json").read_text())
    assert health["covariate_shift"][f"{file.removesuffix('.csv')}:{column}"] > 0.5
    assert health["drift_alert"] is True


def said_again(out: Path) -> str:
    return " ".join(json.loads((out / "data_quality.json").read_text())["warnings"])


@pytest.mark.slow
def test_unchanged_covariates_raise_no_covariate_warning(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, model = trained
    capsys.readouterr()
    assert score(model, raw, tmp_path / "score") == 0
    assert "far outside the range" not in said(capsys)
    assert main(["monitor", "--model", str(model), "--data", str(raw), "--out", str(tmp_path / "mon")]) == 0
    health = json.loads((tmp_path / "mon" / "monitoring.json").read_text())
    assert max(health["covariate_shift"].values()) <= 0.5


# ---- 8. files next to files ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("present", "name"),
    [
        (("shipments.csv", "shipments.parquet"), "shipments"),  # the case
        (("shipments.csv", "shipments.csv.gz"), "shipments"),
        (("weather.csv", "weather.parquet"), "weather"),
        (("stores.csv", "Stores.CSV"), "stores"),
    ],
)
def test_two_files_for_one_table_exit_2_naming_both(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], present: tuple[str, str], name: str
) -> None:
    frame = read(small / f"{name}.csv")
    (small / f"{name}.csv").unlink()
    for file in present:
        if file.endswith(".parquet"):
            frame.to_parquet(small / file, index=False)
        elif file.endswith(".gz"):
            (small / file).write_bytes(gzip.compress(frame.to_csv(index=False).encode()))
        else:
            write(frame, small / file)
    if os.path.samefile(small / present[0], small / present[1]):
        pytest.skip("this file system does not tell the two names apart")
    assert main(["validate", "--data", str(small), "--out", str(tmp_path / "out")]) == 2
    text = said(capsys)
    assert "two files for one table" in text
    assert all(file in text for file in present)


@pytest.mark.parametrize(
    ("name", "compress"),
    [
        ("shipments.csv.gz", gzip.compress),  # the case
        ("stores.csv.gz", gzip.compress),
        ("promotions.csv.bz2", bz2.compress),
        ("WEATHER.CSV", lambda data: data),
    ],
)
def test_compressed_and_upper_case_csv_files_are_read(
    small: Path, reference: dict[str, pd.DataFrame], name: str, compress: object
) -> None:
    plain = small / f"{name.split('.')[0].lower()}.csv"
    data = plain.read_bytes()
    plain.unlink()
    (small / name).write_bytes(compress(data))  # type: ignore[operator]
    result = validate(small)
    assert_same_tables(result, reference)


# ---- 9. stale outputs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "stale", ["weather.parquet", "promotions.parquet", "events.parquet", "old_notes.txt"]
)
def test_a_reused_output_folder_keeps_nothing_of_the_earlier_run(
    small: Path, tmp_path: Path, stale: str
) -> None:
    out = tmp_path / "cond"
    assert main(["validate", "--data", str(small), "--out", str(out)]) == 0
    (out / stale).write_text("from an earlier run")  # old_notes.txt: something a person left there
    for name in ("weather.csv", "promotions.csv", "events.csv"):
        (small / name).unlink()
    assert main(["validate", "--data", str(small), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == [
        "_SUCCESS",
        "_partitions.json",
        "data_quality.json",
        "quarantine.csv",
        "shipments",
        "step_run.json",
        "stores.parquet",
    ]
    quality = json.loads((out / "data_quality.json").read_text())
    assert set(quality["files"]) == {"shipments.csv", "stores.csv"}


def test_an_output_folder_someone_else_filled_is_refused_not_emptied(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("not yours")
    assert (
        main(["validate", "--data", str(small), "--out", str(out)]) == ExitStatus.SETUP_FAULT
    )  # the output folder, not the data
    assert "already holds files no step wrote (thesis.docx)" in said(capsys)
    assert (out / "thesis.docx").read_text() == "not yours"


def test_an_input_inside_out_is_refused(small: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["validate", "--data", str(small), "--out", str(small.parent)]) == ExitStatus.SETUP_FAULT
    )  # the output folder, not the data
    assert "is inside --out" in said(capsys)
    assert (small / "shipments.csv").is_file()


# ---- 10. unwritable output ------------------------------------------------------------------------------


def _unwritable(tmp_path: Path, how: str) -> Path:
    if how == "read-only folder":
        parent = tmp_path / "ro"
        parent.mkdir()
        parent.chmod(0o555)
        return parent / "out"
    if how == "a file":
        target = tmp_path / "file"
        target.write_text("x")
        return target
    if how == "under a file":
        (tmp_path / "file").write_text("x")
        return tmp_path / "file" / "out"
    return Path("/proc/demand-forecast-out")  # a read-only file system


@pytest.mark.parametrize("how", ["read-only folder", "a file", "under a file", "read-only file system"])
@pytest.mark.parametrize("step", ["validate", "train"])
def test_an_unwritable_out_is_one_clear_error_before_any_work(
    small: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str, step: str
) -> None:
    if how == "read-only folder" and os.geteuid() == 0:
        pytest.skip("root writes into read-only folders")
    out = _unwritable(tmp_path, how)
    args = [step, "--data", str(small), "--out", str(out)]
    assert (
        main([*args, "--no-tracking"] if step == "train" else args) == ExitStatus.SETUP_FAULT
    )  # the output folder, not the data
    text = said(capsys)
    assert f"--out {out} cannot be written" in text
    assert "nothing was run" in text
    assert "Traceback" not in text
    assert text.count("error") == 1


# ---- last round's kinds, unlisted instances -----------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "first", "second"),
    [
        ("units", "2", "2.0"),  # the case
        ("units", "12", "12.00"),
        ("returns", "0", "0.0"),
        ("units", "1500", "1,500"),
        ("units", "3", "3e0"),
    ],
)
def test_copies_that_write_one_number_two_ways_keep_one_copy(
    small: Path, column: str, first: str, second: str
) -> None:
    shipments = read(small / "shipments.csv")
    shipments.loc[10, column] = first
    copy = shipments.loc[[10]].assign(**{column: second})
    write(pd.concat([shipments, copy], ignore_index=True), small / "shipments.csv")
    result = validate(small)
    assert result.report["quarantined_by_reason"] == {"duplicate_key": 1}
    row = shipments.loc[10]
    kept = result.tables.shipments
    kept = kept[(kept["store_id"] == row["store_id"]) & (kept["product_id"] == row["product_id"])]
    assert (
        len(kept)
        == (shipments["store_id"].eq(row["store_id"]) & shipments["product_id"].eq(row["product_id"])).sum()
    )


def test_copies_that_disagree_by_value_still_lose_both(small: Path) -> None:
    shipments = read(small / "shipments.csv")
    shipments.loc[10, "units"] = "2"
    copy = shipments.loc[[10]].assign(units="2.5")
    write(pd.concat([shipments, copy], ignore_index=True), small / "shipments.csv")
    assert validate(small).report["quarantined_by_reason"] == {"duplicate_key": 2}


@pytest.mark.slow
@pytest.mark.parametrize(
    ("store", "column", "value"),
    [
        ("S00101", "store_format", "large"),  # the case: small -> large
        ("S00000", "store_format", "small"),
        ("S00102", "region", "R000"),  # moved to another region
    ],
)
def test_a_store_whose_attributes_changed_is_forecast_in_its_new_segment_with_a_warning(
    trained: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    store: str,
    column: str,
    value: str,
) -> None:
    raw, model = trained
    data = copy_of(raw, tmp_path / "raw")
    stores = read(data / "stores.csv")
    before = stores.loc[stores["store_id"] == store, column].iloc[0]
    stores.loc[stores["store_id"] == store, column] = value
    write(stores, data / "stores.csv")
    capsys.readouterr()
    assert score(model, data, tmp_path / "score") == 0
    text = said(capsys)
    assert f"stores.csv: store {store} has {column} '{value}', the model trained with '{before}'" in text
    forecasts = read(tmp_path / "score" / "forecasts.csv")
    moved = forecasts[forecasts["store_id"] == store]
    position = 0 if column == "region" else 1
    assert set(moved["segment"].str.split("|").str[position]) == {value}
    assert any(
        store in w for w in json.loads((tmp_path / "score" / "data_quality.json").read_text())["warnings"]
    )


@pytest.mark.slow
@pytest.mark.parametrize("weeks_late", [3, 6, 26])
def test_an_as_of_weeks_past_the_data_warns_that_the_history_is_stale(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], weeks_late: int
) -> None:
    raw, model = trained
    last = pd.Timestamp(read(raw / "shipments.csv")["week_start"].max())
    as_of = (last + pd.Timedelta(weeks=weeks_late)).strftime("%Y-%m-%d")
    capsys.readouterr()
    assert score(model, raw, tmp_path / "score", "--as-of", as_of) == 0
    text = said(capsys)
    assert f"--as-of {as_of} is {weeks_late} weeks after the last shipment week" in text
    assert (
        main(
            [
                "monitor",
                "--model",
                str(model),
                "--data",
                str(raw),
                "--out",
                str(tmp_path / "m"),
                "--as-of",
                as_of,
            ]
        )
        == 0
    )
    assert "weeks after the last shipment week" in said(capsys)


@pytest.mark.slow
def test_the_week_after_the_data_is_not_stale(
    trained: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, model = trained
    capsys.readouterr()
    assert score(model, raw, tmp_path / "score") == 0
    assert "after the last shipment week" not in said(capsys)
