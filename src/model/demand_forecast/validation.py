"""Data contract: pandera schemas over the raw text tables, quarantine of droppable rows, DQ report.

Policy. Structural problems make the data unusable and raise `DataContractError` (exit 2): a
missing required file or column, or any bad row in stores.csv (a store's region or format cannot be
guessed, and dropping it would silently drop its shipments). Row problems in the other files
(unparsable or non-Monday date, negative or unparsable units, missing id, duplicate key, store not
in stores.csv) are quarantined with their reason, unless a file's quarantined share exceeds
`validate.max_quarantine_fraction`: then the data is unusable and the first bad row is named.

A quarantined shipment row becomes a missing week for its series: a gap, never a zero.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pandera.errors import SchemaErrors

from demand_forecast.dataset import Tables
from demand_forecast.errors import DataContractError
from demand_forecast.settings import ValidateSettings

STORE_FORMATS = ("large", "small")
KEY_COLUMNS = {
    "shipments": ["week_start", "store_id", "product_id"],
    "stores": ["store_id"],
    "promotions": ["week_start", "store_id", "product_id"],
    "weather": ["week_start", "region"],
    "events": ["week_start", "region", "event"],
}
REQUIRED_COLUMNS = {
    "shipments": ["week_start", "store_id", "product_id", "units"],
    "stores": ["store_id", "region", "store_format"],
    "promotions": ["week_start", "store_id", "product_id"],
    "weather": ["week_start", "region"],
    "events": ["week_start", "region", "event"],
}
# Reasons, in the order a row is checked; a row is quarantined for its first failing reason.
REASON_ORDER = (
    "missing_id",
    "unparsable_date",
    "not_monday",
    "unparsable_number",
    "negative_units",
    "negative_returns",
    "unknown_store_format",
    "unknown_store",
    "duplicate_key",
)
FIX_BY_REASON = {
    "missing_id": "fill in the identifier or delete the row",
    "unparsable_date": "write week_start as an ISO date, YYYY-MM-DD",
    "not_monday": "week_start must be the Monday that starts the week",
    "unparsable_number": "write the value as a plain number",
    "negative_units": "units must be >= 0; record returns in the returns column",
    "negative_returns": "returns must be >= 0",
    "unknown_store_format": f"store_format must be one of {', '.join(STORE_FORMATS)}",
    "unknown_store": "add the store to stores.csv or remove its rows",
    "duplicate_key": "keep one row per key",
    "missing column": "add the column (see the input contract in src/model/README.md)",
}


@dataclass(frozen=True)
class ValidationResult:
    tables: Tables
    quarantine: pd.DataFrame
    report: dict[str, Any]


def _parse_dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values.astype(str).str.strip(), format="%Y-%m-%d", errors="coerce")


def _parse_numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(values.astype(str).str.strip().replace("", np.nan), errors="coerce")


def _nonempty(values: pd.Series) -> pd.Series:
    return values.astype(str).str.strip() != ""


def _date_parsable(values: pd.Series) -> pd.Series:
    return _parse_dates(values).notna()


def _date_is_monday(values: pd.Series) -> pd.Series:
    parsed = _parse_dates(values)
    # Unparsable dates are the other check's failure; do not report them twice.
    return parsed.isna() | (parsed.dt.day_of_week == 0)


def _number_parsable(allow_empty: bool) -> Callable[[pd.Series], pd.Series]:
    def check(values: pd.Series) -> pd.Series:
        empty = values.astype(str).str.strip() == ""
        return _parse_numbers(values).notna() | (empty if allow_empty else False)

    return check


def _nonnegative(values: pd.Series) -> pd.Series:
    parsed = _parse_numbers(values)
    return parsed.isna() | (parsed >= 0)


def _schema(name: str, columns: list[str], known_stores: set[str] | None) -> pa.DataFrameSchema:
    """The row-level contract of one table, over its raw text; each check is named by its reason."""

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
            checks = [check(_nonempty, "missing_id")]
            if id_column == "store_id" and known_stores is not None:
                checks.append(check(lambda v: v.astype(str).str.strip().isin(known_stores), "unknown_store"))
            spec[id_column] = pa.Column(str, checks=checks)
    if name == "shipments":
        spec["units"] = pa.Column(
            str,
            checks=[
                check(_number_parsable(False), "unparsable_number"),
                check(_nonnegative, "negative_units"),
            ],
        )
        if "returns" in columns:
            spec["returns"] = pa.Column(
                str,
                checks=[
                    check(_number_parsable(True), "unparsable_number"),
                    check(_nonnegative, "negative_returns"),
                ],
            )
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


def _row_failures(name: str, frame: pd.DataFrame, known_stores: set[str] | None) -> pd.DataFrame:
    """One row per failing (row, column, reason), from pandera's lazy validation."""
    schema = _schema(name, list(frame.columns), known_stores)
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


