"""MLflow edge: tracking URI, training runs, the pyfunc model, registration and the champion.

Every call here is one Azure ML's MLflow server serves, because the same code runs inside AML jobs
(MLFLOW_TRACKING_URI = the workspace, MLFLOW_RUN_ID = the job's run) and against the local SQLite store.
The calls are listed, with the AML page each comes from, in tests/model/aml_mlflow_routes.py; the
job-contract test (tests/model/test_aml_job_contract.py) fails when this module calls anything else.

* No MLflow-3 logged-model API (`log_model(name=...)` posts to /api/2.0/mlflow/logged-models, which AML
  answers with 404): the pyfunc is saved locally, uploaded as run artifacts and registered from
  `runs:/<run>/model` ("Registering models from runs outputs/artifacts", note 1, of
  https://learn.microsoft.com/azure/machine-learning/how-to-manage-models-mlflow#support-matrix-for-managing-models-with-mlflow).
* No model aliases (not in that support matrix): the champion is the version in the stage
  CHAMPION_STAGE ("Manage MLflow model stages" is), resolved by `champion()` alone.
* Inside a job, AML configures MLflow for the job (tracking URI and the job's run, MLFLOW_RUN_ID:
  https://learn.microsoft.com/azure/machine-learning/how-to-use-mlflow-configure-tracking): nothing
  here sets an experiment or starts a run then (the run belongs to the job's experiment, and
  `set_experiment` + `start_run` raise); it logs into MLFLOW_RUN_ID and leaves the run to AML.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from demand_forecast.contracts import MODEL_ARTIFACT, Decision, Metrics, ModelInfo, Routing
from demand_forecast.errors import RegistryError, UsageError
from demand_forecast.project import project_root
from demand_forecast.routing import (
    ChampionRoutes,
    assemble_bundle,
    check_failed_share,
    decide_routing,
    failed_partition_segments,
    failed_regions,
    read_partitions,
    routed_mape,
    worse_segments,
)
from demand_forecast.settings import Settings, TrackingSettings

if TYPE_CHECKING:  # typing only: mlflow is imported where it is used (seconds to import)
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

MODEL_ARTIFACT_PATH = "model"
DISTRIBUTION = "demand-forecast-model"
# The stage that marks the champion. Stages are the registry pointer AML documents for MLflow
# ("Manage MLflow model stages", support matrix of how-to-manage-models-mlflow); aliases are not.
CHAMPION_STAGE = "Production"
# Set in the AML environment's Dockerfile (stackctl/aml/environment.py): the model wheel the image
# was built from, logged with every registered model as its requirement.
WHEEL_VARIABLE = "DEMAND_FORECAST_WHEEL"
# Set by Azure ML in every job; MLflow attaches to this run.
JOB_RUN_VARIABLE = "MLFLOW_RUN_ID"


def tracking_uri(settings: TrackingSettings, *, create: bool = True) -> str:
    """MLFLOW_TRACKING_URI when set (an AML job sets it to the workspace), else the local SQLite store.

    A relative `tracking.sqlite_path` is relative to the project root (`project_root()`), never to
    the working directory, so a command run elsewhere finds the project's store instead of creating
    a stray empty one. `create=False` (reading commands) leaves a missing store uncreated.
    """
    from_env = os.environ.get("MLFLOW_TRACKING_URI")
    if from_env:
        return from_env
    path = Path(settings.sqlite_path).expanduser()
    if not path.is_absolute():
        root = project_root()
        path = (root / path) if root is not None else path
    path = path.resolve()
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def _store_exists(uri: str) -> bool:
    return not uri.startswith("sqlite:///") or Path(uri.removeprefix("sqlite:///")).is_file()


def _configure(settings: Settings, *, create: bool = True) -> None:
    """Point MLflow's tracking and registry at the project's store (`tracking_uri`)."""
    import mlflow

    uri = tracking_uri(settings.tracking, create=create)
    # One store for both (as in AML). Not MLFLOW_REGISTRY_URI: MLflow's own set_registry_uri writes
    # that variable, so it would carry a previous configuration's store.
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)


def _experiment_id(settings: Settings) -> str:
    """The experiment of runs started outside a job (created on first use)."""
    import mlflow

    uri = mlflow.get_tracking_uri()
    name = settings.tracking.experiment_name
    experiment = mlflow.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    artifact_location = None
    if uri.startswith("sqlite:///"):
        # Keep artifacts beside the database instead of in whatever the working directory is.
        artifact_location = (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").resolve().as_uri()
    return str(mlflow.create_experiment(name, artifact_location=artifact_location))


@contextmanager
def _run(settings: Settings, run_name: str) -> Iterator[str]:
    """The run to log into: the job's own run inside AML (left open: AML ends it with the job),
    else a new run in the project's experiment."""
    job_run = os.environ.get(JOB_RUN_VARIABLE)
    if job_run:
        yield job_run
        return
    import mlflow

    with mlflow.start_run(run_name=run_name, experiment_id=_experiment_id(settings)) as run:
        yield str(run.info.run_id)


