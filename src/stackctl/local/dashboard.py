"""The monitoring dashboard, read from the reporting database as Power BI reads Azure SQL's views.

One self-contained HTML file: plotly's charts with plotly.js inlined once (no network needed to open
it). Sections: the last runs' status (failed ones first), MAPE per model version over time (one point
per training run), MAPE per segment with readable labels, forecasts against actuals over the backtest
weeks and the weeks ahead, model age against the staleness limit, step durations of the last runs,
and data-quality counts. It is rendered after every apply, a failed one included.

Every MAPE shown names the weeks it was measured on (a candidate's holdout, the champion scored on
that same holdout, or the recent weeks of a scoring run) and stands beside the WAPE and volume bias
of the same rows (`demand_forecast.metrics`): MAPE alone rewards forecasting low.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
import sqlalchemy as sa
from plotly.subplots import make_subplots

from stackctl.local.reporting import read_view

MODEL_COLOURS = {
    "baseline": "#9e9e9e",
    "lasso": "#6a1b9a",
    "nn": "#ef6c00",
    "ensemble": "#1565c0",
    "champion": "#2e7d32",
}
GOOD, BAD = "#2e7d32", "#c62828"
LAST_RUNS = 6


@dataclass(frozen=True)
class DashboardInputs:
    reporting_db: Path
    target_mape: float
    series_to_plot: int
    stale_after_days: int
    quarantine_file: Path | None = None


@dataclass(frozen=True)
class _Views:
    runs: pd.DataFrame
    metrics: pd.DataFrame
    health: pd.DataFrame
    backtest: pd.DataFrame
    forecasts: pd.DataFrame
    steps: pd.DataFrame
    quality: pd.DataFrame


def _read(engine: sa.Engine) -> _Views:
    return _Views(
        runs=read_view(engine, "v_pipeline_runs", "finished_at DESC"),
        metrics=read_view(engine, "v_model_metrics", "run_finished_at"),
        health=read_view(engine, "v_model_health", "as_of"),
        backtest=read_view(engine, "v_backtest", "week_start"),
        forecasts=read_view(engine, "v_forecasts", "week_start"),
        steps=read_view(engine, "v_step_runs", "started_at"),
        quality=read_view(engine, "v_data_quality", "run_finished_at"),
    )


def _layout(fig: go.Figure, title: str, height: int = 380) -> go.Figure:
    fig.update_layout(
        title=title,
        height=height,
        margin={"l": 60, "r": 20, "t": 50, "b": 50},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.2},
    )
    return fig


def _latest_run(runs: pd.DataFrame, pipeline: str) -> str | None:
    done = runs[(runs.pipeline == pipeline) & (runs.status == "succeeded")]
    return None if done.empty else str(done.sort_values("finished_at").iloc[-1].run_id)


def _mape_over_time(views: _Views, target: float) -> go.Figure | None:
    overall = views.metrics[(views.metrics.segment == "overall") & views.metrics.mape.notna()]
    if overall.empty:
        return None
    fig = go.Figure()
    for model in [m for m in MODEL_COLOURS if m in set(overall.model)]:
        rows = overall[overall.model == model]
        fig.add_trace(
            go.Scatter(
                x=pd.to_datetime(rows.run_finished_at),
                y=rows.mape,
                mode="lines+markers",
                name=model,
                line={"color": MODEL_COLOURS[model]},
                text=[_window_text(r) for r in rows.itertuples()],
                hovertemplate="%{text}<br>%{x}<br>MAPE %{y:.3f}<extra>" + model + "</extra>",
            )
        )
    fig.add_hline(y=target, line_dash="dash", annotation_text=f"target {target:.2f}")
    fig.update_yaxes(title="holdout MAPE")
    fig.update_xaxes(title="training run", tickformat="%Y-%m-%d %H:%M")
    return _layout(
        fig,
        "Holdout MAPE per training run: each point on that run's candidate holdout weeks "
        "(the champion scored on the same weeks)",
    )


def _window_text(row: Any) -> str:
    """`model v... | holdout 2024-01-01..2024-02-19 | WAPE 0.41 | bias -12.0%` for a metrics row."""
    window = f"holdout {_cell(row.holdout_start)}..{_cell(row.holdout_end)}"
    return f"model {_cell(row.model_version)} | {window} | WAPE {_fmt(row.wape)} | bias {_pct(row.bias)}"


def _fmt(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):.3f}"


def _pct(value: Any) -> str:
    return "n/a" if value is None or pd.isna(value) else f"{float(value):+.1%}"


def _mape_by_segment(views: _Views, target: float) -> go.Figure | None:
    latest = _latest_run(views.runs, "training")
    rows = views.metrics[
        (views.metrics.run_id == latest) & (views.metrics.segment != "overall") & views.metrics.mape.notna()
    ]
    rows = rows[rows.model == "ensemble"].sort_values("mape")
    if rows.empty:
        return None
    fig = go.Figure(
        go.Bar(
            x=rows.mape,
            y=rows.segment_label,
            orientation="h",
            marker_color=[GOOD if v <= target else BAD for v in rows.mape],
            text=[f"WAPE {_fmt(w)} | bias {_pct(b)}" for w, b in zip(rows.wape, rows.bias, strict=True)],
            hovertemplate="%{y}<br>MAPE %{x:.3f}<br>%{text}<extra></extra>",
        )
    )
    fig.add_vline(x=target, line_dash="dash", annotation_text=f"target {target:.2f}")
    fig.update_xaxes(title="ensemble holdout MAPE")
    first = rows.iloc[0]
    window = f"candidate holdout {_cell(first.holdout_start)}..{_cell(first.holdout_end)}"
    return _layout(
        fig,
        f"Ensemble MAPE by segment (model {first.model_version}, {window})",
        height=max(320, 24 * len(rows) + 120),
    )


def _accuracy_table(views: _Views) -> str:
    """MAPE, WAPE and bias of each model of the latest training run, overall, with their window."""
    latest = _latest_run(views.runs, "training")
    rows = views.metrics[(views.metrics.run_id == latest) & (views.metrics.segment == "overall")]
    if rows.empty:
        return "<p>no training run recorded yet</p>"
    body = []
    for row in rows.itertuples():
        scored = "the champion, scored on the candidate's holdout" if row.model == "champion" else "candidate"
        body.append(
            f"<tr><td>{_cell(row.model)}</td><td>{scored}</td>"
            f"<td>{_cell(row.holdout_start)}..{_cell(row.holdout_end)}</td><td>{_fmt(row.mape)}</td>"
            f"<td>{_fmt(row.wape)}</td><td>{_pct(row.bias)}</td><td>{_cell(row.n)}</td></tr>"
        )
    head = (
        "<tr><th>model</th><th>what</th><th>weeks</th><th>MAPE</th><th>WAPE</th>"
        "<th>bias (sum forecast / sum actual - 1)</th><th>rows</th></tr>"
    )
    return f"<table>{head}{''.join(body)}</table>"


def _add_series_panel(fig: go.Figure, row: int, past: pd.DataFrame, future: pd.DataFrame) -> None:
    """Actuals, backtest forecasts and forecasts ahead of one panel (weekly totals); legend on row 1."""
    weekly = past.groupby("week_start")[["actual_units", "forecast_units"]].sum().reset_index()
    future_weekly = future.groupby("week_start").forecast_units.sum().reset_index()
    first = row == 1
    fig.add_trace(
        go.Scatter(
            x=weekly.week_start,
            y=weekly.actual_units,
            name="actual",
            mode="lines+markers",
            line={"color": "#37474f"},
            showlegend=first,
            legendgroup="actual",
        ),
        row=row,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=weekly.week_start,
            y=weekly.forecast_units,
            name="forecast (backtest)",
            mode="lines+markers",
            line={"color": "#1565c0", "dash": "dot"},
            showlegend=first,
            legendgroup="backtest",
        ),
        row=row,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=future_weekly.week_start,
            y=future_weekly.forecast_units,
            name="forecast (ahead)",
            mode="markers",
            marker={"color": "#1565c0", "size": 10, "symbol": "diamond"},
            showlegend=first,
            legendgroup="ahead",
        ),
        row=row,
        col=1,
    )


def one_row_per_series_week(backtest: pd.DataFrame, run_ids: list[str | None]) -> pd.DataFrame:
    """The backtest rows of `run_ids`, one per (store, product, week): where runs overlap (the
    training holdout and the scoring run's recent weeks cover the same weeks), the first run in
    `run_ids` that has the row wins. Summing both would count the week's actuals twice."""
    runs = [run for run in run_ids if run is not None]
    rows = backtest[backtest.run_id.isin(runs)].copy()
    rows["_rank"] = rows.run_id.map({run: rank for rank, run in enumerate(runs)})
    rows = rows.sort_values("_rank", kind="stable")
    rows = rows.drop_duplicates(subset=["store_id", "product_id", "week_start"], keep="first")
    return rows.drop(columns="_rank").sort_values("week_start", kind="stable")


def _actual_vs_forecast(views: _Views, series_to_plot: int) -> go.Figure | None:
    training, scoring = _latest_run(views.runs, "training"), _latest_run(views.runs, "scoring")
    # The scoring run's forecasts are the ones issued most recently: they win where both cover a week.
    backtest = one_row_per_series_week(views.backtest, [scoring, training])
    if backtest.empty and views.forecasts.empty:
        return None
    backtest["week_start"] = pd.to_datetime(backtest.week_start)
    ahead = views.forecasts.assign(week_start=pd.to_datetime(views.forecasts.week_start))
    volume = backtest.groupby(["store_id", "product_id"]).actual_units.sum().sort_values(ascending=False)
    busiest = list(volume.index[:series_to_plot])
    titles = ["all series (total units)"] + [f"store {s} / product {p}" for s, p in busiest]
    fig = make_subplots(rows=len(titles), cols=1, subplot_titles=titles, vertical_spacing=0.08)
    panels: list[tuple[pd.DataFrame, pd.DataFrame]] = [(backtest, ahead)]
    for store, product in busiest:
        panels.append(
            (
                backtest[(backtest.store_id == store) & (backtest.product_id == product)],
                ahead[(ahead.store_id == store) & (ahead.product_id == product)],
            )
        )
    for row, (past, future) in enumerate(panels, start=1):
        _add_series_panel(fig, row, past, future)
    return _layout(
        fig,
        "Forecasts against actuals: holdout and recent weeks, and the weeks ahead",
        height=260 * len(titles) + 80,
    )


def _staleness(views: _Views, stale_after_days: int) -> go.Figure | None:
    health = views.health.dropna(subset=["age_days"])
    if health.empty:
        return None
    limit = (
        float(health.stale_after_days.dropna().iloc[-1])
        if health.stale_after_days.notna().any()
        else float(stale_after_days)
    )
    fig = go.Figure(
        go.Scatter(
            x=pd.to_datetime(health.as_of),
            y=health.age_days,
            mode="lines+markers",
            name="model age",
            marker={"color": [BAD if s else GOOD for s in health.stale], "size": 10},
            text=health.model_version,
            hovertemplate="%{text}<br>as of %{x}<br>%{y} days<extra></extra>",
        )
    )
    fig.add_hline(y=limit, line_dash="dash", line_color=BAD, annotation_text=f"stale after {limit:.0f} days")
    fig.update_yaxes(title="days since training", rangemode="tozero")
    fig.update_xaxes(title="scored as of", tickformat="%Y-%m-%d")
    return _layout(fig, "Model age at each scoring run against the staleness limit", height=320)


def _step_durations(views: _Views) -> go.Figure | None:
    if views.steps.empty:
        return None
    last = views.runs.run_id.head(LAST_RUNS).tolist()
    steps = views.steps[views.steps.run_id.isin(last)]
    if steps.empty:
        return None
    fig = go.Figure()
    for step in dict.fromkeys(steps.step):
        rows = steps[steps.step == step]
        fig.add_trace(
            go.Bar(
                y=rows.run_id,
                x=rows.duration_seconds,
                name=step,
                orientation="h",
                hovertemplate="%{y}<br>" + step + " %{x:.1f}s<extra></extra>",
            )
        )
    fig.update_layout(barmode="stack")
    fig.update_xaxes(title="seconds", side="top")
    return _layout(fig, f"Step durations of the last {LAST_RUNS} runs", height=120 + 40 * len(last))


def _data_quality(views: _Views) -> go.Figure | None:
    if views.quality.empty:
        return None
    latest = views.quality.run_id.iloc[-1]
    rows = views.quality[views.quality.run_id == latest]
    fig = go.Figure(
        [
            go.Bar(x=rows.file_name, y=rows.rows_out, name="kept", marker_color=GOOD),
            go.Bar(x=rows.file_name, y=rows.quarantined, name="quarantined", marker_color=BAD),
        ]
    )
    fig.update_layout(barmode="group")
    fig.update_yaxes(type="log", title="rows")
    return _layout(fig, f"Rows kept and quarantined by file (run {latest})", height=340)


def _cell(value: Any) -> str:
    return html.escape("" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value))


