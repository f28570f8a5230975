"""The conditioned data partitioned by region (issue 20, contract 1): what validate writes, what the
readers read back, and that a region not asked for is never opened."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from demand_forecast.dataset import PARTITIONS_FILE, Tables, read_partitions
from demand_forecast.errors import DataContractError, UsageError
from demand_forecast.loading import load_dataset, run_validate
from demand_forecast.settings import Settings, load_settings

KEYS = ("week_start", "store_id", "product_id", "region", "event")


def _settings(output_format: str = "parquet") -> Settings:
    return load_settings(overrides={"validate": {"output_format": output_format}})


def _validated(data: Path, out: Path, output_format: str = "parquet") -> Path:
    run_validate(data, out, _settings(output_format), say=lambda _: None)
    return out


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [column for column in KEYS if column in frame]
    return frame.sort_values(keys).reset_index(drop=True)


def _assert_same(got: Tables, expected: Tables) -> None:
    for name, frame in expected.items():
        other = getattr(got, name)
        assert other is not None, name
        assert list(other.columns) == list(frame.columns), name
        pd.testing.assert_frame_equal(_sorted(other), _sorted(frame), check_dtype=False, obj=name)


@pytest.mark.parametrize("output_format", ["parquet", "csv"])
def test_validate_writes_hive_partitions_and_the_work_list(
    tiny_data: Path, tmp_path: Path, output_format: str
) -> None:
    out = _validated(tiny_data, tmp_path / "cond", output_format)
    raw = load_dataset(tiny_data, _settings())
    regions = sorted(raw.tables.stores["region"].unique())
    for name in ("shipments", "promotions", "weather"):
        assert sorted(p.name for p in (out / name).iterdir()) == [f"region={r}" for r in regions]
        assert all((out / name / f"region={r}" / f"part-0.{output_format}").is_file() for r in regions)
    assert (out / f"stores.{output_format}").is_file()
    assert not (out / f"shipments.{output_format}").exists()
    partitions = read_partitions(out)
    shipments = raw.tables.shipments.merge(raw.tables.stores[["store_id", "region"]], on="store_id")
    assert list(partitions) == regions
    for region, partition in partitions.items():
        mine = shipments[shipments["region"] == region]
        assert partition.rows == len(mine)
        assert partition.series == len(mine[["store_id", "product_id"]].drop_duplicates())
        assert partition.bytes > 0
    document = json.loads((out / PARTITIONS_FILE).read_text())
    assert document["version"] == 1
    assert set(document["partitions"][regions[0]]) == {"series", "rows", "bytes"}


@pytest.mark.parametrize("output_format", ["parquet", "csv"])
def test_the_conditioned_folder_reads_back_as_the_raw_data(
    tiny_data: Path, tmp_path: Path, output_format: str
) -> None:
    out = _validated(tiny_data, tmp_path / "cond", output_format)
    raw, conditioned = load_dataset(tiny_data, _settings()), load_dataset(out, _settings())
    _assert_same(conditioned.tables, raw.tables)
    assert conditioned.report["series"] == raw.report["series"]
    assert conditioned.report["weeks"] == raw.report["weeks"]
    # and twice the same: a re-read is the same table row for row (the model version hashes the rows)
    again = load_dataset(out, _settings())
    for name, frame in conditioned.tables.items():
        pd.testing.assert_frame_equal(getattr(again.tables, name), frame, obj=name)


def test_a_region_not_asked_for_is_not_read(tiny_data: Path, tmp_path: Path) -> None:
    """Corrupt every file of one region: the others still read, and reading all names the bad file."""
    out = _validated(tiny_data, tmp_path / "cond")
    first, other = list(read_partitions(out))[:2]
    for part in out.glob(f"*/region={other}/part-0.parquet"):
        part.write_bytes(b"not parquet: this file must never be opened")
    one = load_dataset(out, _settings(), regions=[first])
    raw = load_dataset(tiny_data, _settings(), regions=[first])
    _assert_same(one.tables, raw.tables)
    assert set(one.tables.stores["region"]) == {first}
    assert one.report["series"] == read_partitions(out)[first].series
    with pytest.raises(DataContractError, match=rf"unreadable file.*region={other}"):
        load_dataset(out, _settings())


def test_events_for_every_region_reach_each_region(tiny_data: Path, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(tiny_data, raw)
    events = pd.read_csv(raw / "events.csv", dtype=str)
    everywhere = events.iloc[:1].assign(region="*", event="national_holiday")
    pd.concat([events, everywhere]).to_csv(raw / "events.csv", index=False)
    out = _validated(raw, tmp_path / "cond")
    assert (out / "events" / "region=%2A").is_dir()  # "*" URI-encoded: any region id is a path
    for region in read_partitions(out):
        got = load_dataset(out, _settings(), regions=[region]).tables.events
        assert got is not None
        assert set(got["region"]) <= {region, "*"}
        assert (got["event"] == "national_holiday").sum() == 1


def test_regions_of_an_input_folder_cut_the_validated_tables(tiny_data: Path) -> None:
    whole = load_dataset(tiny_data, _settings())
    region = sorted(whole.tables.stores["region"].unique())[1]
    one = load_dataset(tiny_data, _settings(), regions={region})
    stores = set(one.tables.stores["store_id"])
    assert set(one.tables.stores["region"]) == {region}
    assert set(one.tables.shipments["store_id"]) == stores
    assert one.tables.promotions is not None
    assert set(one.tables.promotions["store_id"]) <= stores
    assert one.tables.weather is not None
    assert set(one.tables.weather["region"]) == {region}
    with pytest.raises(UsageError, match="R999"):
        load_dataset(tiny_data, _settings(), regions={"R999"})


def _flat_layout(out: Path) -> None:
    """The conditioned folder as validate wrote it before issue 20: one file per table."""
    tables = load_dataset(out, _settings()).tables
    for name in ("shipments", "promotions", "weather", "events"):
        shutil.rmtree(out / name, ignore_errors=True)
    (out / PARTITIONS_FILE).unlink()
    for name, frame in tables.items():
        frame.to_parquet(out / f"{name}.parquet", index=False)


def _partial(out: Path) -> None:
    (out / PARTITIONS_FILE).unlink()


def _future_version(out: Path) -> None:
    (out / PARTITIONS_FILE).write_text(json.dumps({"version": 2, "partitions": {}}))


def _not_json(out: Path) -> None:
    (out / PARTITIONS_FILE).write_text("{ partitions")


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_flat_layout, r"flat layout validate wrote before issue 20.*re-run `demand-forecast validate"),
        (_partial, r"no _partitions\.json: it was written in part.*re-run"),
        (_future_version, r"_partitions\.json is unreadable.*version 2.*re-run"),
        (_not_json, r"_partitions\.json is unreadable.*re-run"),
    ],
)
def test_a_conditioned_folder_this_package_cannot_read_says_re_run_validate(
    tiny_data: Path, tmp_path: Path, damage: object, expected: str
) -> None:
    out = _validated(tiny_data, tmp_path / "cond")
    damage(out)  # type: ignore[operator]
    with pytest.raises(UsageError, match=expected):
        load_dataset(out, _settings())


def test_unknown_region_and_a_table_in_two_forms_are_clear_errors(tiny_data: Path, tmp_path: Path) -> None:
    out = _validated(tiny_data, tmp_path / "cond")
    with pytest.raises(UsageError, match=r"R999 are not in .*_partitions\.json"):
        load_dataset(out, _settings(), regions=["R999"])
    (out / "weather.parquet").write_bytes(b"left by an earlier run")
    with pytest.raises(DataContractError, match="two files for one table"):
        load_dataset(out, _settings())


@pytest.mark.parametrize("output_format", ["parquet", "csv"])
def test_more_regions_than_pyarrows_default_limits_write_one_file_each(
    tmp_path: Path, output_format: str
) -> None:
    """pyarrow refuses more than 1,024 partitions by default and closes files beyond 1,024 open ones;
    a retailer with 1,100 regions (interleaved rows, as shipments come) still gets one file a region,
    each region's rows in their own order (issue 20's 100x panel failed validate on this)."""
    import pyarrow.dataset as ds
    from demand_forecast.dataset import _write_dataset

    regions = [f"R{i:04d}" for i in range(1100)]
    frame = pd.DataFrame({"region": regions * 2, "units": range(2200)})
    _write_dataset(frame, tmp_path / "shipments", output_format)
    folders = sorted((tmp_path / "shipments").iterdir())
    assert len(folders) == 1100
    assert all([f.name for f in folder.iterdir()] == [f"part-0.{output_format}"] for folder in folders)
    one = ds.dataset(tmp_path / "shipments" / "region=R0007", format=output_format).to_table().to_pandas()
    assert one["units"].astype(int).tolist() == [7, 1107]