def _registry_error(action: str, exc: Exception) -> RegistryError:
    import mlflow

    return RegistryError(
        f"{action} failed at the MLflow store {mlflow.get_registry_uri()}: {exc}. "
        "Check the tracking URI (MLFLOW_TRACKING_URI) and your access to it, then rerun"
    )


def flatten(prefix: str, value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(f"{prefix}.{key}" if prefix else str(key), item))
        return out
    return {prefix: value}


def _log_batch(
    client: MlflowClient, run_id: str, params: dict[str, Any], metrics: dict[str, Any], tags: dict[str, str]
) -> None:
    """runs/log-batch calls of at most 100 params, 100 tags and 100 metrics each (MLflow's request
    limits: https://mlflow.org/docs/latest/rest-api.html#log-batch)."""
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    param_items = [Param(k, str(v)[:500]) for k, v in params.items()]
    metric_items = [Metric(k, float(v), now, 0) for k, v in metrics.items() if v is not None]
    tag_items = [RunTag(k, v) for k, v in tags.items()]
    for start in range(0, max(len(param_items), len(metric_items), len(tag_items), 1), 100):
        client.log_batch(
            run_id,
            metrics=metric_items[start : start + 100],
            params=param_items[start : start + 100],
            tags=tag_items[start : start + 100],
        )


def log_training_run(settings: Settings, model_info: ModelInfo) -> str:
    """Record a training run (params, validation metrics); return its run id (the job's run in AML)."""
    info = model_info.to_json()
    import mlflow

    _configure(settings)
    client = mlflow.MlflowClient()
    try:
        with _run(settings, f"train-{info['model_version']}") as run_id:
            _log_batch(
                client,
                run_id,
                flatten("", info["config"]),
                dict(info["metrics"].items()),
                {"model_version": info["model_version"], "step": "train"},
            )
            return run_id
    except mlflow.exceptions.MlflowException as exc:
        raise _registry_error("logging the training run", exc) from exc


# Registered model names this package uses (and that a `name = '...'` filter can quote safely).
_REGISTERED_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")


@dataclass(frozen=True)
class Champion:
    """The registered version in CHAMPION_STAGE: its version number and model-version tags."""

    name: str
    version: str
    tags: dict[str, str]

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


def champion(settings: Settings, name: str | None = None) -> Champion | None:
    """The champion of registered model `name` (default: settings.register.model_name), or None
    when nothing is registered under that name yet or no version has been promoted.

    "Nothing registered yet" is `get_registered_model` answering RESOURCE_DOES_NOT_EXIST (HTTP 404),
    the registry's own "not found"; every other registry failure raises RegistryError, so a broken
    or unreachable registry never reads as "no champion" (which would let register promote any
    model). Not `search_registered_models`: MLflow appends a `tag.` prompt filter to its filter for
    any non-Databricks registry (mlflow/tracking/_model_registry/client.py,
    `search_registered_models`), which Azure ML refuses with 400 "Currently unsupported filter
    string format" (https://github.com/Azure/azure-sdk-for-python/issues/42155); AML serves
    "retrieving registered models" by name
    (https://learn.microsoft.com/azure/machine-learning/how-to-manage-models-mlflow#support-matrix-for-managing-models-with-mlflow).

    The one resolver of "the champion" for score, monitor, evaluate, register and the local stack.
    """
    name = name or settings.register_.model_name
    import mlflow

    _configure(settings, create=False)
    uri = mlflow.get_registry_uri()
    if not _store_exists(uri):
        return None
    client = mlflow.MlflowClient()
    try:
        if not _is_registered(client, name):
            return None
        with warnings.catch_warnings():
            # Stages carry a deprecation notice in MLflow 3; they remain what AML documents.
            warnings.simplefilter("ignore", FutureWarning)
            latest = client.get_latest_versions(name, stages=[CHAMPION_STAGE])
    except mlflow.exceptions.MlflowException as exc:
        raise _registry_error(f"looking up the champion of {name}", exc) from exc
    if not latest:
        return None
    version = latest[0]
    return Champion(name, str(version.version), dict(version.tags or {}))


