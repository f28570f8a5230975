"""Model benchmark: train/score wall time, peak memory and holdout accuracy at 14 and 140 regions.

    python benchmarks/bench_model.py [--quick] [--scales 14,70,140] [--json OUT.json]

For each scale it generates a panel (scripts/generate_sample_data.py, same seed), then runs the real
CLI in a child process, exactly as the stacks do: `train` (validate + every segment, no MLflow),
`score` (one week ahead for every active series) and `evaluate` (1-week-ahead forecasts of the 8
held-out weeks). Peak memory is the largest summed RSS of the child's whole process tree (training
workers included), sampled every 50 ms. LightGBM, the bar a user would compare with, is trained on
the same rows, the same features (lags, rolling means, calendar, promotions, weather, events) and
the same ids as categoricals, with the validation window for early stopping, and scored on the same
holdout. `--quick` is a fast look at the cost only: train and score of one small panel (2 regions),
their times and peak memory, with no evaluate, LightGBM or noise floor (a 2-region MAPE says little;
the accuracy benchmark compares ours with the peers on OJ under --quick too). The table's title says
it is the quick size, not the 14 and 140 regions of the full run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psutil
from rich.console import Console
from rich.table import Table

REPO = Path(__file__).resolve().parents[1]
console = Console(width=200)


def _generator() -> Any:
    from sample_generator import load  # benchmarks/ is sys.path[0] when a benchmark runs

    return load()


def run_measured(args: list[str]) -> tuple[float, float]:
    """Run the CLI in a child process; return (wall seconds, peak RSS of its process tree in MiB)."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "demand_forecast", *args], stderr=subprocess.PIPE, text=True
    )
    parent = psutil.Process(child.pid)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
            except psutil.Error:
                pass
            stop.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, stderr = child.communicate()
    wall = time.perf_counter() - started
    stop.set()
    sampler.join()
    if child.returncode != 0:
        raise RuntimeError(f"demand-forecast {' '.join(args)} failed ({child.returncode}):\n{stderr}")
    return wall, peak / 2**20


def lightgbm_mape(data: Path, model_dir: Path) -> dict[str, float | None]:
    """LightGBM on the model's own design rows and holdout, log1p target, early-stopped on validation."""
    import lightgbm
    from demand_forecast.features import design_rows, observed_rows
    from demand_forecast.loading import load_dataset
    from demand_forecast.metrics import mape
    from demand_forecast.training import TrainedModel
    from demand_forecast.training.ensemble import best_offset

    model = TrainedModel.load(model_dir)
    tables = load_dataset(data, model.settings).tables
    panel, feats, level, baseline = model.design(tables)
    s_idx, t_idx = observed_rows(panel, level)
    design = design_rows(panel, feats, level, baseline, s_idx, t_idx)
    rows = design.rows
    weeks = rows["week_start"]
    holdout_start = pd.Timestamp(model.info["holdout"]["start"])
    validation_start = pd.Timestamp(model.info["validation"]["start"])
    ids = pd.DataFrame(
        {c: pd.Categorical(rows[c]) for c in ("store_id", "product_id", "region", "store_format")}
    )
    frame = pd.concat([pd.DataFrame(design.features, columns=list(design.feature_names)), ids], axis=1)
    target = np.log1p(rows["units"].to_numpy())
    fit = (weeks < validation_start).to_numpy()
    val = ((weeks >= validation_start) & (weeks < holdout_start)).to_numpy()
    test = (weeks >= holdout_start).to_numpy()
    params = {
        "objective": "regression",
        "learning_rate": 0.05,
        "num_leaves": 63,
        "min_data_in_leaf": 50,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "seed": 42,
        "num_threads": 2,
        "verbose": -1,
    }
    booster = lightgbm.train(
        params,
        lightgbm.Dataset(frame[fit], target[fit]),
        num_boost_round=2000,
        valid_sets=[lightgbm.Dataset(frame[val], target[val])],
        callbacks=[lightgbm.early_stopping(50, verbose=False)],
    )
    actual = rows["units"].to_numpy()
    log_pred_val = booster.predict(frame[val], num_iteration=booster.best_iteration)
    log_pred_test = booster.predict(frame[test], num_iteration=booster.best_iteration)
    # The same MAPE calibration our models get (one global log offset fitted on validation).
    offset = best_offset(actual[val], np.zeros(int(val.sum())), np.asarray(log_pred_val, dtype=np.float64))
    return {
        "lightgbm": mape(actual[test], np.clip(np.expm1(log_pred_test), 0, None)),
        "lightgbm_calibrated": mape(actual[test], np.clip(np.expm1(log_pred_test + offset), 0, None)),
        "lightgbm_rounds": float(booster.best_iteration),
    }


