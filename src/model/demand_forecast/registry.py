"""MLflow edge: tracking URI, training runs, registration and the champion alias.

Nothing here knows how a model is trained, loaded or scored: `register_model` receives the pyfunc
instance to log (`demand_forecast.pyfunc.python_model()`), so this module imports only MLflow,
the settings and the file contracts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from demand_forecast.contracts import MODEL_ARTIFACT, Decision, Metrics, ModelInfo
from demand_forecast.settings import Settings, TrackingSettings


def tracking_uri(settings: TrackingSettings) -> str:
    """MLFLOW_TRACKING_URI when set (an AML job sets it to the workspace), else the local SQLite store."""
    from_env = os.environ.get("MLFLOW_TRACKING_URI")
    if from_env:
        return from_env
    path = Path(settings.sqlite_path).expanduser().resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _configure(settings: Settings) -> Any:
    import mlflow

    uri = tracking_uri(settings.tracking)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    name = settings.tracking.experiment_name
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is None:
        artifact_location = None
        if uri.startswith("sqlite:///"):
            # Keep artifacts beside the database instead of in whatever the working directory is.
            artifact_location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
        mlflow.create_experiment(name, artifact_location=artifact_location)
    mlflow.set_experiment(name)
    return mlflow


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(f"{prefix}.{key}" if prefix else str(key), item))
        return out
    return {prefix: value}


def log_training_run(settings: Settings, info: ModelInfo) -> str:
    """Record a training run (params, validation metrics); return its run id."""
    mlflow = _configure(settings)
    with mlflow.start_run(run_name=f"train-{info.model_version}") as run:
        mlflow.log_params({k: str(v)[:500] for k, v in flatten("", info.config).items()})
        mlflow.log_metrics({k: float(v) for k, v in info.metrics.items() if v is not None})
        mlflow.set_tags({"model_version": info.model_version, "step": "train"})
        return str(run.info.run_id)


def champion(settings: Settings, name: str) -> tuple[str, dict[str, Any]] | None:
    """(version, tags) of the model the alias points at, or None if there is none yet."""
    mlflow = _configure(settings)
    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(name, settings.register_.alias)
    except mlflow.exceptions.MlflowException:
        return None
    return str(version.version), dict(version.tags or {})


def download_model(settings: Settings, uri: str) -> Path | None:
    """A local model folder for a `models:/...` URI, or None when the registry has no such model."""
    mlflow = _configure(settings)
    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except (mlflow.exceptions.MlflowException, OSError):
        return None
    for info in sorted(local.rglob("model_info.json")):
        return info.parent
    return None


def _log_and_register(
    mlflow: Any, model_dir: Path, info: ModelInfo, metrics: Metrics, name: str, python_model: Any
) -> str:
    """One MLflow run holding the candidate's params, holdout metrics and pyfunc; its registry version."""
    with mlflow.start_run(run_name=f"register-{info.model_version}"):
        mlflow.log_params({k: str(v)[:500] for k, v in flatten("", info.config).items()})
        for model_name, record in metrics.overall.by_model().items():
            if record is None:
                continue
            for key in ("mape", "rmse", "rmse_zero_actual"):
                value = getattr(record, key)
                if value is not None:
                    mlflow.log_metric(f"holdout_{model_name}_{key}", float(value))
        mlflow.log_dict(metrics.to_json(), "metrics.json")
        logged = mlflow.pyfunc.log_model(
            name="model",
            python_model=python_model,
            artifacts={MODEL_ARTIFACT: str(model_dir)},
            pip_requirements=[
                "demand-forecast-model",
                "mlflow",
                "pandas",
                "torch",
                "scikit-learn",
                "pandera",
            ],
        )
    return str(mlflow.register_model(logged.model_uri, name).version)


def _champion_mape(current: tuple[str, dict[str, Any]], metrics: Metrics) -> tuple[float | None, str]:
    """The champion's MAPE to beat and where it comes from: the same holdout, else its own."""
    champion_scores = metrics.overall.champion
    if champion_scores is not None and champion_scores.mape is not None:
        return float(champion_scores.mape), "on the same holdout"
    if current[1].get("holdout_mape"):
        return float(current[1]["holdout_mape"]), "from its own holdout (evaluate ran without --champion)"
    return None, ""


def promotion(
    candidate_mape: float | None,
    current: tuple[str, dict[str, Any]] | None,
    metrics: Metrics,
    margin: float,
) -> tuple[bool, str, float | None]:
    """(promote?, why, champion MAPE): the candidate wins when its MAPE <= champion MAPE x (1 - margin)."""
    champion_mape, source = _champion_mape(current, metrics) if current is not None else (None, "")
    if candidate_mape is None:
        return False, "candidate has no MAPE (every holdout actual is zero); not promoted", champion_mape
    if current is None:
        return True, "no champion yet: the first model becomes champion", None
    if champion_mape is None:
        return True, f"champion v{current[0]} has no recorded MAPE; candidate replaces it", None
    bar = champion_mape * (1 - margin)
    promoted = candidate_mape <= bar
    verdict = "beats" if promoted else "does not beat"
    reason = (
        f"candidate MAPE {candidate_mape:.4f} {verdict} champion v{current[0]} "
        f"MAPE {champion_mape:.4f} "
        f"{source} by the margin {margin:.1%} (needs <= {bar:.4f})"
    )
    return promoted, reason, champion_mape


def register_model(
    settings: Settings,
    model_dir: Path,
    info: ModelInfo,
    metrics: Metrics,
    name: str,
    margin: float,
    python_model: Any,
) -> Decision:
    """Log the pyfunc, register a version, and move the champion alias only if it wins by the margin."""
    mlflow = _configure(settings)
    client = mlflow.MlflowClient()
    candidate_mape = metrics.overall.ensemble.mape
    current = champion(settings, name)
    registered = _log_and_register(mlflow, model_dir, info, metrics, name, python_model)
    tags = {
        "model_version": info.model_version,
        "holdout_start": info.holdout.start,
        "holdout_mape": "" if candidate_mape is None else str(candidate_mape),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, registered, key, value)
    promoted, reason, champion_mape = promotion(candidate_mape, current, metrics, margin)
    if promoted:
        client.set_registered_model_alias(name, settings.register_.alias, registered)
    return Decision(
        model_name=name,
        model_version=info.model_version,
        registered_version=registered,
        promoted=promoted,
        reason=reason,
        candidate_mape=candidate_mape,
        champion_mape=champion_mape,
        champion_version=current[0] if current is not None else None,
        margin=margin,
    )