def _is_registered(client: MlflowClient, name: str) -> bool:
    """Whether a registered model is named exactly `name`: `get_registered_model`, with the
    registry's "not found" (RESOURCE_DOES_NOT_EXIST, or any error MLflow maps to HTTP 404) as
    False; any other MlflowException propagates."""
    if not _REGISTERED_NAME.fullmatch(name):
        raise UsageError(
            f"registered model name {name!r}: use letters, digits, '-', '_' and '.' (at most 255)"
        )
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if _is_not_found(exc):
            return False
        raise
    return True


def _is_not_found(exc: MlflowException) -> bool:
    """MLflow's "resource not found": the error code RESOURCE_DOES_NOT_EXIST (what MLflow's stores
    and AML's JSON error bodies carry, e.g. the body quoted in Azure/azure-sdk-for-python#42155) or
    another code MLflow reports as HTTP 404 (mlflow/exceptions.py `get_http_status_code`), except
    ENDPOINT_NOT_FOUND: MLflow gives that to any non-JSON 404 (mlflow/utils/rest_utils.py
    `verify_rest_response`), e.g. a wrong tracking URI, which must not read as "no champion"."""
    from mlflow.protos.databricks_pb2 import ENDPOINT_NOT_FOUND, RESOURCE_DOES_NOT_EXIST, ErrorCode

    if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
        return True
    if exc.error_code == ErrorCode.Name(ENDPOINT_NOT_FOUND):
        return False
    # mlflow leaves get_http_status_code unannotated (mlflow/exceptions.py).
    return bool(exc.get_http_status_code() == 404)  # type: ignore[no-untyped-call]


# Written by score next to its forecasts: the registry version "the champion" meant for this run.
MODEL_REF_FILE = "model_ref.json"


def resolve_reference(settings: Settings, reference: str) -> str:
    """`models:/<name>/Production` (the champion) as the version it names now
    (`models:/<name>/<version>`); any other reference, and a champion reference with no champion yet,
    unchanged."""
    name = _champion_reference(settings, reference)
    if name is None:
        return reference
    current = champion(settings, name)
    return current.uri if current is not None else reference


def pin_reference(out: Path, requested: str, resolved: str) -> None:
    """Record in the score step's output which model `requested` resolved to for this run."""
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"requested": requested, "resolved": resolved}, indent=2)
    (out / MODEL_REF_FILE).write_text(text + "\n", encoding="utf-8")


def pinned_reference(scored: Path | None, requested: str) -> str:
    """The model a later step of the same run uses for `requested`: the version score resolved it to
    (its MODEL_REF_FILE), so score and monitor of one scoring run see one champion even when a
    promotion lands between them (issue 22 item 14); `requested` itself when score pinned nothing
    or pinned another reference."""
    path = scored / MODEL_REF_FILE if scored is not None else None
    if path is None or not path.is_file():
        return requested
    try:
        pinned = json.loads(path.read_text(encoding="utf-8"))
        same = pinned["requested"] == requested
        resolved = str(pinned["resolved"])
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(
            f"{path} is not the score step's model reference ({exc}); rerun the score step"
        ) from exc
    return resolved if same else requested


def store(settings: Settings) -> str:
    """The tracking/registry store the model commands use, for messages (nothing is created)."""
    uri = tracking_uri(settings.tracking, create=False)
    if not _store_exists(uri):
        return f"{uri} (does not exist)"
    return uri


def registered_model_name(reference: str) -> str:
    """The registered model name of a `models:/<name>/<version or stage>` or `models:/<name>@<alias>`
    reference (MLflow's model URI forms); "" for anything else (a model folder)."""
    if not reference.startswith("models:/"):
        return ""
    return re.split(r"[/@]", reference.removeprefix("models:/"), maxsplit=1)[0]


