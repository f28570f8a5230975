"""Writing pipeline results into the reporting database (SQLite locally, the same tables as Azure SQL)."""

from __future__ import annotations

import csv
import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from stackctl.errors import StackctlError
from stackctl.sql import schema


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise StackctlError(
            "a pipeline step did not write the file its contract promises",
            where=str(path),
            fix="check the step's log next to it under .local/runs/; this is a bug in the model CLI",
        ) from exc
    if not isinstance(data, dict):
        raise StackctlError("expected a JSON object", where=str(path), fix="see the model CLI contract")
    return data


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


def load_data_quality(engine: sa.Engine, run_id: str, data_quality_json: Path) -> dict[str, Any]:
    quality = _read_json(data_quality_json)
    rows = [
        {
            "run_id": run_id,
            "file_name": name,
            "rows_in": int(counts.get("rows_in", 0)),
            "rows_out": int(counts.get("rows_out", 0)),
            "quarantined": int(counts.get("quarantined", 0)),
        }
        for name, counts in sorted(quality.get("files", {}).items())
    ]
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.data_quality).where(schema.data_quality.c.run_id == run_id))
        if rows:
            conn.execute(sa.insert(schema.data_quality), rows)
    return quality


def load_metrics(engine: sa.Engine, run_id: str, metrics_json: Path, promoted: bool | None) -> dict[str, Any]:
    metrics = _read_json(metrics_json)
    target = float(metrics.get("target_mape", 0.45))
    holdout = metrics.get("holdout", {})
    common = {
        "run_id": run_id,
        "model_name": metrics["model_name"],
        "model_version": str(metrics["model_version"]),
        "target_mape": target,
        "holdout_start": _day(holdout.get("start")),
        "holdout_end": _day(holdout.get("end")),
        "promoted": promoted,
    }

    def row(segment: str, model: str, values: dict[str, Any]) -> dict[str, Any]:
        return {
            **common,
            "segment": segment,
            "model": model,
            "mape": values.get("mape"),
            "rmse": values.get("rmse"),
            "rmse_zero_actual": values.get("rmse_zero_actual"),
            "n": values.get("n"),
            "n_zero_actual": values.get("n_zero_actual"),
        }

    rows = [row("overall", model, values) for model, values in metrics.get("overall", {}).items() if values]
    rows += [row(str(seg["segment"]), str(seg["model"]), seg) for seg in metrics.get("segments", [])]
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


def load_health(engine: sa.Engine, run_id: str, monitoring_json: Path) -> dict[str, Any]:
    health = _read_json(monitoring_json)
    drift = health.get("drift") or {}
    row = {
        "run_id": run_id,
        "as_of": _day(health["as_of"]),
        "model_name": health["model_name"],
        "model_version": str(health["model_version"]),
        "trained_at": _instant(health.get("trained_at")),
        "age_days": health.get("age_days"),
        "stale": bool(health.get("stale")),
        "stale_after_days": health.get("stale_after_days"),
        "drift_alert": bool(health.get("drift_alert")),
        "max_psi": max((float(v) for v in drift.values() if v is not None), default=None),
        "recent_mape": health.get("recent_mape"),
        "recent_weeks": health.get("recent_weeks"),
    }
    with engine.begin() as conn:
        conn.execute(sa.delete(schema.model_health).where(schema.model_health.c.run_id == run_id))
        conn.execute(sa.insert(schema.model_health), [row])
    return health
