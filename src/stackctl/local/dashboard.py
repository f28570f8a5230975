"""The monitoring dashboard: one self-contained HTML file (figures inlined as base64 PNG)."""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and CI
import matplotlib.pyplot as plt
import pandas as pd
from demand_forecast.contracts import DataQuality, Metrics, Monitoring
from matplotlib.figure import Figure

UNITS_COLUMNS = ("units", "units_shipped", "shipped_units", "shipments", "quantity", "qty")
MODELS_IN_ORDER = ("baseline", "lasso", "nn", "ensemble", "champion")


@dataclass(frozen=True)
class DashboardInputs:
    metrics: Metrics
    health: Monitoring
    data_quality: DataQuality
    forecasts_csv: Path
    conditioned: Path
    champion_version: str | None
    target_mape: float
    series_to_plot: int


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _mape_figure(metrics: Metrics, target: float) -> str:
    overall = metrics.overall.by_model()
    names, values = [], []
    for name in MODELS_IN_ORDER:
        scores = overall.get(name)
        if scores is not None and scores.mape is not None:
            names.append(name)
            values.append(scores.mape)
    segments = [(s.segment, s.mape) for s in metrics.segments if s.model == "ensemble" and s.mape is not None]
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [1, 2]})
    colours = ["#2e7d32" if v <= target else "#c62828" for v in values]
    axes[0].bar(names, values, color=colours)
    axes[0].set_title("Holdout MAPE by model (overall)")
    seg_names = [name for name, _ in segments]
    seg_values = [value for _, value in segments]
    axes[1].bar(
        range(len(seg_values)),
        seg_values,
        color=["#2e7d32" if v <= target else "#c62828" for v in seg_values],
    )
    axes[1].set_xticks(range(len(seg_names)), seg_names, rotation=60, ha="right", fontsize=7)
    axes[1].set_title("Ensemble MAPE by segment")
    for ax in axes:
        ax.axhline(target, color="black", linestyle="--", linewidth=1, label=f"target {target:.2f}")
        ax.legend(loc="upper right", fontsize=8)
    return _png(fig)


def _read_table(folder: Path, stem: str) -> pd.DataFrame | None:
    for suffix, reader in ((".parquet", pd.read_parquet), (".csv", pd.read_csv)):
        path = folder / f"{stem}{suffix}"
        if path.exists():
            return reader(path)
    return None


def _series_figure(inputs: DashboardInputs) -> str | None:
    shipments = _read_table(inputs.conditioned, "shipments")
    if shipments is None or not inputs.forecasts_csv.exists():
        return None
    units = next((c for c in UNITS_COLUMNS if c in shipments.columns), None)
    keys = ["store_id", "product_id"]
    if units is None or "week_start" not in shipments.columns or not set(keys) <= set(shipments.columns):
        return None
    forecasts = pd.read_csv(inputs.forecasts_csv)
    if forecasts.empty:
        return None
    shipments["week_start"] = pd.to_datetime(shipments["week_start"])
    forecasts["week_start"] = pd.to_datetime(forecasts["week_start"])
    # The busiest series are the ones people look at first.
    volume = shipments.groupby(keys)[units].sum().sort_values(ascending=False)
    chosen = [key for key in volume.index if key in set(map(tuple, forecasts[keys].to_numpy()))]
    chosen = chosen[: inputs.series_to_plot]
    if not chosen:
        return None
    fig, axes = plt.subplots(len(chosen), 1, figsize=(12, 2.4 * len(chosen)), squeeze=False)
    for ax, (store, product) in zip(axes[:, 0], chosen, strict=True):
        history = shipments[(shipments.store_id == store) & (shipments.product_id == product)].sort_values(
            "week_start"
        )
        ahead = forecasts[(forecasts.store_id == store) & (forecasts.product_id == product)].sort_values(
            "week_start"
        )
        history = history[history.week_start >= history.week_start.max() - pd.Timedelta(weeks=52)]
        ax.plot(history.week_start, history[units], label="actual", color="#37474f")
        ax.plot(ahead.week_start, ahead.forecast_units, marker="o", label="forecast", color="#1565c0")
        ax.set_title(f"store {store} / product {product}", fontsize=9)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def _staleness_figure(health: Monitoring) -> str:
    age = float(health.age_days)
    limit = float(health.stale_after_days)
    fig, ax = plt.subplots(figsize=(6, 1.6))
    ax.barh(["model age"], [age], color="#c62828" if health.stale else "#2e7d32")
    ax.axvline(limit, color="black", linestyle="--", label=f"stale after {limit:.0f} days")
    ax.set_xlim(0, max(age, limit) * 1.2 + 1)
    ax.set_xlabel("days since training")
    ax.legend(loc="lower right", fontsize=8)
    return _png(fig)


def _quality_figure(quality: DataQuality) -> str:
    files = quality.files
    names = sorted(files)
    fig, ax = plt.subplots(figsize=(8, 2.8))
    positions = range(len(names))
    ax.bar([p - 0.2 for p in positions], [files[n].rows_out for n in names], width=0.4, label="kept")
    ax.bar(
        [p + 0.2 for p in positions],
        [files[n].quarantined for n in names],
        width=0.4,
        label="quarantined",
        color="#c62828",
    )
    ax.set_xticks(list(positions), names, fontsize=8)
    ax.set_yscale("symlog")
    ax.legend(fontsize=8)
    ax.set_title("Rows kept and quarantined by file")
    return _png(fig)


def _table(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{cells}</table>"


def render_dashboard(inputs: DashboardInputs, out: Path) -> Path:
    metrics, health, quality = inputs.metrics, inputs.health, inputs.data_quality
    ensemble = metrics.overall.ensemble.mape
    reasons = quality.quarantined_by_reason
    summary = _table(
        [
            ("champion version", str(inputs.champion_version or "none")),
            ("model scored", health.model_version),
            (
                "ensemble holdout MAPE",
                "n/a" if ensemble is None else f"{ensemble:.3f} (target {inputs.target_mape})",
            ),
            ("holdout", f"{metrics.holdout.start} to {metrics.holdout.end}"),
            ("as of", health.as_of),
            ("model age", f"{health.age_days} days" + (" (STALE)" if health.stale else "")),
            ("drift alert", "yes" if health.drift_alert else "no"),
            (
                "recent MAPE",
                "n/a (no actuals yet)"
                if health.recent_mape is None
                else f"{health.recent_mape:.3f} over {health.recent_weeks} weeks",
            ),
            ("series / weeks", f"{quality.series} / {quality.weeks}"),
            ("quarantined rows", ", ".join(f"{k}: {v}" for k, v in reasons.items()) or "none"),
        ]
    )
    sections = [
        ("Accuracy", _mape_figure(metrics, inputs.target_mape)),
        ("Actual and forecast", _series_figure(inputs)),
        ("Staleness", _staleness_figure(health)),
        ("Data quality", _quality_figure(quality)),
    ]
    figures = "".join(
        f"<h2>{title}</h2>"
        + (
            f'<img alt="{title}" src="data:image/png;base64,{png}">'
            if png
            else "<p>no data for this plot</p>"
        )
        for title, png in sections
    )
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>demand-forecast monitoring</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}img{{max-width:100%}}
table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:4px 10px;text-align:left}}</style>
</head><body><h1>demand-forecast monitoring</h1><p>generated {generated}</p>{summary}{figures}</body></html>
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