def champion_uri(name: str) -> str:
    """`models:/<name>/Production`: the champion as MLflow's stage URI, which plain MLflow loads too."""
    return f"models:/{name}/{CHAMPION_STAGE}"


def _champion_reference(settings: Settings, uri: str) -> str | None:
    """`models:/<name>/<CHAMPION_STAGE>` names the champion: the registered model name, else None.

    An alias URI (`models:/<name>@<alias>`) is refused: Azure ML serves no aliases."""
    if not uri.startswith("models:/"):
        return None
    name, at, _ = uri.removeprefix("models:/").rstrip("/").partition("@")
    if at:
        raise UsageError(
            f"{uri}: model aliases are not served by Azure ML's registry, so none is set; the champion "
            f"is the version in stage {CHAMPION_STAGE}: {champion_uri(name)} (or models:/{name}/<version>)"
        )
    name, _, stage = name.partition("/")
    return name if stage == CHAMPION_STAGE else None


def download_model(settings: Settings, uri: str) -> Path | None:
    """A local model folder for an MLflow URI, or None when the registry has no such model yet.

    `models:/<name>/Production` resolves through `champion()`; `models:/<name>/<version>` and
    `runs:/...` are downloaded as they are. A missing local store is "no model" (`store()` names it).
    """
    import mlflow

    _configure(settings, create=False)
    name = _champion_reference(settings, uri)
    if name is not None:
        current = champion(settings, name)
        if current is None:
            return None
        uri = current.uri
    elif not _store_exists(mlflow.get_registry_uri()):
        return None
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    try:
        local = Path(mlflow.artifacts.download_artifacts(artifact_uri=_artifact_location(uri)))
    except MlflowException as exc:
        if exc.error_code == ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            return None
        raise _registry_error(f"downloading {uri}", exc) from exc
    except OSError as exc:
        raise _registry_error(f"downloading {uri}", exc) from exc
    # The shallowest model_info.json: a bundle's own model, not one of its members/ (routing.py).
    for info in sorted(local.rglob("model_info.json"), key=lambda path: (len(path.parts), path)):
        return info.parent
    return None


def _artifact_location(uri: str) -> str:
    """Where a `models:/<name>/<version>` (or `runs:/<run>/<path>`) URI's files are, by documented calls.

    Not `download_artifacts("models:/...")` itself: MLflow 3 then searches the logged-model API
    (/logged-models/search), which Azure ML does not serve. A version's files: the registry's own
    answer (`get_model_version_download_uri`, AML: "loading models from registry"), whatever form
    of source it stored; a `runs:/` URI: the run's artifact URI (runs/get).
    """
    import mlflow

    client = mlflow.MlflowClient()
    if uri.startswith("models:/"):
        name, _, version = uri.removeprefix("models:/").rstrip("/").partition("/")
        if not version.isdigit():
            raise UsageError(
                f"{uri}: name a version (models:/{name}/<n>) or the champion ({champion_uri(name)})"
            )
        uri = str(client.get_model_version_download_uri(name, version))
    if uri.startswith("runs:/"):
        run_id, _, path = uri.removeprefix("runs:/").partition("/")
        return f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{path}"
    return uri


def model_requirements() -> tuple[list[str], Path | None]:
    """The pip requirements a registered model is logged with, and the wheel to ship with it.

    In the AML environment the image's model wheel (WHEEL_VARIABLE) is the requirement, shipped in
    the model's `wheels/` folder (MLflow's own layout for wheeled models), and its dependencies are
    pinned at the versions installed beside it. Elsewhere (no wheel) the package's source is logged
    as code (`code_paths`) with the same pinned dependencies. Never an unpublished name.
    """
    from packaging.requirements import Requirement

    pins = []
    for line in metadata.requires(DISTRIBUTION) or []:
        requirement = Requirement(line)
        if requirement.marker is not None:  # optional extras (bench, aml) are not the model's
            continue
        pins.append(f"{requirement.name}=={metadata.version(requirement.name)}")
    wheel = os.environ.get(WHEEL_VARIABLE)
    if wheel:
        wheel_path = Path(wheel)
        if not wheel_path.is_file():
            raise UsageError(f"{WHEEL_VARIABLE}={wheel} is not a file; the AML image installs it there")
        return [f"wheels/{wheel_path.name}", *sorted(pins)], wheel_path
    return sorted(pins), None


