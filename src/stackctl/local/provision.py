"""The local stack's stand-ins, provisioned once: folders, the reporting database's schema, the MLflow
store; and what that registry holds as champion."""

from __future__ import annotations

import logging

from demand_forecast.reporting.migration import ensure_sqlite_schema

from stackctl.graph import MODEL_NAME
from stackctl.local.layout import LocalLayout


def _provision_mlflow(layout: LocalLayout) -> bool:
    """Create the MLflow SQLite store once (its schema migrations take a few seconds)."""
    if (layout.mlflow_dir / "mlflow.db").exists():
        return False
    from mlflow.tracking import MlflowClient

    # MLflow announces each schema migration at INFO on the root handler; the progress line says it.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    MlflowClient(tracking_uri=layout.tracking_uri).search_experiments(max_results=1)
    return True


def provision_local(layout: LocalLayout) -> bool:
    """Folders, reporting schema and MLflow store; True when anything was new (idempotent)."""
    created = layout.provision()
    new_tables = ensure_sqlite_schema(layout.reporting_db)
    mlflow_new = _provision_mlflow(layout)
    return bool(created or new_tables or mlflow_new)


def registry_champion(layout: LocalLayout) -> str | None:
    """The registered version the model registry holds as champion (the source of truth), if any.

    Resolved by demand_forecast.registry.champion, the one resolver score, monitor and evaluate use.
    """
    if not (layout.mlflow_dir / "mlflow.db").exists():
        return None
    from demand_forecast.registry import champion
    from demand_forecast.settings import load_settings

    store = {"tracking": {"sqlite_path": str(layout.mlflow_dir / "mlflow.db")}}
    current = champion(load_settings(overrides=store), MODEL_NAME)
    return None if current is None else current.version
