"""Writing pipeline results into the reporting database (SQLite locally, the same tables as Azure SQL).

The step outputs are read through the model's file contracts (`demand_forecast.contracts`).
"""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from demand_forecast.contracts import Contract, ContractError, DataQuality, Metrics, Monitoring, Scores

from stackctl.errors import StackctlError
from stackctl.sql import schema

C = TypeVar("C", bound=Contract)


def read_output(contract: type[C], path: Path) -> C:
    """A step's output file read through its contract; StackctlError when missing or malformed."""
    try:
        return contract.read(path)
    except ContractError as exc:
        raise StackctlError(
            f"a pipeline step did not write the file its contract promises: {exc}",
            where=str(path),
            fix="check the step's log next to it under .local/runs/; this is a bug in the model CLI",
        ) from exc


def _day(value: Any) -> date | None:
    return None if value in (None, "") else date.fromisoformat(str(value)[:10])


def _instant(value: Any) -> datetime | None:
    if value in (None, ""):
        return None
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).replace(tzinfo=None)


def record_run(
    engine: sa.Engine,
    *,
    run_id: str,
    pipeline: str,
    status: str,
    started_at: datetime,
    finished_at: datetime,
    model_name: str | None = None,
    model_version: str | None = None,
    detail: str | None = None,
) -> None:
    row = {
        "run_id": run_id,
        "pipeline": pipeline,
        "status": status,
        "started_at": started_at,
        "finished_at": finished_at,
        "model_name": model_name,
        "model_version": model_version,
        "detail": (detail or "")[:2000] or None,
    }
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.pipeline_runs).where(schema.pipeline_runs.c.run_id == run_id))
        conn.execute(sa.insert(schema.pipeline_runs), [row])


def load_data_quality(engine: sa.Engine, run_id: str, data_quality_json: Path) -> DataQuality:
    quality = read_output(DataQuality, data_quality_json)
    rows = [
        {
            "run_id": run_id,
            "file_name": name,
            "rows_in": counts.rows_in,
            "rows_out": counts.rows_out,
            "quarantined": counts.quarantined,
        }
        for name, counts in sorted(quality.files.items())
    ]
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.data_quality).where(schema.data_quality.c.run_id == run_id))
        if rows:
            conn.execute(sa.insert(schema.data_quality), rows)
    return quality


def load_metrics(engine: sa.Engine, run_id: str, metrics_json: Path, promoted: bool | None) -> Metrics:
    metrics = read_output(Metrics, metrics_json)
    common = {
        "run_id": run_id,
        "model_name": metrics.model_name,
        "model_version": metrics.model_version,
        "target_mape": metrics.target_mape,
        "holdout_start": _day(metrics.holdout.start),
        "holdout_end": _day(metrics.holdout.end),
        "promoted": promoted,
    }

    def row(segment: str, model: str, values: Scores) -> dict[str, Any]:
        return {
            **common,
            "segment": segment,
            "model": model,
            "mape": values.mape,
            "rmse": values.rmse,
            "rmse_zero_actual": values.rmse_zero_actual,
            "n": values.n,
            "n_zero_actual": values.n_zero_actual,
        }

    rows = [row("overall", model, values) for model, values in metrics.overall.by_model().items() if values]
    rows += [row(seg.segment, seg.model, seg) for seg in metrics.segments]
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.model_metrics).where(schema.model_metrics.c.run_id == run_id))
        if rows:
            conn.execute(sa.insert(schema.model_metrics), rows)
    return metrics


def load_forecasts(engine: sa.Engine, run_id: str, forecasts_csv: Path) -> int:
    if not forecasts_csv.exists():
        raise StackctlError(
            "the score step wrote no forecasts.csv", where=str(forecasts_csv), fix="see its log"
        )
    with forecasts_csv.open(newline="", encoding="utf-8") as handle:
        rows = [
            {
                "run_id": run_id,
                "week_start": _day(rec["week_start"]),
                "store_id": rec["store_id"],
                "product_id": rec["product_id"],
                "region": rec.get("region"),
                "store_format": rec.get("store_format"),
                "segment": rec.get("segment"),
                "forecast_units": float(rec["forecast_units"]),
                "model_name": rec["model_name"],
                "model_version": rec["model_version"],
            }
            for rec in csv.DictReader(handle)
        ]
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.forecasts).where(schema.forecasts.c.run_id == run_id))
        if rows:
            conn.execute(sa.insert(schema.forecasts), rows)
    return len(rows)


def load_health(engine: sa.Engine, run_id: str, monitoring_json: Path) -> Monitoring:
    health = read_output(Monitoring, monitoring_json)
    row = {
        "run_id": run_id,
        "as_of": _day(health.as_of),
        "model_name": health.model_name,
        "model_version": health.model_version,
        "trained_at": _instant(health.trained_at),
        "age_days": health.age_days,
        "stale": health.stale,
        "stale_after_days": health.stale_after_days,
        "drift_alert": health.drift_alert,
        "max_psi": health.max_psi,
        "recent_mape": health.recent_mape,
        "recent_weeks": health.recent_weeks,
    }
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.model_health).where(schema.model_health.c.run_id == run_id))
        conn.execute(sa.insert(schema.model_health), [row])
    return health