def _save_pyfunc(model_dir: Path, target: Path, python_model: Any) -> None:
    """Save `python_model` (`demand_forecast.pyfunc.python_model()`, which carries its
    `logged_signature`) with the model folder as its artifact."""
    import mlflow.pyfunc

    requirements, wheel = model_requirements()
    mlflow.pyfunc.save_model(
        path=str(target),
        python_model=python_model,
        artifacts={MODEL_ARTIFACT: str(model_dir)},
        signature=python_model.logged_signature,
        pip_requirements=requirements,
        code_paths=None if wheel else [str(Path(__file__).resolve().parent)],
    )
    if wheel is not None:
        (target / "wheels").mkdir(exist_ok=True)
        shutil.copy2(wheel, target / "wheels" / wheel.name)


def _register_version(name: str, run_id: str) -> str:
    """A new version of `name` whose source is the run's logged pyfunc at its artifact location
    (`<run artifact_uri>/model`), resolved here on the client: `create_registered_model` (tolerating
    both "already exists" codes, as MLflow's own `_register_model` does), then
    `create_model_version(name, source, run_id=...)`, the two registry calls AML serves
    (https://learn.microsoft.com/azure/machine-learning/how-to-manage-models-mlflow#support-matrix-for-managing-models-with-mlflow).

    Not `mlflow.register_model("runs:/...")`: it looks for MLmodel in the run's artifact listing and,
    not finding it, falls back to MLflow 3's logged-models API (mlflow/tracking/_model_registry/fluent.py
    `_register_model`; https://github.com/mlflow/mlflow/issues/14487). azureml-mlflow's artifact
    repository lists the `model` directory rather than its files there, and AML does not serve the
    logged-models API (tests/model/aml_mlflow_routes.py), so that path fails only in the cloud.
    The registry stores a location it can serve, never a `runs:/` it would have to resolve."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import ALREADY_EXISTS, RESOURCE_ALREADY_EXISTS, ErrorCode

    client = mlflow.MlflowClient()
    try:
        client.create_registered_model(name)
    except MlflowException as exc:
        if exc.error_code not in (ErrorCode.Name(RESOURCE_ALREADY_EXISTS), ErrorCode.Name(ALREADY_EXISTS)):
            raise
    artifacts = client.get_run(run_id).info.artifact_uri.rstrip("/")
    version = client.create_model_version(name, f"{artifacts}/{MODEL_ARTIFACT_PATH}", run_id=run_id)
    return str(version.version)


def _log_and_register(
    client: MlflowClient,
    settings: Settings,
    model_dir: Path,
    info: ModelInfo,
    metrics: Metrics,
    name: str,
    python_model: Any,
) -> str:
    """One run holding the candidate's params, holdout metrics and pyfunc; its registry version."""
    import mlflow

    candidate_mape = metrics.overall.ensemble.mape
    try:
        with _run(settings, f"register-{info.model_version}") as run_id:
            holdout = {}
            for model_name, record in metrics.overall.by_model().items():
                if record is None:
                    continue
                for key in ("mape", "wape", "bias", "rmse", "rmse_zero_actual"):
                    value = getattr(record, key)
                    if value is not None:
                        holdout[f"holdout_{model_name}_{key}"] = float(value)
            _log_batch(client, run_id, flatten("", info.config), holdout, {"step": "register"})
            client.log_dict(run_id, metrics.to_json(), "metrics.json")
            with tempfile.TemporaryDirectory(prefix="pyfunc-") as scratch:
                target = Path(scratch) / MODEL_ARTIFACT_PATH
                _save_pyfunc(model_dir, target, python_model)
                client.log_artifacts(run_id, str(target), MODEL_ARTIFACT_PATH)
            registered = _register_version(name, run_id)
        tags = {
            "model_version": info.model_version,
            "holdout_start": info.holdout.start,
            "holdout_mape": "" if candidate_mape is None else str(candidate_mape),
            "holdout_wape": _tag(metrics.overall.ensemble.wape),
            "holdout_bias": _tag(metrics.overall.ensemble.bias),
        }
        for key, value in tags.items():
            client.set_model_version_tag(name, registered, key, value)
    except mlflow.exceptions.MlflowException as exc:
        raise _registry_error(f"registering {name}", exc) from exc
    return registered


