"""Features from the past only: a dense series x week panel and vectorised lag/rolling statistics.

Target transform. The models predict r = log1p(units_t / u) - level_t, where u is the panel's
counting unit (`unit_scale`: the 0.1% quantile of the positive units at training, 1 for a count
panel) and level_t is the mean of log1p(units / u) over the series' observed weeks in the 13 weeks
before t (52, then all history, when those are empty). Working in log space tames promotion spikes
and the scale gap between fast and slow movers; subtracting the level makes every series look
alike, so one model serves a segment. Forecast = u * max(expm1(level_t + r_hat), 0).

Why the unit: log1p is not scale-free. Units in thousandths (x1e-4) make log1p(units) ~ units, a
linear target with no log compression, and units in billions push expm1 beyond the network's clamp;
dividing by a unit measured on the data itself (a quantile scales with the data) makes every
feature, target and forecast exactly the same up to the factor, whatever the unit of `units`.

Gaps. A missing week is NaN in the panel, never 0: rolling means divide by the number of observed
weeks, a missing lag falls back to the level (difference 0) with a "missing" flag, and a gap week is
never a training target.

Covariates (promotions, weather, events, calendar) are known in advance, so their values at t are
used; everything derived from units uses weeks strictly before t. A missing promotion value is the
last known one for strictly positive columns (prices) and 0 for the rest (flags: no promotion).

The covariates a model was trained with, and how each is filled when a value is missing, are
recorded in its FeatureSpec (`FeatureSpec.covariates`, stored in model.json). `check_covariates`
compares scoring data with that record: a covariate whose file or column is absent (or a file
with no rows) is an error naming it, unless the record documents a fallback (events: none that
week; returns: 0); such inputs are "assumed" and reported on every forecast row.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from demand_forecast.dataset import Tables
from demand_forecast.errors import DataContractError

FloatArray = npt.NDArray[np.float64]
LAGS = (1, 2, 3, 4)
CATEGORICALS = ("store_id", "product_id", "region", "store_format", "segment")


@dataclass(frozen=True)
class Covariate:
    """One recorded input: `fill` applies to a missing value; `fallback`, when set, to a missing
    file or column (the input is then assumed, and said so); without one that is an error."""

    file: str
    column: str
    fill: str
    fallback: str | None = None


@dataclass(frozen=True)
class FeatureSpec:
    """Which covariate columns the model uses; fixed at training time and stored with the model."""

    promo_columns: tuple[str, ...]
    positive_promo_columns: tuple[str, ...]
    weather_columns: tuple[str, ...]
    store_columns: tuple[str, ...]
    event_names: tuple[str, ...]
    has_returns: bool
    unit_scale: float = 1.0  # the counting unit u of the target transform (module docstring)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        out["covariates"] = [asdict(c) for c in self.covariates()]
        return out

    def covariates(self) -> list[Covariate]:
        """Every input column the model reads besides units, with its fill rule and fallback."""
        out = [
            Covariate(
                "promotions.csv",
                column,
                "last known value of the series (then the next known)"
                if column in self.positive_promo_columns
                else "0 (no promotion)",
            )
            for column in self.promo_columns
        ]
        out += [
            Covariate("weather.csv", column, "last known value of the region (then the next known)")
            for column in self.weather_columns
        ]
        out += [Covariate("stores.csv", column, "median over the stores") for column in self.store_columns]
        if self.event_names:
            out.append(Covariate("events.csv", "event", "no event", fallback="no events in any week"))
        if self.has_returns:
            out.append(Covariate("shipments.csv", "returns", "0", fallback="no returns"))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        return cls(
            promo_columns=tuple(data["promo_columns"]),
            positive_promo_columns=tuple(data["positive_promo_columns"]),
            weather_columns=tuple(data["weather_columns"]),
            store_columns=tuple(data["store_columns"]),
            event_names=tuple(data["event_names"]),
            has_returns=bool(data["has_returns"]),
            # Models saved before the unit existed worked on raw units.
            unit_scale=float(data.get("unit_scale", 1.0)),
        )


UNIT_QUANTILE = 0.001


def unit_scale(units: FloatArray) -> float:
    """The panel's counting unit: the `UNIT_QUANTILE` quantile of its positive, finite units (1.0 for a
    count panel; 1e-4 for the same panel in ten-thousandths); 1.0 when nothing was ever sold.

    A quantile is positively homogeneous (scaling the data scales it), so units / unit_scale, and
    with it every model input and output, does not depend on the unit `units` is given in."""
    positive = units[np.isfinite(units) & (units > 0)]
    if not len(positive):
        return 1.0
    return float(np.quantile(positive, UNIT_QUANTILE))


def make_spec(tables: Tables, max_event_features: int) -> FeatureSpec:
    promo = tuple(tables.numeric_columns.get("promotions", [])) if tables.promotions is not None else ()
    positive = tuple(
        c for c in promo if tables.promotions is not None and bool((tables.promotions[c].dropna() > 0).all())
    )
    weather = tuple(tables.numeric_columns.get("weather", [])) if tables.weather is not None else ()
    events: tuple[str, ...] = ()
    if tables.events is not None and max_event_features > 0:
        counts = tables.events["event"].value_counts()
        events = tuple(sorted(counts.index[:max_event_features].astype(str)))
    return FeatureSpec(
        unit_scale=unit_scale(tables.shipments["units"].to_numpy(dtype=np.float64)),
        promo_columns=promo,
        positive_promo_columns=positive,
        weather_columns=weather,
        store_columns=tuple(tables.numeric_columns.get("stores", [])),
        event_names=events,
        has_returns="returns" in tables.shipments.columns,
    )


@dataclass(frozen=True)
class Panel:
    """Series x week arrays; `series` rows align with the arrays' first axis."""

    series: pd.DataFrame  # store_id, product_id, region, store_format
    weeks: pd.DatetimeIndex
    units: FloatArray
    returns: FloatArray | None
    covariates: dict[str, FloatArray]  # known-in-advance columns, already mapped onto series
    store_numeric: FloatArray
    assumed: tuple[str, ...] = ()  # recorded inputs absent from the data, filled by their fallback

    def week_index(self, week: pd.Timestamp) -> int:
        return int((week - self.weeks[0]).days // 7)


def _grid(
    frame: pd.DataFrame, column: str, series_pos: pd.Series, week0: pd.Timestamp, shape: tuple[int, int]
) -> FloatArray:
    out = np.full(shape, np.nan)
    keys = pd.MultiIndex.from_frame(frame[["store_id", "product_id"]])
    rows = series_pos.reindex(keys).to_numpy()
    cols = ((frame["week_start"] - week0).dt.days // 7).to_numpy()
    ok = ~pd.isna(rows) & (cols >= 0) & (cols < shape[1])
    out[rows[ok].astype(int), cols[ok].astype(int)] = frame[column].to_numpy(dtype=float)[ok]
    return out


def _ffill_bfill(matrix: FloatArray, default: float = 0.0) -> FloatArray:
    frame = pd.DataFrame(matrix.T)
    return np.asarray(frame.ffill().bfill().fillna(default).to_numpy().T, dtype=float)


def check_covariates(tables: Tables, spec: FeatureSpec) -> tuple[str, ...]:
    """Compare `tables` with the covariates recorded in `spec`.

    Returns the inputs assumed by their documented fallback ("events.csv: no events in any week").
    Raises DataContractError (exit 2) naming the file and column of a recorded covariate that the
    data lacks (absent file, header-only file, absent or non-numeric column) and has no fallback:
    filling it silently (a price of 0, no promotions at all) would move every forecast."""
    frames = {
        "promotions.csv": tables.promotions,
        "weather.csv": tables.weather,
        "stores.csv": tables.stores,
        "events.csv": tables.events,
        "shipments.csv": tables.shipments,
    }
    numeric = {f"{name}.csv": set(columns) for name, columns in tables.numeric_columns.items()}
    assumed: list[str] = []
    for covariate in spec.covariates():
        frame = frames[covariate.file]
        if frame is None:
            problem, detail = "missing file", "the file is absent"
        elif frame.empty:
            problem, detail = "no data rows", "the file has a header and no rows"
        elif covariate.column not in frame.columns:
            problem, detail = "missing column", f"found columns: {', '.join(map(str, frame.columns))}"
        elif covariate.file in (
            "promotions.csv",
            "weather.csv",
            "stores.csv",
        ) and covariate.column not in numeric.get(covariate.file, {covariate.column}):
            problem, detail = "missing column", "the column is not numeric here (see ignored_columns)"
        else:
            continue
        if covariate.fallback is not None:
            assumed.append(f"{covariate.file}: {covariate.fallback}")
            continue
        raise DataContractError(
            covariate.file,
            problem,
            column=covariate.column,
            detail=f"{detail}; the model was trained with '{covariate.column}' from {covariate.file} and "
            "has no fallback for it (its missing values are filled with "
            f"{covariate.fill}, a whole missing input is not)",
            fix=f"supply {covariate.file} with '{covariate.column}' for the scored weeks, or train a model "
            "without it",
        )
    return tuple(assumed)


def series_frame(tables: Tables) -> pd.DataFrame:
    """Every series (store_id, product_id) that shipped, with its store's region and store_format,
    sorted by store and product (one row a series, index 0..n-1): the row order of the dense panel."""
    return (
        tables.shipments[["store_id", "product_id"]]
        .drop_duplicates()
        .merge(tables.stores[["store_id", "region", "store_format"]], on="store_id", how="left")
        .sort_values(["store_id", "product_id"])
        .reset_index(drop=True)
    )


def build_panel(tables: Tables, spec: FeatureSpec, until_week: pd.Timestamp | None = None) -> Panel:
    """Lay the tables out as arrays; weeks run from the first shipment to max(last shipment, until_week).

    Raises DataContractError when a covariate the spec records is missing (see `check_covariates`)."""
    assumed = check_covariates(tables, spec)
    shipments = tables.shipments
    week0 = shipments["week_start"].min()
    last = shipments["week_start"].max()
    if until_week is not None and until_week > last:
        last = until_week
    weeks = pd.date_range(week0, last, freq="7D")
    series = series_frame(tables)
    series_pos = pd.Series(
        np.arange(len(series)), index=pd.MultiIndex.from_frame(series[["store_id", "product_id"]])
    )
    shape = (len(series), len(weeks))
    units = _grid(shipments, "units", series_pos, week0, shape)
    returns: FloatArray | None = None
    if spec.has_returns:
        # A model trained with returns still scores data without them (the feature reads as 0).
        has_column = "returns" in shipments.columns
        returns = (
            _grid(shipments, "returns", series_pos, week0, shape) if has_column else np.full(shape, np.nan)
        )

    covariates = _promo_covariates(tables, spec, series_pos, week0, shape)
    covariates |= _region_covariates(tables, spec, series, weeks)
    store_numeric = _store_numeric(tables, spec, series)
    return Panel(series, weeks, units, returns, covariates, store_numeric, assumed)


def _promo_covariates(
    tables: Tables, spec: FeatureSpec, series_pos: pd.Series, week0: pd.Timestamp, shape: tuple[int, int]
) -> dict[str, FloatArray]:
    """`promo:<column>` grids (series x weeks) of every promotion column the spec uses."""
    covariates: dict[str, FloatArray] = {}
    if tables.promotions is None:
        return {f"promo:{column}": np.zeros(shape) for column in spec.promo_columns}
    for column in spec.promo_columns:
        values = (
            _grid(tables.promotions, column, series_pos, week0, shape)
            if column in tables.promotions
            else np.full(shape, np.nan)
        )
        # A missing price carries the last known one; a missing flag or count means "no promotion"
        # (carrying a deal forward would forecast a spike that was never planned).
        covariates[f"promo:{column}"] = (
            _ffill_bfill(values) if column in spec.positive_promo_columns else np.nan_to_num(values, nan=0.0)
        )
    return covariates


def _region_covariates(
    tables: Tables, spec: FeatureSpec, series: pd.DataFrame, weeks: pd.DatetimeIndex
) -> dict[str, FloatArray]:
    """`weather:<column>` and `event:<name>` grids (series x weeks), laid out per region first."""
    week0 = weeks[0]
    covariates: dict[str, FloatArray] = {}
    region_of_series = series["region"].to_numpy()
    regions = pd.Index(sorted(set(region_of_series)))
    region_rows = regions.get_indexer(region_of_series)
    for column in spec.weather_columns:
        grid = np.full((len(regions), len(weeks)), np.nan)
        if tables.weather is not None and column in tables.weather:
            w = tables.weather
            r = regions.get_indexer(w["region"])
            c = ((w["week_start"] - week0).dt.days // 7).to_numpy()
            ok = (r >= 0) & (c >= 0) & (c < len(weeks))
            grid[r[ok], c[ok]] = w[column].to_numpy(dtype=float)[ok]
        grid = _ffill_bfill(grid)
        covariates[f"weather:{column}"] = grid[region_rows]
    for name in spec.event_names:
        grid = np.zeros((len(regions), len(weeks)))
        if tables.events is not None:
            e = tables.events[tables.events["event"] == name]
            c = ((e["week_start"] - week0).dt.days // 7).to_numpy()
            for region, col in zip(e["region"], c, strict=True):
                if 0 <= col < len(weeks):
                    if region == "*":
                        grid[:, col] = 1.0
                    elif region in regions:
                        grid[regions.get_loc(region), col] = 1.0
        covariates[f"event:{name}"] = grid[region_rows]
    return covariates


def _store_numeric(tables: Tables, spec: FeatureSpec, series: pd.DataFrame) -> FloatArray:
    """Numeric store columns per series (series x columns); a missing value takes the column's median."""
    store_numeric = np.zeros((len(series), len(spec.store_columns)))
    if spec.store_columns:
        stores = tables.stores.set_index("store_id")
        for j, column in enumerate(spec.store_columns):
            values = stores[column] if column in stores else pd.Series(dtype=float)
            mapped = series["store_id"].map(values).astype(float)
            store_numeric[:, j] = mapped.fillna(mapped.median() if mapped.notna().any() else 0.0).to_numpy()
    return store_numeric


def _past_sum_count(values: FloatArray, window: int) -> tuple[FloatArray, FloatArray]:
    """Sum and count of observed values over the `window` weeks strictly before each week."""
    observed = ~np.isnan(values)
    filled = np.where(observed, values, 0.0)
    n_series, n_weeks = values.shape
    csum = np.concatenate([np.zeros((n_series, 1)), np.cumsum(filled, axis=1)], axis=1)
    ccount = np.concatenate([np.zeros((n_series, 1)), np.cumsum(observed, axis=1)], axis=1)
    t = np.arange(n_weeks)
    start = np.maximum(t - window, 0)
    return csum[:, t] - csum[:, start], ccount[:, t] - ccount[:, start]


def past_mean(values: FloatArray, window: int) -> FloatArray:
    total, count = _past_sum_count(values, window)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _shift(values: FloatArray, k: int) -> FloatArray:
    """values[:, t - k] at t (NaN before the start); negative k looks ahead."""
    out = np.full_like(values, np.nan)
    if k > 0:
        out[:, k:] = values[:, :-k]
    elif k < 0:
        out[:, :k] = values[:, -k:]
    else:
        out[:] = values
    return out


def level_of(log_units: FloatArray) -> FloatArray:
    level = past_mean(log_units, 13)
    for window in (52, log_units.shape[1]):
        level = np.where(np.isnan(level), past_mean(log_units, window), level)
    return level


def _covariate_features(panel: Panel, spec: FeatureSpec) -> dict[str, FloatArray]:
    """Promotion, weather and event features (series x week), in the panel's covariate order."""
    feats: dict[str, FloatArray] = {}
    for key, values in panel.covariates.items():
        kind, column = key.split(":", 1)
        if kind == "promo":
            recent = np.nan_to_num(past_mean(values, 13), nan=0.0)
            recent = np.where(np.isnan(past_mean(values, 13)), values, recent)
            feats[f"{column}"] = values
            feats[f"{column}_vs_recent"] = values - recent
            feats[f"{column}_prev"] = np.nan_to_num(_shift(values, 1) - values)
            feats[f"{column}_next"] = np.nan_to_num(_shift(values, -1) - values)
            if column in spec.positive_promo_columns:
                with np.errstate(invalid="ignore", divide="ignore"):
                    ratio = np.log(np.clip(values, 1e-9, None)) - np.log(np.clip(recent, 1e-9, None))
                feats[f"{column}_log_ratio"] = np.clip(np.nan_to_num(ratio), -3, 3)
        elif kind == "weather":
            feats[f"{column}"] = values
            feats[f"{column}_vs_recent"] = np.nan_to_num(values - past_mean(values, 4))
        else:  # event
            feats[f"event_{column}"] = values
            feats[f"event_{column}_next"] = np.nan_to_num(_shift(values, -1))
    return feats


def _store_week_mean(panel: Panel, values: FloatArray) -> FloatArray:
    """Each week's mean of `values` over the series of the same store (series x week)."""
    codes, _ = pd.factorize(panel.series["store_id"])
    n_stores = int(codes.max()) + 1 if len(codes) else 0
    sums = np.zeros((n_stores, values.shape[1]))
    np.add.at(sums, codes, values)
    counts = np.bincount(codes, minlength=n_stores).astype(float)[:, None]
    return np.asarray(sums[codes] / np.maximum(counts[codes], 1.0), dtype=np.float64)


def _competition_features(panel: Panel, spec: FeatureSpec) -> dict[str, FloatArray]:
    """Each promotion column against the other products of the same store that week: a price's log
    ratio to the store-week's mean price (a brand cheaper than its shelf neighbours sells more,
    whatever its own price history) and a flag's share over the store's products (a deal next door
    takes volume). Known in advance, as the columns themselves are."""
    feats: dict[str, FloatArray] = {}
    for key, values in panel.covariates.items():
        kind, column = key.split(":", 1)
        if kind != "promo":
            continue
        mean = _store_week_mean(panel, values)
        if column in spec.positive_promo_columns:
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.log(np.clip(values, 1e-9, None)) - np.log(np.clip(mean, 1e-9, None))
            feats[f"{column}_vs_store"] = np.clip(np.nan_to_num(ratio), -3, 3)
        else:
            feats[f"{column}_store_share"] = mean
    return feats


def compute_features(
    panel: Panel, spec: FeatureSpec
) -> tuple[dict[str, npt.NDArray[np.float32]], FloatArray, FloatArray]:
    """Feature arrays (series x week), the level (log1p of units in `spec.unit_scale`) and the
    historical-average baseline (in units)."""
    units = panel.units
    log_units = np.log1p(units / spec.unit_scale)
    level = level_of(log_units)
    base = np.nan_to_num(level)
    feats: dict[str, FloatArray] = {}
    for window in (4, 26, 52):
        feats[f"mean{window}_vs_level"] = np.nan_to_num(past_mean(log_units, window) - base)
    for k in LAGS:
        lag = _shift(log_units, k)
        feats[f"lag{k}_vs_level"] = np.nan_to_num(lag - base)
        if k == 1:
            feats["lag1_missing"] = np.isnan(lag).astype(float)
    seasonal = _shift(past_mean(log_units, 3), 50)  # weeks t-53 .. t-51: last year around this week
    feats["last_year_vs_level"] = np.nan_to_num(seasonal - base)
    feats["last_year_missing"] = np.isnan(seasonal).astype(float)
    total, count = _past_sum_count(log_units, 13)
    sq_total, _ = _past_sum_count(log_units**2, 13)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(count > 1, sq_total / np.maximum(count, 1) - (total / np.maximum(count, 1)) ** 2, 0.0)
    feats["std13"] = np.sqrt(np.clip(var, 0, None))
    feats["observed_share13"] = count / 13.0
    zero = np.where(np.isnan(units), np.nan, (units == 0).astype(float))
    feats["zero_share13"] = np.nan_to_num(past_mean(zero, 13))
    feats["level"] = base
    hist_total, hist_count = _past_sum_count(units, units.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        baseline = np.where(hist_count > 0, hist_total / np.maximum(hist_count, 1), np.nan)
    feats["history_weeks_log"] = np.log1p(hist_count)
    if panel.returns is not None:
        feats["returns_mean13_log"] = np.nan_to_num(past_mean(np.log1p(panel.returns / spec.unit_scale), 13))

    week_of_year = panel.weeks.isocalendar().week.to_numpy().astype(float)
    for harmonic in (1, 2):
        angle = 2 * np.pi * harmonic * week_of_year / 52.18
        feats[f"sin{harmonic}"] = np.broadcast_to(np.sin(angle), units.shape).copy()
        feats[f"cos{harmonic}"] = np.broadcast_to(np.cos(angle), units.shape).copy()

    feats.update(_covariate_features(panel, spec))
    feats.update(_competition_features(panel, spec))
    for j, column in enumerate(spec.store_columns):
        feats[f"store_{column}"] = np.broadcast_to(panel.store_numeric[:, [j]], units.shape).copy()
    # The design matrix is float32 anyway; storing features so halves the panel's memory.
    return {name: values.astype(np.float32) for name, values in feats.items()}, level, baseline


@dataclass(frozen=True)
class Design:
    """Rows (one per series-week) with their feature matrix, ready for the models."""

    rows: pd.DataFrame  # series index, week_start, ids, region, store_format, units, level, baseline
    features: npt.NDArray[np.float32]
    feature_names: tuple[str, ...]


def design_rows(
    panel: Panel,
    feats: dict[str, npt.NDArray[np.float32]],
    level: FloatArray,
    baseline: FloatArray,
    series_idx: npt.NDArray[np.int64],
    week_idx: npt.NDArray[np.int64],
) -> Design:
    names = tuple(sorted(feats))
    matrix = np.empty((len(series_idx), len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        matrix[:, j] = feats[name][series_idx, week_idx]
    meta = panel.series.iloc[series_idx].reset_index(drop=True)
    sold = np.nan_to_num(panel.units, nan=0.0) > 0
    # sold_before[s, t]: some week strictly before t had units > 0.
    sold_before = np.zeros_like(sold)
    sold_before[:, 1:] = np.maximum.accumulate(sold, axis=1)[:, :-1]
    rows = meta.assign(
        series=series_idx,
        week_start=panel.weeks[week_idx],
        units=panel.units[series_idx, week_idx],
        level=level[series_idx, week_idx],
        baseline=baseline[series_idx, week_idx],
        sold_before=sold_before[series_idx, week_idx],
    )
    return Design(rows, np.nan_to_num(matrix, nan=0.0, posinf=0.0, neginf=0.0), names)


def observed_rows(panel: Panel, level: FloatArray) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Every (series, week) with an observed target and some history: the rows models learn from."""
    ok = ~np.isnan(panel.units) & ~np.isnan(level)
    s, t = np.nonzero(ok)
    return s.astype(np.int64), t.astype(np.int64)


def never_sold(rows: pd.DataFrame) -> npt.NDArray[np.bool_]:
    """Rows of series that have never sold before their week (every observed week 0, or no history).

    Such a series is forecast at its level (0 units): the models learn from weeks with sales, and
    their offset would otherwise forecast a product nobody buys at about half a unit a week."""
    if "sold_before" not in rows:
        return np.zeros(len(rows), dtype=bool)
    return np.asarray(~rows["sold_before"].to_numpy(dtype=bool), dtype=bool)