def noise_floor(tables: dict[str, pd.DataFrame], holdout_start: pd.Timestamp, dispersion: float) -> float:
    """MAPE of an oracle that knows every week's true expected units and the noise distribution and
    forecasts its MAPE-optimal point (the 1/actual-weighted median of the non-zero outcomes). No
    forecaster can expect to beat it on this data."""
    shipments = tables["shipments"].merge(tables["truth"], on=["week_start", "store_id", "product_id"])
    holdout = shipments[(shipments["week_start"] >= holdout_start) & (shipments["units"] > 0)]
    rng = np.random.default_rng(0)
    mean = holdout["expected_units"].to_numpy()[:, None]
    draws = np.sort(rng.poisson(rng.gamma(dispersion, mean / dispersion, (len(mean), 2000))), axis=1)
    weights = np.where(draws > 0, 1.0 / np.maximum(draws, 1), 0.0)
    cumulative = np.cumsum(weights, axis=1)
    median_at = (cumulative >= cumulative[:, -1:] / 2).argmax(axis=1)
    best = draws[np.arange(len(draws)), median_at].astype(float)
    actual = holdout["units"].to_numpy(dtype=float)
    return float(np.mean(np.abs(best - actual) / actual))


def bench_scale(regions: int, work: Path, generator: Any, accuracy: bool = True) -> dict[str, Any]:
    data = work / f"data_{regions}"
    tables = generator.generate(generator.PanelShape(regions, 3, 14, 104), seed=7)
    generator.write(tables, data)
    series = tables["shipments"].groupby(["store_id", "product_id"]).ngroups
    console.print(f"[bold]{regions} regions[/]: {series} series, {len(tables['shipments'])} shipment rows")
    model = work / f"model_{regions}"
    train_s, train_mib = run_measured(["train", "--data", str(data), "--out", str(model), "--no-tracking"])
    console.print(f"  train {train_s:.1f}s, peak {train_mib:.0f} MiB")
    score_s, score_mib = run_measured(
        ["score", "--model", str(model), "--data", str(data), "--out", str(work / f"s{regions}")]
    )
    console.print(f"  score {score_s:.1f}s, peak {score_mib:.0f} MiB")
    cost = {
        "regions": regions,
        "series": series,
        "shipment_rows": len(tables["shipments"]),
        "train_s": round(train_s, 1),
        "train_peak_mib": round(train_mib),
        "score_s": round(score_s, 1),
        "score_peak_mib": round(score_mib),
    }
    if not accuracy:
        return cost
    return cost | _accuracy(regions, work, generator, tables, data, model)