def _tag(value: float | None) -> str:
    return "" if value is None else str(value)


def bias_refusal(metrics: Metrics, max_abs_bias: float | None) -> str | None:
    """Why the candidate may not be promoted for its volume bias, or None when it may.

    The holdout bias (sum forecast / sum actual - 1, `demand_forecast.metrics.bias`) of the ensemble
    must lie within +-`max_abs_bias` (setting `register.max_abs_bias`; None switches the check off):
    MAPE alone rewards forecasting low, and a model that wins on MAPE by shipping short is refused."""
    candidate_bias = metrics.overall.ensemble.bias
    if max_abs_bias is None or candidate_bias is None or abs(candidate_bias) <= max_abs_bias:
        return None
    return (
        f"candidate volume bias {candidate_bias:+.1%} on the holdout is beyond the limit "
        f"+-{max_abs_bias:.1%} (register.max_abs_bias); not promoted"
    )


def promotion(
    candidate_mape: float | None,
    current: Champion | None,
    metrics: Metrics,
    margin: float,
    max_abs_bias: float | None = None,
) -> tuple[bool, str, float | None]:
    """(promote?, why, champion MAPE): the candidate wins when its MAPE <= champion MAPE x (1 - margin)
    and its holdout volume bias is within +-`max_abs_bias` (`bias_refusal`).

    The champion's MAPE is its score on the same holdout when evaluate had one, else the MAPE
    recorded on its own holdout (tag `holdout_mape`)."""
    champion_mape: float | None = None
    source = ""
    if current is not None:
        overall_champion = metrics.overall.champion
        if overall_champion is not None and overall_champion.mape is not None:
            champion_mape, source = float(overall_champion.mape), "on the same holdout"
        elif current.tags.get("holdout_mape"):
            champion_mape = float(current.tags["holdout_mape"])
            source = "from its own holdout (evaluate ran without --champion)"
    if candidate_mape is None:
        return False, "candidate has no MAPE (every holdout actual is zero); not promoted", champion_mape
    refusal = bias_refusal(metrics, max_abs_bias)
    if refusal is not None:
        return False, refusal, champion_mape
    if current is None:
        return True, "no champion yet: the first model becomes champion", None
    if champion_mape is None:
        return True, f"champion v{current.version} has no recorded MAPE; candidate replaces it", None
    bar = champion_mape * (1 - margin)
    promoted = candidate_mape <= bar
    verdict = "beats" if promoted else "does not beat"
    reason = (
        f"candidate MAPE {candidate_mape:.4f} {verdict} champion v{current.version} "
        f"MAPE {champion_mape:.4f} {source} by the margin {margin:.1%} (needs <= {bar:.4f})"
    )
    return promoted, reason, champion_mape


def segment_promotion(
    routing: Routing,
    whole: tuple[bool, str],
    current: Champion | None,
    metrics: Metrics,
    margin: float,
    max_abs_bias: float | None,
) -> tuple[bool, str]:
    """(promote?, why) of a routed bundle (docs/scale.md, "Per-segment promotion").

    `whole` is `promotion()`'s answer for the candidate as a whole. It stands when the candidate has
    no MAPE or a volume bias beyond `register.max_abs_bias` (refusals not about MAPE), when there is
    no champion, and when evaluate had no champion scores on this holdout. Otherwise the bundle
    becomes champion when at least one segment routes to the candidate and no segment routed to it
    is worse than the champion's model on the same holdout (`routing.worse_segments`)."""
    failed = sorted(s for s, r in routing.segments.items() if r.failed)
    kept_failed = f"; {len(failed)} segments of failed partitions keep the champion's models" * bool(failed)
    blocked = metrics.overall.ensemble.mape is None or bias_refusal(metrics, max_abs_bias) is not None
    if current is None or metrics.overall.champion is None or blocked:
        return whole[0], whole[1] + kept_failed
    routed = routing.routed("candidate")
    worse = worse_segments(routing)
    summary = (
        f"{len(routed)} of {len(routing.segments)} segments route to the candidate (holdout MAPE <= "
        f"champion v{current.version}'s x (1 - {margin:.1%}) on the same holdout), "
        f"{len(routing.segments) - len(routed)} keep the champion's models{kept_failed}"
    )
    if worse:
        return False, f"{summary}; not promoted: worse than the champion in {', '.join(worse)}"
    if not routed:
        return False, f"{summary}; not promoted: no segment beats the champion"
    return True, f"{summary}; promoted"


