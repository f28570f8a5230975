"""Data contract: pandera schemas over the raw text tables, quarantine of droppable rows, DQ report.

Policy. Structural problems make the data unusable and raise `DataContractError` (exit 2): a
missing required file or column, or any bad row in stores.csv (a store's region or format cannot be
guessed, and dropping it would silently drop its shipments). Row problems in the other files
(unparsable or non-Monday date, negative or unparsable units, missing id, an id with spaces or tabs
around it, duplicate key, store not in stores.csv) are quarantined with their reason, unless a
file's quarantined share exceeds `validate.max_quarantine_fraction`: then the data is unusable and
the first bad row is named. A required file with no data rows is unusable too (its own error,
before any row is judged).

Every numeric column of every file (units, returns and each numeric extra) is read by one parser,
`demand_forecast.reading.parse_numbers`, in one format per column: non-finite values are
`unparsable_number`; digit grouping is read, never quarantined; a column mixing decimal marks is
refused. Covariate rows (promotions) for stores outside stores.csv are ignored and counted, not
fatal; covariate rows that match no shipment series (or region) are counted per file and warned
about above `validate.max_unmatched_fraction`.

A quarantined shipment row becomes a missing week for its series: a gap, never a zero.

Ids (store_id, product_id, region, event) are compared exactly and never rewritten: `S00101`,
`s00101` and ` S00101` are three ids. An id with whitespace around it is `untrimmed_id` (in
stores.csv an error, elsewhere quarantined), and an id that misses stores.csv only by form is
`unknown_store`; either way the error or warning names the id it nearly is as the likely cause
(`id_hint`). Dates and numbers are values, not ids: whitespace around them is ignored.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from demand_forecast.dataset import REQUIRED_COLUMNS, Tables
from demand_forecast.errors import DataContractError
from demand_forecast.reading import (
    NumberFormat,
    NumberFormatError,
    distinct_values,
    infer_number_format,
    number_like,
    parse_numbers,
)
from demand_forecast.settings import ValidateSettings

STORE_FORMATS = ("large", "small")
KEY_COLUMNS = {
    "shipments": ["week_start", "store_id", "product_id"],
    "stores": ["store_id"],
    "promotions": ["week_start", "store_id", "product_id"],
    "weather": ["week_start", "region"],
    "events": ["week_start", "region", "event"],
}
# Reasons, in the order a row is checked; a row is quarantined for its first failing reason.
REASON_ORDER = (
    "missing_id",
    "untrimmed_id",
    "unparsable_date",
    "not_monday",
    "unparsable_number",
    "negative_units",
    "negative_returns",
    "non_positive_price",
    "unknown_store_format",
    "unknown_store",
    "duplicate_key",
)
FIX_BY_REASON = {
    "missing_id": "fill in the identifier or delete the row",
    "untrimmed_id": "remove the spaces or tabs around the id: ids are compared exactly, so 'S00101 ' is "
    "another id than 'S00101' and would match nothing",
    "unparsable_date": "write week_start as an ISO date, YYYY-MM-DD",
    "not_monday": "week_start must be the Monday that starts the week",
    "unparsable_number": "write the value as a finite number (digits, one decimal mark, optional grouping "
    "in threes); leave it empty where the column allows it",
    "negative_units": "units must be >= 0; record returns in the returns column",
    "negative_returns": "returns must be >= 0",
    "non_positive_price": "a price must be > 0; leave it empty where it is unknown (the last known price "
    "is used)",
    "unknown_store_format": f"store_format must be one of {', '.join(STORE_FORMATS)}",
    "unknown_store": "add the store to stores.csv or remove its rows",
    "duplicate_key": "keep one row per key",
    "missing column": "add the column (see the input contract in src/model/README.md)",
    "no data rows": "export the file again with its rows (it has a header and nothing else)",
    "ambiguous number format": "write every value of the column with the same decimal mark",
}
SHIPMENT_EXTRA_REASON = (
    "shipments.csv carries only units and returns: its other columns are observed with the sales, not "
    "known before the forecast week; put known-in-advance inputs (planned price, display) in promotions.csv"
)
QUARANTINE_COLUMNS = ["file", "row", "column", "reason", "value", "original"]


@dataclass(frozen=True)
class ValidationResult:
    tables: Tables
    quarantine: pd.DataFrame
    report: dict[str, Any]

    @property
    def warnings(self) -> list[str]:
        return list(self.report.get("warnings", []))

    def quarantined_series(self) -> pd.DataFrame:
        """store_id, product_id, reason of every quarantined shipment row (from its original values).

        Ids without the whitespace around them: a row quarantined as `untrimmed_id` (' S00101')
        names the series it was written for, not a series of its own."""
        rows = self.quarantine[self.quarantine["file"] == "shipments.csv"]
        originals = [json.loads(text) for text in rows["original"]]
        return pd.DataFrame(
            {
                "store_id": [str(o.get("store_id", "")).strip() for o in originals],
                "product_id": [str(o.get("product_id", "")).strip() for o in originals],
                "week_start": [str(o.get("week_start", "")).strip() for o in originals],
                "reason": rows["reason"].to_numpy(),
            }
        )


def _parse_dates(values: pd.Series) -> pd.Series:
    """ISO dates (YYYY-MM-DD, whitespace around ignored), NaT where not; each distinct value once."""
    text = values.astype(str).str.strip()
    distinct, codes = distinct_values(text)
    parsed = pd.to_datetime(distinct, format="%Y-%m-%d", errors="coerce").to_numpy()
    return pd.Series(parsed[codes], index=text.index)


def _nonempty(values: pd.Series) -> pd.Series:
    return values.astype(str).str.strip() != ""


def _untrimmed(values: pd.Series) -> pd.Series:
    """Ids with whitespace (space, tab, no-break space) around them; an all-blank id is missing."""
    text = values.astype(str)
    trimmed = text.str.strip()
    return (text != trimmed) & (trimmed != "")


def _trimmed(values: pd.Series) -> pd.Series:
    return ~_untrimmed(values)


def _date_parsable(values: pd.Series) -> pd.Series:
    return _parse_dates(values).notna()


def _date_is_monday(values: pd.Series) -> pd.Series:
    parsed = _parse_dates(values)
    # Unparsable dates are the other check's failure; do not report them twice.
    return parsed.isna() | (parsed.dt.day_of_week == 0)


def _number_parsable(fmt: NumberFormat, allow_empty: bool) -> Callable[[pd.Series], pd.Series]:
    def check(values: pd.Series) -> pd.Series:
        empty = values.astype(str).str.strip() == ""
        return parse_numbers(values, fmt).notna() | (empty if allow_empty else False)

    return check


def _nonnegative(fmt: NumberFormat) -> Callable[[pd.Series], pd.Series]:
    def check(values: pd.Series) -> pd.Series:
        parsed = parse_numbers(values, fmt)
        return parsed.isna() | (parsed >= 0)

    return check


def is_price_column(column: str) -> bool:
    """A promotions column whose name says it holds a price (`price`, `unit_price`, `price_eur`): its
    values must be > 0, and a missing one is the series' last known price. Decided by the name, so
    how a missing price is filled never depends on the values of other rows (issue 25, kind 6)."""
    return "price" in column


def _positive(fmt: NumberFormat) -> Callable[[pd.Series], pd.Series]:
    def check(values: pd.Series) -> pd.Series:
        parsed = parse_numbers(values, fmt)
        return parsed.isna() | (parsed > 0)

    return check


def _schema(
    name: str,
    columns: list[str],
    known_stores: set[str] | None,
    formats: dict[str, NumberFormat] | None = None,
) -> pa.DataFrameSchema:
    """The row-level contract of one table, over its raw text; each check is named by its reason.

    `formats` holds the number format of every numeric column (units, returns, numeric extras):
    each gets the `unparsable_number` check (finite, in the column's format); units and returns
    are >= 0. Empty cells are allowed in every numeric column but units."""
    formats = formats or {}

    def check(fn: Callable[[pd.Series], pd.Series], reason: str) -> pa.Check:
        return pa.Check(fn, name=reason, error=reason)

    spec: dict[str, pa.Column] = {}
    if "week_start" in columns:
        spec["week_start"] = pa.Column(
            str,
            checks=[check(_date_parsable, "unparsable_date"), check(_date_is_monday, "not_monday")],
        )
    for id_column in ("store_id", "product_id", "region", "event"):
        if id_column in REQUIRED_COLUMNS[name]:
            checks = [check(_nonempty, "missing_id"), check(_trimmed, "untrimmed_id")]
            if id_column == "store_id" and known_stores is not None:
                checks.append(check(lambda v: v.astype(str).isin(known_stores), "unknown_store"))
            spec[id_column] = pa.Column(str, checks=checks)
    for column, fmt in formats.items():
        if column not in columns:
            continue
        checks = [check(_number_parsable(fmt, allow_empty=column != "units"), "unparsable_number")]
        if name == "shipments" and column in ("units", "returns"):
            checks.append(check(_nonnegative(fmt), f"negative_{column}"))
        if name == "promotions" and is_price_column(column):
            checks.append(check(_positive(fmt), "non_positive_price"))
        spec[column] = pa.Column(str, checks=checks)
    if name == "stores":
        spec["store_format"] = pa.Column(
            str,
            checks=[
                check(
                    lambda v: v.astype(str).str.strip().str.lower().isin(STORE_FORMATS),
                    "unknown_store_format",
                )
            ],
        )
    return pa.DataFrameSchema(spec, strict=False, coerce=False)


def _row_failures(
    name: str,
    frame: pd.DataFrame,
    known_stores: set[str] | None,
    formats: dict[str, NumberFormat] | None = None,
) -> pd.DataFrame:
    """One row per failing (row, column, reason), from pandera's lazy validation."""
    schema = _schema(name, list(frame.columns), known_stores, formats)
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        cases = cases[cases["index"].notna() & cases["check"].isin(REASON_ORDER)]
        return pd.DataFrame(
            {
                "index": cases["index"].astype(int).to_numpy(),
                "column": cases["column"].astype(str).to_numpy(),
                "reason": cases["check"].astype(str).to_numpy(),
                "value": cases["failure_case"].astype(str).to_numpy(),
            }
        )
    return pd.DataFrame({"index": [], "column": [], "reason": [], "value": []})


def _first_reason_per_row(failures: pd.DataFrame) -> pd.DataFrame:
    if failures.empty:
        return failures
    order = {reason: rank for rank, reason in enumerate(REASON_ORDER)}
    ranked = failures.assign(rank=failures["reason"].map(order))
    return ranked.sort_values(["index", "rank"]).drop_duplicates("index").drop(columns="rank")


def _duplicates(
    name: str, frame: pd.DataFrame, formats: dict[str, NumberFormat] | None = None
) -> pd.DataFrame:
    """Exact repeats keep their first row; conflicting repeats lose every copy (none can be trusted).

    Values are compared as what they mean: numbers by value in their column's format (`2`, `2.0`
    and `2.00` are one value, so such copies are a repeat, not a conflict), dates as dates."""
    key = KEY_COLUMNS[name]
    formats = formats or {}
    keyed = frame[key].astype(str)  # ids exactly as written
    if "week_start" in keyed:
        keyed["week_start"] = _parse_dates(keyed["week_start"]).astype(str)
    key_dup = keyed.duplicated(keep=False)
    if not key_dup.any():
        return pd.DataFrame({"index": [], "column": [], "reason": [], "value": []})
    values = pd.DataFrame(
        {column: parse_numbers(frame[column], fmt).astype(str) for column, fmt in formats.items()},
        index=frame.index,
    )
    full = pd.concat([keyed, values], axis=1)
    exact_repeat = full.duplicated(keep="first")
    conflicting_keys = full[key_dup].drop_duplicates().pipe(lambda f: f[f[key].duplicated(keep=False)])[key]
    conflicting = (
        keyed.merge(conflicting_keys.drop_duplicates(), how="left", on=key, indicator=True)["_merge"]
        .eq("both")
        .to_numpy()
    )
    drop = key_dup & (exact_repeat | conflicting)
    dropped = frame.index[drop.to_numpy()]
    return pd.DataFrame(
        {
            "index": dropped.to_numpy(),
            "column": ",".join(key),
            "reason": "duplicate_key",
            "value": keyed.loc[dropped].astype(str).agg("|".join, axis=1).to_numpy(),
        }
    )


def _require_columns(name: str, frame: pd.DataFrame) -> None:
    for column in REQUIRED_COLUMNS[name]:
        if column not in frame.columns:
            fmt = frame.attrs.get("csv_format", {})
            read_as = (
                f"; read as {fmt['encoding']}, {fmt['separator']}-separated" if "separator" in fmt else ""
            )
            raise DataContractError(
                f"{name}.csv",
                "missing column",
                column=column,
                detail=f"found columns: {', '.join(map(repr, frame.columns)) or 'none'}{read_as}",
                fix=FIX_BY_REASON["missing column"],
            )


def _require_rows(name: str, frame: pd.DataFrame) -> None:
    if frame.empty:
        raise DataContractError(
            f"{name}.csv",
            "no data rows",
            detail=f"header only ({', '.join(frame.columns)}); {name}.csv is required",
            fix=FIX_BY_REASON["no data rows"],
        )


def _separator(frame: pd.DataFrame) -> str:
    """The separator the file was read with (parquet and frames built in code: ',')."""
    names = {"comma": ",", "semicolon": ";", "tab": "\t", "pipe": "|"}
    return names.get(str(frame.attrs.get("csv_format", {}).get("separator", "comma")), ",")


def _number_formats(name: str, frame: pd.DataFrame, columns: list[str]) -> dict[str, NumberFormat]:
    """One number format per column, or exit 2 naming the column whose values mix decimal marks."""
    formats = {}
    for column in columns:
        try:
            formats[column] = infer_number_format(frame[column], _separator(frame))
        except NumberFormatError as exc:
            raise DataContractError(
                f"{name}.csv",
                "ambiguous number format",
                column=column,
                detail=f"{exc}; no single reading is right for both, and keeping only the rows of one "
                "reading would bias the column",
                fix=FIX_BY_REASON["ambiguous number format"],
            ) from exc
    return formats


def _numeric_extras(name: str, frame: pd.DataFrame) -> tuple[list[str], dict[str, str]]:
    """Extra columns that are numeric (features) and those ignored, each with the reason."""
    reserved = set(REQUIRED_COLUMNS[name]) | ({"units", "returns"} if name == "shipments" else set())
    numeric: list[str] = []
    ignored: dict[str, str] = {}
    for column in frame.columns:
        if column in reserved:
            continue
        text = frame[column].astype(str).str.strip()
        filled = text != ""
        if not filled.any():
            ignored[column] = "no values"
            continue
        try:
            fmt = infer_number_format(text, _separator(frame))
        except NumberFormatError:
            # Numbers in two decimal marks are still numbers: the column is numeric, and
            # `_number_formats` refuses it by name instead of ignoring it as text.
            either = number_like(text[filled], NumberFormat(".")) | number_like(
                text[filled], NumberFormat(",")
            )
            parsed_share = float(either.mean())
        else:
            parsed_share = float(number_like(text[filled], fmt).mean())
        if parsed_share < 0.95:
            ignored[column] = (
                f"not numeric: {parsed_share:.0%} of its filled values parse (a feature needs 95%)"
            )
        elif name == "shipments":
            ignored[column] = SHIPMENT_EXTRA_REASON
        else:
            numeric.append(column)
    return numeric, ignored


def _quarantine_rows(name: str, frame: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    if failures.empty:
        return pd.DataFrame(columns=QUARANTINE_COLUMNS)
    index = failures["index"].to_numpy(dtype=np.int64)
    originals = frame.loc[index].to_dict(orient="records")
    return pd.DataFrame(
        {
            "file": f"{name}.csv",
            "row": index + 1,
            "column": failures["column"].to_numpy(),
            "reason": failures["reason"].to_numpy(),
            "value": failures["value"].to_numpy(),
            "original": [json.dumps(record, ensure_ascii=False) for record in originals],
        }
    )


def _enforce_budget(
    name: str, rows_in: int, failures: pd.DataFrame, settings: ValidateSettings, hint: str = ""
) -> None:
    if failures.empty:
        return
    share = len(failures) / max(rows_in, 1)
    if share > settings.max_quarantine_fraction:
        first = failures.sort_values("index").iloc[0]
        reason = str(first["reason"])
        raise DataContractError(
            f"{name}.csv",
            reason,
            row=int(first["index"]) + 1,
            column=str(first["column"]),
            detail=(
                f"value {str(first['value'])!r}; {len(failures)} of {rows_in} rows ({share:.1%}) "
                "break the contract, "
                f"more than the {settings.max_quarantine_fraction:.1%} that may be quarantined; reasons: "
                + ", ".join(f"{r}={c}" for r, c in failures["reason"].value_counts().items())
                + (f"; {hint}" if hint else "")
            ),
            fix=FIX_BY_REASON.get(reason, "correct the rows named") + " (rows are 1-based, header excluded)",
        )


def _validate_stores(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], dict[str, str]]:
    _require_columns("stores", frame)
    _require_rows("stores", frame)
    numeric, ignored = _numeric_extras("stores", frame)
    formats = _number_formats("stores", frame, numeric)
    failures = _first_reason_per_row(_row_failures("stores", frame, None, formats))
    duplicated = _duplicates("stores", frame)
    failures = pd.concat([failures, duplicated], ignore_index=True)
    if not failures.empty:
        first = failures.sort_values("index").iloc[0]
        reason = str(first["reason"])
        raise DataContractError(
            "stores.csv",
            reason,
            row=int(first["index"]) + 1,
            column=str(first["column"]),
            detail=f"value {str(first['value'])!r}; {len(failures)} bad store rows; "
            "stores.csv is master data and is never "
            "quarantined",
            fix=FIX_BY_REASON.get(reason, "correct the store rows"),
        )
    stores = pd.DataFrame(
        {
            "store_id": frame["store_id"],
            "region": frame["region"],
            "store_format": frame["store_format"].str.strip().str.lower(),
        }
    )
    for column in numeric:
        stores[column] = parse_numbers(frame[column], formats[column]).astype("float64")
    return stores.reset_index(drop=True), numeric, ignored


def _condition(name: str, frame: pd.DataFrame, formats: dict[str, NumberFormat]) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for column in KEY_COLUMNS[name]:
        if column == "week_start":
            out[column] = _parse_dates(frame[column])
        else:
            out[column] = frame[column].astype(str)
    for column, fmt in formats.items():
        out[column] = parse_numbers(frame[column], fmt).astype("float64")
    return out.reset_index(drop=True)


def _outside_run(name: str, frame: pd.DataFrame, stores: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Covariate rows for stores (promotions) or regions (weather, events) this run does not have:
    a chain-wide plan or calendar. They are ignored and counted, never judged or quarantined.

    Which run a row belongs to is read from its id without the whitespace around it: a row for a
    store of the run written ' S00101' is judged (and quarantined as `untrimmed_id`), not ignored."""
    if name == "promotions":
        store = frame["store_id"].astype(str).str.strip()
        return np.asarray((store != "") & ~store.isin(set(stores["store_id"])), dtype=bool)
    if name in ("weather", "events"):
        region = frame["region"].astype(str).str.strip()
        return np.asarray((region != "") & (region != "*") & ~region.isin(set(stores["region"])), dtype=bool)
    return np.zeros(len(frame), dtype=bool)


def _unmatched(
    name: str, kept: pd.DataFrame, shipments: pd.DataFrame, stores: pd.DataFrame
) -> dict[str, Any]:
    """How many kept covariate rows match no shipment series (promotions) or no region with
    shipments (weather, events), with an example and whether the ids match once leading zeros are
    dropped (one file lost them)."""
    if name == "promotions":
        series = shipments[["store_id", "product_id"]].drop_duplicates()
        # (store, product) as one string per row: a vectorised isin (a MultiIndex iterates in Python).
        keys = kept["store_id"].astype(str) + "\x1f" + kept["product_id"].astype(str)
        known = series["store_id"].astype(str) + "\x1f" + series["product_id"].astype(str)
        miss = np.asarray(~keys.isin(known.unique()), dtype=bool)
        examples = kept.loc[miss, ["store_id", "product_id"]]
        if not miss.any():
            return {"rows": 0, "example": "", "leading_zeros": False}
        stripped = pd.MultiIndex.from_arrays(
            [series["store_id"].map(id_key), series["product_id"].map(id_key).str.lstrip("0")]
        )
        again = pd.MultiIndex.from_arrays(
            [examples["store_id"].map(id_key), examples["product_id"].map(id_key).str.lstrip("0")]
        )
        first = examples.iloc[0]
        return {
            "rows": int(miss.sum()),
            "example": f"store {first['store_id']} product {first['product_id']}",
            "leading_zeros": bool(again.isin(stripped).any()),
        }
    shipped = set(stores.loc[stores["store_id"].isin(shipments["store_id"].unique()), "region"])
    region = kept["region"].astype(str)
    miss = np.asarray(~region.isin(shipped) & (region != "*"), dtype=bool)
    example = f"region {region[miss].iloc[0]}" if miss.any() else ""
    return {"rows": int(miss.sum()), "example": example, "leading_zeros": False}


@dataclass(frozen=True)
class _CheckedTable:
    """One optional or shipments table after the contract: kept rows, their report entry, quarantine."""

    conditioned: pd.DataFrame
    numeric: list[str]
    ignored: dict[str, str]
    quarantine: pd.DataFrame
    counts: dict[str, Any]
    warnings: list[str]


def _check_table(
    name: str, raw_frame: pd.DataFrame, stores: pd.DataFrame, settings: ValidateSettings
) -> _CheckedTable:
    """Columns, number formats, rows outside the run, row failures and duplicates of one table;
    DataContractError when the table is unusable or its failures exceed the budget."""
    frame = raw_frame  # its index is the file's data row (reading.read_csv_text): rows keep their numbers
    _require_columns(name, frame)
    if name == "shipments":
        _require_rows(name, frame)
    numeric, ignored = _numeric_extras(name, frame) if name != "events" else ([], {})
    value_columns = [c for c in ("units", "returns") if name == "shipments" and c in frame.columns]
    formats = _number_formats(name, frame, [*value_columns, *numeric])
    outside = _outside_run(name, frame, stores)
    in_run = frame[~outside]
    stores_filter = set(stores["store_id"]) if name == "shipments" else None
    failures = _first_reason_per_row(_row_failures(name, in_run, stores_filter, formats))
    remaining = in_run.drop(index=failures["index"].to_numpy()) if not failures.empty else in_run
    failures = pd.concat([failures, _duplicates(name, remaining, formats)], ignore_index=True)
    hint = _id_hint(name, frame, outside, stores)
    _enforce_budget(name, len(in_run), failures, settings, hint)
    kept = in_run.drop(index=failures["index"].to_numpy()) if not failures.empty else in_run
    counts: dict[str, Any] = {"rows_in": len(frame), "rows_out": len(kept), "quarantined": len(failures)}
    if name != "shipments":
        counts["outside_run"] = int(outside.sum())
    if "csv_format" in frame.attrs:
        counts["read_as"] = dict(frame.attrs["csv_format"])
    return _CheckedTable(
        conditioned=_condition(name, kept, formats),
        numeric=numeric,
        ignored=ignored,
        quarantine=_quarantine_rows(name, frame, failures),
        counts=counts,
        warnings=[f"{name}.csv: {hint}"] if hint else [],
    )


def id_key(value: str) -> str:
    """An id as a person reads it: letter case, spaces and the leading zeros of its numbers ignored
    (`s00101`, ` S00101 `, `S101` all read `s101`). Only for naming a likely cause: ids are compared
    exactly and never rewritten."""
    return re.sub(r"(?<!\d)0+(?=\d)", "", re.sub(r"\s+", "", value)).casefold()


def near_misses(ids: pd.Series, known: set[str]) -> dict[str, str]:
    """Each id of `ids` not in `known` that matches a known id once read by `id_key`, with that id."""
    by_key: dict[str, str] = {}
    for value in sorted(known):
        by_key.setdefault(id_key(value), value)
    misses = {}
    for value in sorted(set(ids.astype(str).unique()) - known - {""}):
        match = by_key.get(id_key(value))
        if match is not None:
            misses[value] = match
    return misses


# The forms in which an id can nearly match another: each is undone on both ids.
_NEAR_MISS_FORMS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("spaces around it", str.strip),
    ("spaces inside", lambda value: re.sub(r"(?<=\S)\s+(?=\S)", "", value)),
    ("leading zeros", lambda value: re.sub(r"(?<!\d)0+(?=\d)", "", value)),
    ("letter case", str.casefold),
)


def _undone(value: str, keep: str = "") -> str:
    """`value` with every near-miss form undone except `keep`."""
    for label, undo in _NEAR_MISS_FORMS:
        if label != keep:
            value = undo(value)
    return value


def near_miss_cause(given: str, known: str) -> str:
    """How `given` differs from `known` when it differs only in form: each of 'spaces around it',
    'spaces inside', 'leading zeros', 'letter case' without which the two would still differ,
    joined by ', ' (`'s0101'` vs `'S00101'`: 'leading zeros, letter case'); '' when the two are
    equal or differ otherwise."""
    if given == known or _undone(given) != _undone(known):
        return ""
    return ", ".join(label for label, _ in _NEAR_MISS_FORMS if _undone(given, label) != _undone(known, label))


def _pairs(misses: dict[str, str]) -> str:
    """Up to three (given, known) pairs, quoted as Python does so that a tab or a space shows."""
    shown = list(misses.items())[:3]
    return ", ".join(f"{given!r} vs {known!r} ({near_miss_cause(given, known)})" for given, known in shown)


def _untrimmed_ids(name: str, frame: pd.DataFrame) -> dict[str, str]:
    """Each id of the table's id columns with whitespace around it, with the id without it."""
    found: dict[str, str] = {}
    for column in ("store_id", "product_id", "region", "event"):
        if column in REQUIRED_COLUMNS[name] and column in frame:
            values = frame[column].astype(str)
            for value in sorted(set(values[_untrimmed(values)])):
                found[value] = value.strip()
    return found


def _id_hint(name: str, frame: pd.DataFrame, outside: npt.NDArray[np.bool_], stores: pd.DataFrame) -> str:
    """The likely cause when ids are written with spaces around them (`untrimmed_id`), or miss
    stores.csv's only by form (`unknown_store`, or rows outside the run): names up to three pairs
    of each, with how they differ."""
    hints = []
    untrimmed = _untrimmed_ids(name, frame) if name != "stores" else {}
    if untrimmed:
        hints.append(
            f"likely cause: {len(untrimmed)} id value(s) are written with spaces or tabs around them "
            f"({_pairs(untrimmed)}); ids are compared exactly and never trimmed: remove the spaces in "
            "the export"
        )
    column = "region" if name in ("weather", "events") else "store_id"
    if column in frame and name != "stores":
        candidates = frame.loc[outside, column] if name != "shipments" else frame[column]
        misses = {
            given: known
            for given, known in near_misses(candidates.astype(str), set(stores[column])).items()
            if given not in untrimmed
        }
        if misses:
            hints.append(
                f"likely cause: {len(misses)} {column} value(s) differ from stores.csv's only in letter "
                f"case, spaces or leading zeros ({_pairs(misses)}); ids are compared exactly: write them "
                "as stores.csv does"
            )
    return "; ".join(hints)


def _coverage_warnings(
    conditioned: dict[str, pd.DataFrame],
    files: dict[str, dict[str, Any]],
    stores: pd.DataFrame,
    settings: ValidateSettings,
) -> list[str]:
    """Warnings for optional tables whose rows lie outside the run or match no shipment series or
    region beyond `settings.max_unmatched_fraction`; records each table's `unmatched` count in `files`."""
    shipments = conditioned["shipments"]
    warnings: list[str] = []
    for name in ("promotions", "weather", "events"):
        if name not in conditioned:
            continue
        entry = files[f"{name}.csv"]
        outside_share = entry["outside_run"] / max(entry["rows_in"], 1)
        if entry["outside_run"] and outside_share > settings.max_unmatched_fraction:
            whose = "stores" if name == "promotions" else "regions"
            warnings.append(
                f"{name}.csv: {entry['outside_run']} of {entry['rows_in']} rows ({outside_share:.1%}) "
                f"are for {whose} not in stores.csv; ignored (outside this run)"
            )
        found = _unmatched(name, conditioned[name], shipments, stores)
        entry["unmatched"] = found["rows"]
        rows_out = max(entry["rows_out"], 1)
        share = found["rows"] / rows_out
        if found["rows"] and share > settings.max_unmatched_fraction:
            what = (
                "shipment series (store_id, product_id)" if name == "promotions" else "region with shipments"
            )
            message = (
                f"{name}.csv: {found['rows']} of {rows_out} rows ({share:.1%}) match no {what} and are "
                f"unused (e.g. {found['example']})"
            )
            if found["leading_zeros"]:
                message += (
                    "; their ids match once letter case, spaces and leading zeros are ignored: one file "
                    "rewrote them (an Excel round-trip drops leading zeros); keep ids as text in both files"
                )
            warnings.append(message)
    return warnings


def validate_tables(raw: dict[str, pd.DataFrame], settings: ValidateSettings) -> ValidationResult:
    """Check the raw text tables against the contract; return conditioned tables, quarantine and report.

    Raises DataContractError (exit 2) when the data is unusable; see the module docstring."""
    stores, store_numeric, store_ignored = _validate_stores(raw["stores"])
    conditioned: dict[str, pd.DataFrame] = {"stores": stores}
    numeric_columns: dict[str, list[str]] = {"stores": store_numeric}
    ignored_columns: dict[str, dict[str, str]] = {"stores": store_ignored}
    quarantine_parts = []
    table_warnings = reading_warnings(raw)
    files: dict[str, dict[str, Any]] = {
        "stores.csv": {"rows_in": len(stores), "rows_out": len(stores), "quarantined": 0}
    }
    for name in ("shipments", "promotions", "weather", "events"):
        if name not in raw:
            continue
        checked = _check_table(name, raw[name], stores, settings)
        conditioned[name] = checked.conditioned
        numeric_columns[name] = checked.numeric
        ignored_columns[name] = checked.ignored
        quarantine_parts.append(checked.quarantine)
        files[f"{name}.csv"] = checked.counts
        table_warnings += checked.warnings
    if "csv_format" in raw["stores"].attrs:
        files["stores.csv"]["read_as"] = dict(raw["stores"].attrs["csv_format"])

    shipments = conditioned["shipments"]
    if shipments.empty:
        raise DataContractError(
            "shipments.csv", "no usable rows", fix="supply at least one valid shipment row"
        )
    warnings = table_warnings + _coverage_warnings(conditioned, files, stores, settings)
    quarantine = (
        pd.concat(quarantine_parts, ignore_index=True)
        if quarantine_parts
        else pd.DataFrame(columns=QUARANTINE_COLUMNS)
    )
    quarantine = quarantine.astype({"row": "int64"})
    tables = Tables(
        shipments=shipments,
        stores=stores,
        promotions=conditioned.get("promotions"),
        weather=conditioned.get("weather"),
        events=conditioned.get("events"),
        numeric_columns=numeric_columns,
    )
    report = quality_report(tables, files, quarantine, ignored_columns)
    report["warnings"] = warnings
    return ValidationResult(tables, quarantine, report)


def reading_warnings(raw: dict[str, pd.DataFrame]) -> list[str]:
    """What the reader accepted that differs from the contract's form, once per file: headers written
    in another case or spacing, header lines inside the file (dropped), rows ending in an empty field."""
    warnings = []
    for name, frame in raw.items():
        read_as = frame.attrs.get("csv_format", {})
        renamed = read_as.get("renamed_columns") or {}
        if renamed:
            shown = ", ".join(f"'{written}' as '{name_}'" for written, name_ in renamed.items())
            warnings.append(
                f"{name}.csv: header read ignoring case and spaces ({shown}); headers are matched that "
                "way, ids and values are not"
            )
        if read_as.get("repeated_header_lines"):
            warnings.append(
                f"{name}.csv: {read_as['repeated_header_lines']} header line(s) inside the file dropped "
                "(files joined with their headers?); their rows share line 1's column order"
            )
        if read_as.get("trailing_empty_fields"):
            warnings.append(
                f"{name}.csv: {read_as['trailing_empty_fields']} row(s) end in an empty field the header "
                "does not name (a trailing delimiter); the field is ignored"
            )
    return warnings


def count_gaps(shipments: pd.DataFrame) -> int:
    """Missing weeks strictly inside each series' first..last observed week."""
    spans = shipments.groupby(["store_id", "product_id"])["week_start"].agg(["min", "max", "count"])
    expected = (spans["max"] - spans["min"]).dt.days // 7 + 1
    return int((expected - spans["count"]).sum())


def quality_report(
    tables: Tables,
    files: dict[str, dict[str, Any]],
    quarantine: pd.DataFrame,
    ignored_columns: dict[str, dict[str, str]],
) -> dict[str, Any]:
    """data_quality.json (shape in src/model/README.md)."""
    shipments = tables.shipments
    weeks = shipments["week_start"]
    by_reason = (
        quarantine["reason"].value_counts().sort_index() if not quarantine.empty else pd.Series(dtype=int)
    )
    return {
        "files": files,
        "quarantined_by_reason": {str(k): int(v) for k, v in by_reason.items()},
        "series": int(shipments.groupby(["store_id", "product_id"]).ngroups),
        "weeks": int(weeks.nunique()),
        "first_week": weeks.min().strftime("%Y-%m-%d"),
        "last_week": weeks.max().strftime("%Y-%m-%d"),
        "gaps": count_gaps(shipments),
        "zero_unit_rows": int((shipments["units"] == 0).sum()),
        "feature_columns": tables.numeric_columns,
        "ignored_columns": {k: v for k, v in ignored_columns.items() if v},
        "gap_policy": "a missing week is a gap, not a zero: it is never a training target and lag/rolling "
        "features skip it",
    }