def _accuracy(
    regions: int, work: Path, generator: Any, tables: dict[str, pd.DataFrame], data: Path, model: Path
) -> dict[str, Any]:
    """evaluate's holdout MAPEs beside LightGBM's and the noise floor (the full run only)."""
    run_measured(["evaluate", "--model", str(model), "--data", str(data), "--out", str(work / f"e{regions}")])
    metrics = json.loads((work / f"e{regions}" / "metrics.json").read_text())
    overall = metrics["overall"]
    gbm = lightgbm_mape(data, model)
    floor = noise_floor(tables, pd.Timestamp(metrics["holdout"]["start"]), generator.DISPERSION)
    info = json.loads((model / "model_info.json").read_text())
    baseline = overall["baseline"]["mape"]
    ensemble = overall["ensemble"]["mape"]
    return {
        "segments": len(info["segments"]),
        "mape": {name: overall[name]["mape"] for name in ("baseline", "lasso", "nn", "ensemble")}
        | {k: v for k, v in gbm.items() if k.startswith("lightgbm") and k != "lightgbm_rounds"}
        | {"noise_floor": floor},
        "ensemble_cut_vs_baseline": round(1 - ensemble / baseline, 3),
        "rmse": {name: overall[name]["rmse"] for name in ("baseline", "lasso", "nn", "ensemble")},
        "segments_meeting_target": f"{metrics['segments_meeting_target']}/{metrics['segments_total']}",
        "holdout": metrics["holdout"],
    }


QUICK_REGIONS = 2


def plan(quick: bool, scales: str = "14,140") -> list[int]:
    """The panel sizes (regions) one run trains, scores and evaluates: one small panel with --quick."""
    return [QUICK_REGIONS] if quick else [int(s) for s in scales.split(",")]


def render(results: list[dict[str, Any]], quick: bool = False) -> None:
    title = "demand_forecast: train/score cost and 1-week-ahead holdout MAPE (8 weeks)"
    if quick:
        title += f" [--quick: {QUICK_REGIONS} regions, not the full run's sizes]"
    table = Table(title=title)
    for column in (
        "regions",
        "series",
        "train s",
        "train MiB",
        "score s",
        "score MiB",
        "baseline",
        "lasso",
        "nn",
        "ensemble",
        "lightgbm",
        "lgbm+calib",
        "noise floor",
        "cut vs baseline",
        "floor's cut",
        "segments <= 0.45",
    ):
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            str(r["regions"]),
            str(r["series"]),
            f"{r['train_s']}",
            f"{r['train_peak_mib']}",
            f"{r['score_s']}",
            f"{r['score_peak_mib']}",
            *_accuracy_cells(r),
        )
    console.print(table)
    if quick:
        console.print(
            '--quick: cost only (no evaluate, LightGBM or noise floor: `make bench ARGS="--only model"`)'
        )
    else:
        console.print(
            "noise floor: MAPE of an oracle that knows the generator's expected units and forecasts the "
            "MAPE-optimal point; floor's cut: the largest cut against the baseline any model can expect"
        )
    if len(results) > 1:
        first, last = results[0], results[-1]
        growth = last["regions"] / first["regions"]
        console.print(
            f"scaling {first['regions']} -> {last['regions']} regions (x{growth:.0f}): train time "
            f"x{last['train_s'] / first['train_s']:.1f}, "
            f"train memory x{last['train_peak_mib'] / first['train_peak_mib']:.1f}, "
            f"score time x{last['score_s'] / first['score_s']:.1f}"
        )


ACCURACY_KEYS = ("baseline", "lasso", "nn", "ensemble", "lightgbm", "lightgbm_calibrated", "noise_floor")


def _accuracy_cells(r: dict[str, Any]) -> list[str]:
    """The MAPE columns of one row; dashes where the run measured cost only (--quick)."""
    if "mape" not in r:
        return ["-"] * (len(ACCURACY_KEYS) + 3)
    m = r["mape"]
    return [
        *(f"{m[k]:.3f}" for k in ACCURACY_KEYS),
        f"{r['ensemble_cut_vs_baseline']:.1%}",
        f"{1 - m['noise_floor'] / m['baseline']:.1%}",
        r["segments_meeting_target"],
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REGIONS} regions only")
    parser.add_argument("--scales", default="14,140", help="comma-separated region counts")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    scales = plan(args.quick, args.scales)
    generator = _generator()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench_model_") as tmp:
        for regions in scales:
            results.append(bench_scale(regions, Path(tmp), generator, accuracy=not args.quick))
    render(results, quick=args.quick)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
