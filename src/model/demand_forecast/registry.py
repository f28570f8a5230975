"""MLflow edge: tracking URI, training runs, the pyfunc model, registration and the champion alias."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd

from demand_forecast.settings import Settings, TrackingSettings

MODEL_ARTIFACT = "model_dir"


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


def log_training_run(settings: Settings, info: dict[str, Any]) -> str:
    """Record a training run (params, validation metrics); return its run id."""
    mlflow = _configure(settings)
    with mlflow.start_run(run_name=f"train-{info['model_version']}") as run:
        mlflow.log_params({k: str(v)[:500] for k, v in flatten("", info["config"]).items()})
        mlflow.log_metrics({k: float(v) for k, v in info["metrics"].items() if v is not None})
        mlflow.set_tags({"model_version": info["model_version"], "step": "train"})
        return str(run.info.run_id)


class DemandForecastPyfunc:
    """MLflow pyfunc wrapper. Input: a one-row DataFrame with `data_dir` and optional `as_of`, `horizon`;
    output: the forecasts table of `score`."""

    def load_context(self, context: Any) -> None:
        from demand_forecast.training import TrainedModel

        self.model = TrainedModel.load(Path(context.artifacts[MODEL_ARTIFACT]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        from demand_forecast.pipeline import load_dataset
        from demand_forecast.scoring import forecast

        request = model_input.iloc[0]
        tables = load_dataset(Path(str(request["data_dir"])), self.model.settings).tables
        as_of = pd.Timestamp(request["as_of"]) if "as_of" in request and pd.notna(request["as_of"]) else None
        horizon = int(request["horizon"]) if "horizon" in request and pd.notna(request["horizon"]) else 1
        return forecast(self.model, tables, as_of, horizon)


def _pyfunc_class() -> Any:
    import mlflow.pyfunc

    # Built lazily so importing this module does not import mlflow (seconds) for `score` from a folder.
    return type("DemandForecastModel", (DemandForecastPyfunc, mlflow.pyfunc.PythonModel), {})


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


def register_model(
    settings: Settings,
    model_dir: Path,
    info: dict[str, Any],
    metrics: dict[str, Any],
    name: str,
    margin: float,
) -> dict[str, Any]:
    """Log the pyfunc, register a version, and move the champion alias only if it wins by the margin."""
    mlflow = _configure(settings)
    client = mlflow.MlflowClient()
    candidate_mape = metrics["overall"]["ensemble"]["mape"]
    current = champion(settings, name)
    with mlflow.start_run(run_name=f"register-{info['model_version']}"):
        mlflow.log_params({k: str(v)[:500] for k, v in flatten("", info["config"]).items()})
        for model_name, record in metrics["overall"].items():
            if record is None:
                continue
            for key in ("mape", "rmse", "rmse_zero_actual"):
                if record.get(key) is not None:
                    mlflow.log_metric(f"holdout_{model_name}_{key}", float(record[key]))
        mlflow.log_dict(metrics, "metrics.json")
        logged = mlflow.pyfunc.log_model(
            name="model",
            python_model=_pyfunc_class()(),
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
    version = mlflow.register_model(logged.model_uri, name)
    registered = str(version.version)
    tags = {
        "model_version": info["model_version"],
        "holdout_start": info["holdout"]["start"],
        "holdout_mape": "" if candidate_mape is None else str(candidate_mape),
    }
    for key, value in tags.items():
        client.set_model_version_tag(name, registered, key, value)

    champion_mape: float | None = None
    champion_version: str | None = None
    source = ""
    if current is not None:
        champion_version = current[0]
        overall_champion = metrics["overall"].get("champion")
        if overall_champion is not None and overall_champion.get("mape") is not None:
            champion_mape = float(overall_champion["mape"])
            source = "on the same holdout"
        elif current[1].get("holdout_mape"):
            champion_mape = float(current[1]["holdout_mape"])
            source = "from its own holdout (evaluate ran without --champion)"
    if candidate_mape is None:
        promoted, reason = False, "candidate has no MAPE (every holdout actual is zero); not promoted"
    elif current is None:
        promoted, reason = True, "no champion yet: the first model becomes champion"
    elif champion_mape is None:
        promoted, reason = True, f"champion v{champion_version} has no recorded MAPE; candidate replaces it"
    else:
        bar = champion_mape * (1 - margin)
        promoted = candidate_mape <= bar
        verdict = "beats" if promoted else "does not beat"
        reason = (
            f"candidate MAPE {candidate_mape:.4f} {verdict} champion v{champion_version} "
            f"MAPE {champion_mape:.4f} "
            f"{source} by the margin {margin:.1%} (needs <= {bar:.4f})"
        )
    if promoted:
        client.set_registered_model_alias(name, settings.register_.alias, registered)
    return {
        "model_name": name,
        "model_version": info["model_version"],
        "registered_version": registered,
        "promoted": promoted,
        "reason": reason,
        "candidate_mape": candidate_mape,
        "champion_mape": champion_mape,
        "champion_version": champion_version,
        "margin": margin,
    }