def _runs_table(runs: pd.DataFrame) -> str:
    if runs.empty:
        return "<p>no pipeline run recorded yet</p>"
    ordered = runs.assign(failed=runs.status != "succeeded").sort_values(
        ["failed", "finished_at"], ascending=[False, False]
    )
    rows = []
    for run in ordered.head(2 * LAST_RUNS).itertuples():
        css = "bad" if run.status != "succeeded" else "good"
        rows.append(
            f'<tr class="{css}"><td>{_cell(run.pipeline)}</td><td>{_cell(run.status)}</td>'
            f"<td>{_cell(run.finished_at)}</td><td>{_cell(run.model_version)}</td>"
            f"<td>{_cell(run.run_id)}</td><td>{_cell(run.detail)}</td></tr>"
        )
    head = (
        "<tr><th>pipeline</th><th>status</th><th>finished</th><th>model</th><th>run</th><th>detail</th></tr>"
    )
    return f"<table>{head}{''.join(rows)}</table>"


def _status_banner(runs: pd.DataFrame) -> str:
    if runs.empty:
        return '<p class="banner bad">no pipeline has run yet</p>'
    latest = runs.sort_values("finished_at").groupby("pipeline").tail(1)
    failed = latest[latest.status != "succeeded"]
    if failed.empty:
        return '<p class="banner good">the last training and scoring runs succeeded</p>'
    names = ", ".join(f"{r.pipeline} ({r.run_id})" for r in failed.itertuples())
    return f'<p class="banner bad">last run FAILED: {html.escape(names)}; see the table below</p>'


