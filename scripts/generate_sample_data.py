"""Generate a seeded, realistic synthetic retail panel in the model's input contract.

The panel has what real weekly store x product data has and what a forecaster must survive:
yearly seasonality, weather sensitivity, holiday events, promotions (price cuts, deals, features)
with demand spikes and post-promotion dips, returns, store demographics, fast and slow movers with
intermittent zeros, missing weeks (gaps), store closures and products launched mid-history.

    python scripts/generate_sample_data.py --out data/sample [--regions 14] [--seed 7]
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

FIRST_WEEK = pd.Timestamp("2023-01-02")  # a Monday
# Promotions and weather are known ahead: they cover this many weeks past the last shipment week.
FUTURE_WEEKS = 8
# Gamma-Poisson (negative binomial) shape of the weekly noise around the expected units.
DISPERSION = 8.0
CONTRACT_TABLES = ("shipments", "stores", "promotions", "weather", "events")
EVENTS_BY_WEEK_OF_YEAR = {
    "super_bowl": (6, 0.25),
    "easter": (14, 0.20),
    "memorial_day": (22, 0.15),
    "independence_day": (27, 0.30),
    "labor_day": (36, 0.10),
    "thanksgiving": (47, 0.45),
    "christmas": (51, 0.60),
}


@dataclass(frozen=True)
class PanelShape:
    regions: int
    stores_per_region: int
    products: int
    weeks: int


def _stores(rng: np.random.Generator, shape: PanelShape) -> pd.DataFrame:
    rows = []
    for region in range(shape.regions):
        for number in range(shape.stores_per_region):
            # Both formats in every region; the rest drawn at random.
            store_format = ("large", "small")[number] if number < 2 else rng.choice(["large", "small"])
            large = store_format == "large"
            rows.append(
                {
                    "store_id": f"S{region:03d}{number:02d}",
                    "region": f"R{region:03d}",
                    "store_format": store_format,
                    "population_k": round(float(rng.lognormal(4.0 if large else 3.3, 0.4)), 1),
                    "median_income_k": round(float(rng.normal(62, 12)), 1),
                    "floor_area_m2": int(rng.normal(4500, 800) if large else rng.normal(900, 200)),
                }
            )
    return pd.DataFrame(rows)


def _weather(rng: np.random.Generator, regions: list[str], weeks: pd.DatetimeIndex) -> pd.DataFrame:
    week_of_year = weeks.isocalendar().week.to_numpy().astype(float)
    frames = []
    for region in regions:
        mean_c = rng.uniform(5, 20)
        swing_c = rng.uniform(6, 14)
        temperature = (
            mean_c - swing_c * np.cos(2 * np.pi * (week_of_year - 3) / 52.0) + rng.normal(0, 2.5, len(weeks))
        )
        precipitation = np.clip(rng.gamma(2.0, rng.uniform(5, 15), len(weeks)), 0, None)
        frames.append(
            pd.DataFrame(
                {
                    "week_start": weeks,
                    "region": region,
                    "temperature_c": temperature.round(1),
                    "precipitation_mm": precipitation.round(1),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _events(rng: np.random.Generator, regions: list[str], weeks: pd.DatetimeIndex) -> pd.DataFrame:
    rows = []
    week_of_year = weeks.isocalendar().week.to_numpy()
    for week, woy in zip(weeks, week_of_year, strict=True):
        for name, (event_woy, _) in EVENTS_BY_WEEK_OF_YEAR.items():
            if woy == event_woy:
                rows.append({"week_start": week, "region": "*", "event": name})
    # Local festivals: a region-specific week with a lift only there.
    for region in regions:
        festival_woy = int(rng.integers(10, 45))
        for week, woy in zip(weeks, week_of_year, strict=True):
            if woy == festival_woy:
                rows.append({"week_start": week, "region": region, "event": "local_festival"})
    return pd.DataFrame(rows)


def generate(shape: PanelShape, seed: int) -> dict[str, pd.DataFrame]:
    """Return the five contract tables for a panel of the given shape, plus "truth": the expected
    units of every series-week before noise (not part of the contract; benchmarks use it to show the
    noise floor no forecaster can beat)."""
    rng = np.random.default_rng(seed)
    all_weeks = pd.date_range(FIRST_WEEK, periods=shape.weeks + FUTURE_WEEKS, freq="7D")
    history_weeks = all_weeks[: shape.weeks]
    stores = _stores(rng, shape)
    regions = sorted(stores["region"].unique())
    weather = _weather(rng, regions, all_weeks)
    events = _events(rng, regions, all_weeks)

    # Products: about 40% fast movers, the rest slow movers with intermittent demand.
    n = shape.products
    fast = rng.random(n) < 0.4
    product_base = np.where(fast, rng.lognormal(3.6, 0.5, n), rng.lognormal(0.3, 0.6, n))
    product_price = rng.uniform(1.5, 12.0, n).round(2)
    season_amplitude = rng.uniform(0.0, 0.5, n)
    season_phase = rng.uniform(0, 52, n)
    temperature_sensitivity = rng.normal(0.0, 0.025, n)
    price_elasticity = rng.uniform(1.5, 3.5, n)
    feature_lift = rng.uniform(0.1, 0.5, n)
    event_sensitivity = rng.uniform(0.3, 1.5, n)
    launch_week = np.where(rng.random(n) < 0.1, rng.integers(20, shape.weeks // 2, n), 0)

    region_weather = {
        region: frame.set_index("week_start") for region, frame in weather.groupby("region", sort=False)
    }
    woy = all_weeks.isocalendar().week.to_numpy()
    event_lift_global = np.zeros(len(all_weeks))
    for name, (event_woy, lift) in EVENTS_BY_WEEK_OF_YEAR.items():
        del name
        event_lift_global[woy == event_woy] += lift
    festival_weeks = {
        region: set(frame["week_start"])
        for region, frame in events[events["region"] != "*"].groupby("region")
    }

    shipments, promotions, truth = [], [], []
    for store in stores.itertuples(index=False):
        store_scale = (1.8 if store.store_format == "large" else 0.6) * (store.population_k / 40.0) ** 0.3
        carried = rng.random(n) < 0.75
        temps = region_weather[store.region]["temperature_c"].to_numpy()
        festival = np.array([week in festival_weeks.get(store.region, set()) for week in all_weeks])
        closure_start = int(rng.integers(10, shape.weeks - 10)) if rng.random() < 0.15 else -1
        for product in np.flatnonzero(carried):
            t = np.arange(len(all_weeks))
            on_deal = (rng.random(len(all_weeks)) < 0.10).astype(int)
            discount = np.where(on_deal == 1, rng.uniform(0.10, 0.40, len(all_weeks)), 0.0)
            featured = ((rng.random(len(all_weeks)) < 0.5) & (on_deal == 1)).astype(int)
            regular_price = product_price[product] * rng.uniform(0.9, 1.1)
            price = (regular_price * (1 - discount) * rng.normal(1, 0.01, len(all_weeks))).round(2)
            seasonal = 1 + season_amplitude[product] * np.sin(2 * np.pi * (t - season_phase[product]) / 52.18)
            weather_effect = np.exp(temperature_sensitivity[product] * (temps - 15))
            promo_effect = np.exp(price_elasticity[product] * discount) * (
                1 + feature_lift[product] * featured
            )
            # Pantry loading: the week after a deal sells less.
            post_promo_dip = 1 - 0.2 * np.concatenate([[0], on_deal[:-1]])
            event_effect = 1 + event_sensitivity[product] * (event_lift_global + 0.3 * festival)
            trend = 1 + rng.normal(0, 0.002) * t
            mean_units = (
                product_base[product]
                * store_scale
                * seasonal
                * weather_effect
                * promo_effect
                * post_promo_dip
                * event_effect
                * np.clip(trend, 0.3, None)
            )
            # Negative binomial noise (gamma-Poisson): overdispersed, with zeros for slow movers.
            units = rng.poisson(rng.gamma(DISPERSION, mean_units / DISPERSION))[: shape.weeks]
            observed = rng.random(shape.weeks) > 0.03  # random missing weeks
            observed &= np.arange(shape.weeks) >= launch_week[product]
            if closure_start >= 0:
                observed[closure_start : closure_start + int(rng.integers(2, 5))] = False
            returns = rng.binomial(units, 0.02)
            truth.append(
                pd.DataFrame(
                    {
                        "week_start": history_weeks,
                        "store_id": store.store_id,
                        "product_id": f"P{product:03d}",
                        "expected_units": mean_units[: shape.weeks],
                    }
                )
            )
            keep = np.flatnonzero(observed)
            product_id = f"P{product:03d}"
            shipments.append(
                pd.DataFrame(
                    {
                        "week_start": history_weeks[keep],
                        "store_id": store.store_id,
                        "product_id": product_id,
                        "units": units[keep],
                        "returns": returns[keep],
                    }
                )
            )
            covered = t >= launch_week[product]
            promotions.append(
                pd.DataFrame(
                    {
                        "week_start": all_weeks[covered],
                        "store_id": store.store_id,
                        "product_id": product_id,
                        "price": price[covered],
                        "on_deal": on_deal[covered],
                        "featured": featured[covered],
                    }
                )
            )
    return {
        "shipments": pd.concat(shipments, ignore_index=True),
        "stores": stores,
        "promotions": pd.concat(promotions, ignore_index=True),
        "weather": weather,
        "events": events,
        "truth": pd.concat(truth, ignore_index=True),
    }


def write(tables: dict[str, pd.DataFrame], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in CONTRACT_TABLES:
        frame = tables[name].copy()
        if "week_start" in frame:
            frame["week_start"] = pd.to_datetime(frame["week_start"]).dt.strftime("%Y-%m-%d")
        frame.to_csv(out / f"{name}.csv", index=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="folder to write the five CSV files into")
    parser.add_argument("--regions", type=int, default=14, help="number of regions (scales the panel)")
    parser.add_argument("--stores-per-region", type=int, default=3)
    parser.add_argument("--products", type=int, default=14)
    parser.add_argument("--weeks", type=int, default=104, help="weeks of shipment history")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if args.regions < 1 or args.stores_per_region < 2 or args.products < 1 or args.weeks < 30:
        print(
            "generate_sample_data: need --regions >= 1, --stores-per-region >= 2 (both formats), "
            "--products >= 1 and --weeks >= 30",
            file=sys.stderr,
        )
        return 2
    shape = PanelShape(args.regions, args.stores_per_region, args.products, args.weeks)
    tables = generate(shape, args.seed)
    write(tables, args.out)
    print(
        f"wrote {len(tables['shipments'])} shipment rows for "
        f"{tables['shipments'].groupby(['store_id', 'product_id']).ngroups} series to {args.out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
