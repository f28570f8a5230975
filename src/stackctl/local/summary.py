"""The one-screen summary `apply --env local` prints at the end: champion, scores, data quality, runs and
where each stand-in lives."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from demand_forecast.contracts import (
    DataQuality,
    Metrics,
)
from rich.console import Console
from rich.table import Table

from stackctl.local.layout import LocalLayout
from stackctl.local.provision import registry_champion


@dataclass
class LocalApplyResult:
    trained: bool
    scored: bool
    promoted: bool | None
    champion_version: str | None
    champion_registered_version: str | None
    champion_mape: float | None
    champion_scores: str
    data_quality: str
    training_run: str | None
    scoring_run: str | None
    dashboard: Path
    reporting_db: Path
    tracking_uri: str
    quarantine_file: Path
    messages: list[str] = field(default_factory=list)


def scores_line(metrics: Metrics) -> str:
    """The champion's holdout scores per model, as one line:
    `ensemble MAPE 0.437 WAPE 0.402 bias -12.0% RMSE 12.1, ... (holdout 2024-01-01..2024-02-19)`."""
    parts = []
    overall = metrics.overall.by_model()
    for model in ("ensemble", "lasso", "nn", "baseline"):
        values = overall[model]
        if values is None or values.mape is None:
            continue
        wape = "n/a" if values.wape is None else f"{values.wape:.3f}"
        bias = "n/a" if values.bias is None else f"{values.bias:+.1%}"
        parts.append(f"{model} MAPE {values.mape:.3f} WAPE {wape} bias {bias} RMSE {values.rmse:.1f}")
    window = f"holdout {metrics.holdout.start}..{metrics.holdout.end}"
    return ", ".join(parts) + f"  ({window}; target MAPE <= {metrics.target_mape})" if parts else "n/a"


def quality_line(quality: DataQuality) -> str:
    return (
        f"{quality.rows_in} rows in {len(quality.files)} files, {quality.quarantined} quarantined; "
        f"{quality.series} series over {quality.weeks} weeks"
    )


# What the summary suggests a reader try: the reporting database opens in the plain sqlite3 shell.
_COUNT_FORECASTS = '"select count(*) from v_forecasts"'


def print_summary(result: LocalApplyResult, layout: LocalLayout, console: Console) -> None:
    table = Table(title="local stack", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    # The registry's Production stage is the truth; the state file knows what the last register said.
    registry_version = registry_champion(layout) or result.champion_registered_version
    mape = "n/a" if result.champion_mape is None else f"{result.champion_mape:.3f}"
    table.add_row(
        "champion", f"{result.champion_version} (registry version {registry_version or '?'}), MAPE {mape}"
    )
    table.add_row("holdout scores", result.champion_scores)
    table.add_row("data quality", result.data_quality)
    table.add_row("this run", "; ".join(result.messages) or "refreshed the dashboard only")
    table.add_row("data lake", str(layout.lake) + "  (raw, conditioned, scored)")
    table.add_row(
        "MLflow", f"{result.tracking_uri}  (`.venv/bin/mlflow ui --backend-store-uri {result.tracking_uri}`)"
    )
    table.add_row(
        "reporting DB",
        f"{result.reporting_db}  (views v_*: `sqlite3 {result.reporting_db} {_COUNT_FORECASTS}`)",
    )
    table.add_row("dashboard", str(result.dashboard))
    table.add_row("quarantined rows", str(result.quarantine_file))
    table.add_row(
        "telemetry", str(layout.telemetry / "metrics.jsonl") + "  (OpenTelemetry metrics of every step)"
    )
    console.print(table)