def _summary(views: _Views, inputs: DashboardInputs) -> str:
    facts: list[tuple[str, str]] = []
    if not views.health.empty:
        health = views.health.iloc[-1]
        stale = " (STALE)" if health.stale else ""
        facts += [
            ("model scored", _cell(health.model_version)),
            ("as of", _cell(health.as_of)),
            ("model age", f"{_cell(health.age_days)} days{stale}, limit {_cell(health.stale_after_days)}"),
            ("drift alert", "yes" if health.drift_alert else "no"),
            (
                "recent accuracy",
                "n/a"
                if pd.isna(health.recent_mape)
                else f"MAPE {health.recent_mape:.3f}, WAPE {_fmt(health.recent_wape)}, bias "
                f"{_pct(health.recent_bias)} over the {health.recent_weeks} weeks with actuals before "
                f"{_cell(health.as_of)} (the scoring run's recent weeks)",
            ),
        ]
    latest = (
        views.quality[views.quality.run_id == views.quality.run_id.iloc[-1]]
        if not views.quality.empty
        else None
    )
    if latest is not None:
        facts.append(("quarantined rows", f"{int(latest.quarantined.sum())} of {int(latest.rows_in.sum())}"))
    if inputs.quarantine_file is not None:
        facts.append(("quarantine file", html.escape(str(inputs.quarantine_file))))
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{v}</td></tr>" for k, v in facts)
    return f"<table>{cells}</table>"