def _champion_folder(settings: Settings, current: Champion | None) -> Path | None:
    """The champion's model folder or bundle, downloaded: its models are copied into the new bundle.

    RegistryError when the registry names a champion whose files cannot be downloaded: its segments
    could not keep the champion's models, so registering would drop them."""
    if current is None:
        return None
    folder = download_model(settings, current.uri)
    if folder is None:
        raise RegistryError(
            f"champion {current.uri} is registered but its model files cannot be downloaded; restore them "
            "or promote another version before registering"
        )
    return folder


def register_model(
    settings: Settings,
    model_dir: Path,
    info: ModelInfo,
    metrics: Metrics,
    name: str,
    margin: float,
    python_model: Any,
) -> Decision:
    """Register ONE bundle for this run (the candidate's models, the champion's where they stay better,
    `routing.json`; `demand_forecast.routing`) with the pyfunc (`python_model`,
    `demand_forecast.pyfunc.python_model()`), and make it champion by `segment_promotion`.

    FailedPartitionsError (exit 3) before anything is registered when too many of the candidate's
    partitions failed in training (`routing.check_failed_share`)."""
    import mlflow

    _configure(settings)
    client = mlflow.MlflowClient()
    candidate_mape = metrics.overall.ensemble.mape
    current = champion(settings, name)
    partitions = read_partitions(model_dir)
    check_failed_share(partitions, settings.distributed.max_failed_share, current is not None)
    failed = failed_regions(partitions)
    max_abs_bias = settings.register_.max_abs_bias
    promoted, reason, champion_mape = promotion(candidate_mape, current, metrics, margin, max_abs_bias)
    with tempfile.TemporaryDirectory(prefix="bundle-") as scratch:
        champion_dir = _champion_folder(settings, current)
        routes = ChampionRoutes.of(champion_dir) if champion_dir is not None else None
        segments = failed_partition_segments(partitions)
        routing = decide_routing(metrics, info.model_version, routes, failed, margin, promoted, segments)
        bundle = assemble_bundle(model_dir, routing, champion_dir, Path(scratch) / "bundle")
        registered = _log_and_register(client, settings, bundle, info, metrics, name, python_model)
    promoted, reason = segment_promotion(routing, (promoted, reason), current, metrics, margin, max_abs_bias)
    if promoted:
        promote(settings, name, registered)
    return Decision(
        model_name=name,
        model_version=info.model_version,
        registered_version=registered,
        promoted=promoted,
        reason=reason,
        candidate_mape=candidate_mape,
        champion_mape=champion_mape,
        champion_version=current.version if current is not None else None,
        margin=margin,
        candidate_wape=metrics.overall.ensemble.wape,
        candidate_bias=metrics.overall.ensemble.bias,
        champion_wape=_champion_volume(metrics, current, "wape"),
        champion_bias=_champion_volume(metrics, current, "bias"),
        max_abs_bias=max_abs_bias,
        routed_segments=routing.routed("candidate"),
        champion_segments=routing.routed("champion"),
        failed_partitions=failed,
        routed_mape=routed_mape(routing, metrics),
    )


def _champion_volume(metrics: Metrics, current: Champion | None, key: str) -> float | None:
    """The champion's WAPE or bias: on the same holdout when evaluate had it, else its own tag."""
    if current is None:
        return None
    if metrics.overall.champion is not None:
        value: float | None = getattr(metrics.overall.champion, key)
        return value
    tag = current.tags.get(f"holdout_{key}")
    return float(tag) if tag else None


def promote(settings: Settings, name: str, version: str) -> None:
    """Make `version` the champion: move it to CHAMPION_STAGE, archiving the previous champion."""
    import mlflow

    _configure(settings)
    client = mlflow.MlflowClient()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            client.transition_model_version_stage(
                name, version, CHAMPION_STAGE, archive_existing_versions=True
            )
    except mlflow.exceptions.MlflowException as exc:
        raise _registry_error(f"promoting {name} v{version}", exc) from exc