def _duplicates(name: str, frame: pd.DataFrame, value_columns: list[str]) -> pd.DataFrame:
    """Exact repeats keep their first row; conflicting repeats lose every copy (none can be trusted)."""
    key = KEY_COLUMNS[name]
    keyed = frame[key].astype(str).apply(lambda column: column.str.strip())
    if "week_start" in keyed:
        keyed["week_start"] = _parse_dates(keyed["week_start"]).astype(str)
    key_dup = keyed.duplicated(keep=False)
    if not key_dup.any():
        return pd.DataFrame({"index": [], "column": [], "reason": [], "value": []})
    full = pd.concat([keyed, frame[value_columns].astype(str)], axis=1)
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
            raise DataContractError(
                f"{name}.csv",
                "missing column",
                column=column,
                detail=f"found columns: {', '.join(frame.columns) or 'none'}",
                fix=FIX_BY_REASON["missing column"],
            )


def _numeric_extras(name: str, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Extra columns that are numeric (features) and those that are not (ignored, reported)."""
    reserved = (
        set(REQUIRED_COLUMNS[name]) | {"returns"} if name == "shipments" else set(REQUIRED_COLUMNS[name])
    )
    numeric, ignored = [], []
    for column in frame.columns:
        if column in reserved:
            continue
        text = frame[column].astype(str).str.strip()
        filled = text != ""
        parsed = _parse_numbers(text)
        if filled.sum() and parsed[filled].notna().mean() >= 0.95:
            numeric.append(column)
        else:
            ignored.append(column)
    return numeric, ignored


def _quarantine_rows(name: str, frame: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    if failures.empty:
        return pd.DataFrame(columns=["file", "row", "column", "reason", "value", "original"])
    originals = frame.loc[failures["index"].to_numpy()].to_dict(orient="records")
    return pd.DataFrame(
        {
            "file": f"{name}.csv",
            "row": failures["index"].to_numpy() + 1,
            "column": failures["column"].to_numpy(),
            "reason": failures["reason"].to_numpy(),
            "value": failures["value"].to_numpy(),
            "original": [json.dumps(record, ensure_ascii=False) for record in originals],
        }
    )


def _enforce_budget(name: str, rows_in: int, failures: pd.DataFrame, settings: ValidateSettings) -> None:
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
                f"value '{first['value']}'; {len(failures)} of {rows_in} rows ({share:.1%}) "
                "break the contract, "
                f"more than the {settings.max_quarantine_fraction:.1%} that may be quarantined; reasons: "
                + ", ".join(f"{r}={c}" for r, c in failures["reason"].value_counts().items())
            ),
            fix=FIX_BY_REASON.get(reason, "correct the rows named") + " (rows are 1-based, header excluded)",
        )


def _validate_stores(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    _require_columns("stores", frame)
    failures = _first_reason_per_row(_row_failures("stores", frame, None))
    duplicated = _duplicates("stores", frame, [])
    failures = pd.concat([failures, duplicated], ignore_index=True)
    if not failures.empty:
        first = failures.sort_values("index").iloc[0]
        reason = str(first["reason"])
        raise DataContractError(
            "stores.csv",
            reason,
            row=int(first["index"]) + 1,
            column=str(first["column"]),
            detail=f"value '{first['value']}'; {len(failures)} bad store rows; "
            "stores.csv is master data and is never "
            "quarantined",
            fix=FIX_BY_REASON.get(reason, "correct the store rows"),
        )
    numeric, ignored = _numeric_extras("stores", frame)
    stores = pd.DataFrame(
        {
            "store_id": frame["store_id"].str.strip(),
            "region": frame["region"].str.strip(),
            "store_format": frame["store_format"].str.strip().str.lower(),
        }
    )
    for column in numeric:
        stores[column] = _parse_numbers(frame[column]).astype("float64")
    return stores, numeric, ignored


def _condition(name: str, frame: pd.DataFrame, numeric: list[str]) -> pd.DataFrame:
    out = pd.DataFrame(index=frame.index)
    for column in KEY_COLUMNS[name]:
        if column == "week_start":
            out[column] = _parse_dates(frame[column])
        else:
            out[column] = frame[column].astype(str).str.strip()
    if name == "shipments":
        out["units"] = _parse_numbers(frame["units"]).astype("float64")
        if "returns" in frame:
            out["returns"] = _parse_numbers(frame["returns"]).astype("float64")
    for column in numeric:
        out[column] = _parse_numbers(frame[column]).astype("float64")
    return out.reset_index(drop=True)


def validate_tables(raw: dict[str, pd.DataFrame], settings: ValidateSettings) -> ValidationResult:
    """Check the raw text tables against the contract; return conditioned tables, quarantine and report."""
    stores, store_numeric, store_ignored = _validate_stores(raw["stores"])
    known_stores = set(stores["store_id"])
    conditioned: dict[str, pd.DataFrame] = {"stores": stores}
    numeric_columns: dict[str, list[str]] = {"stores": store_numeric}
    ignored_columns: dict[str, list[str]] = {"stores": store_ignored}
    quarantine_parts = []
    files: dict[str, dict[str, int]] = {
        "stores.csv": {"rows_in": len(stores), "rows_out": len(stores), "quarantined": 0}
    }
    for name in ("shipments", "promotions", "weather", "events"):
        if name not in raw:
            continue
        frame = raw[name].reset_index(drop=True)
        _require_columns(name, frame)
        numeric, ignored = _numeric_extras(name, frame) if name != "events" else ([], [])
        stores_filter = known_stores if name in ("shipments", "promotions") else None
        failures = _first_reason_per_row(_row_failures(name, frame, stores_filter))
        remaining = frame.drop(index=failures["index"].to_numpy()) if not failures.empty else frame
        value_columns = [c for c in ("units", "returns", *numeric) if c in frame.columns]
        failures = pd.concat([failures, _duplicates(name, remaining, value_columns)], ignore_index=True)
        _enforce_budget(name, len(frame), failures, settings)
        kept = frame.drop(index=failures["index"].to_numpy()) if not failures.empty else frame
        conditioned[name] = _condition(name, kept, numeric)
        numeric_columns[name] = numeric
        ignored_columns[name] = ignored
        quarantine_parts.append(_quarantine_rows(name, frame, failures))
        files[f"{name}.csv"] = {"rows_in": len(frame), "rows_out": len(kept), "quarantined": len(failures)}

    quarantine = (
        pd.concat(quarantine_parts, ignore_index=True)
        if quarantine_parts
        else pd.DataFrame(columns=["file", "row", "column", "reason", "value", "original"])
    )
    shipments = conditioned["shipments"]
    if shipments.empty:
        raise DataContractError(
            "shipments.csv", "no usable rows", fix="supply at least one valid shipment row"
        )
    tables = Tables(
        shipments=shipments,
        stores=stores,
        promotions=conditioned.get("promotions"),
        weather=conditioned.get("weather"),
        events=conditioned.get("events"),
        numeric_columns=numeric_columns,
    )
    return ValidationResult(tables, quarantine, quality_report(tables, files, quarantine, ignored_columns))


def count_gaps(shipments: pd.DataFrame) -> int:
    """Missing weeks strictly inside each series' first..last observed week."""
    spans = shipments.groupby(["store_id", "product_id"])["week_start"].agg(["min", "max", "count"])
    expected = (spans["max"] - spans["min"]).dt.days // 7 + 1
    return int((expected - spans["count"]).sum())


def quality_report(
    tables: Tables,
    files: dict[str, dict[str, int]],
    quarantine: pd.DataFrame,
    ignored_columns: dict[str, list[str]],
) -> dict[str, Any]:
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