def render_dashboard(inputs: DashboardInputs, out: Path) -> Path:
    """Write the dashboard of what the reporting database holds to `out` (overwritten)."""
    engine = sa.create_engine(f"sqlite:///{inputs.reporting_db.as_posix()}")
    try:
        views = _read(engine)
    finally:
        engine.dispose()
    figures = [
        ("Accuracy over time", _mape_over_time(views, inputs.target_mape)),
        ("Accuracy by segment", _mape_by_segment(views, inputs.target_mape)),
        ("Forecasts and actuals", _actual_vs_forecast(views, inputs.series_to_plot)),
        ("Staleness", _staleness(views, inputs.stale_after_days)),
        ("Step durations", _step_durations(views)),
        ("Data quality", _data_quality(views)),
    ]
    parts = []
    plotly_js_written = False
    for title, figure in figures:
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if figure is None:
            parts.append("<p>no data for this chart yet</p>")
            continue
        parts.append(
            figure.to_html(
                full_html=False,
                include_plotlyjs=not plotly_js_written,  # inline once: the file works offline
                config={"displaylogo": False, "responsive": True},
            )
        )
        plotly_js_written = True
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>demand-forecast monitoring</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;margin:0.5em 0}}
th,td{{border:1px solid #ccc;padding:4px 10px;text-align:left}}
tr.bad td{{background:#ffebee}}.banner{{padding:0.6em 1em;font-weight:bold;border-radius:4px}}
.banner.good{{background:#e8f5e9;color:{GOOD}}}.banner.bad{{background:#ffebee;color:{BAD}}}</style>
</head><body><h1>demand-forecast monitoring</h1>
<p>generated {generated} from {html.escape(str(inputs.reporting_db))} (the views Power BI reads)</p>
{_status_banner(views.runs)}<h2>Last runs</h2>{_runs_table(views.runs)}{_summary(views, inputs)}
<h2>Holdout accuracy of the latest training run</h2>{_accuracy_table(views)}
{"".join(parts)}</body></html>
"""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page, encoding="utf-8")
    return out
