"""The MLflow REST routes Azure ML's workspace tracking server serves: the only ones our code may call.

Azure ML is not an MLflow server; it implements a documented part of the MLflow REST API, and a call
outside it fails only in the cloud (a 404 from the logged-models API of MLflow 3, an unsupported
alias call). Each route below is allowed because an AML page lists the capability it implements:

TRACKING = "Support matrix for querying runs and experiments" and the logging pages:
  https://learn.microsoft.com/azure/machine-learning/how-to-track-experiments-mlflow#support-matrix-for-querying-runs-and-experiments
  https://learn.microsoft.com/azure/machine-learning/how-to-log-view-metrics
  https://learn.microsoft.com/azure/machine-learning/how-to-use-mlflow-configure-tracking
REGISTRY = "Support matrix for managing models with MLflow":
  https://learn.microsoft.com/azure/machine-learning/how-to-manage-models-mlflow#support-matrix-for-managing-models-with-mlflow

Not allowed, on purpose: /api/2.0/mlflow/logged-models/* (MLflow 3 LoggedModel API; not in either
matrix), /api/2.0/mlflow/registered-models/alias (aliases: not in the registry matrix),
/api/2.0/mlflow/registered-models/set-tag (registered-model tags: the matrix lists version tags
only), /api/2.0/mlflow/model-versions/search, and /api/2.0/mlflow/registered-models/search: AML
refuses tag and LIKE filters ("Search registered models by tag" and "... by using string
comparators" are unsupported), and MLflow 3 adds ``tag.`mlflow.prompt.is_prompt` != 'true'`` to every
filter it sends to a non-Databricks registry (mlflow/tracking/_model_registry/client.py
`search_registered_models`), which AML answers 400 "Currently unsupported filter string format"
(https://github.com/Azure/azure-sdk-for-python/issues/42155); rename and delete of registered models.
Artifacts go to the workspace's storage through the azureml-mlflow artifact repository (no
tracking-server route); the test server stores them in a local folder the client writes directly.
"""

from __future__ import annotations

TRACKING = "how-to-track-experiments-mlflow / how-to-log-view-metrics"
REGISTRY = "how-to-manage-models-mlflow support matrix"

# (method, path) -> (AML page, the capability it lists)
ALLOWED_ROUTES: dict[tuple[str, str], tuple[str, str]] = {
    ("GET", "/api/2.0/mlflow/experiments/get-by-name"): (TRACKING, "getting experiments by name"),
    ("GET", "/api/2.0/mlflow/experiments/get"): (TRACKING, "getting experiments by id"),
    ("POST", "/api/2.0/mlflow/experiments/create"): (TRACKING, "creating experiments (set_experiment)"),
    ("POST", "/api/2.0/mlflow/runs/create"): (TRACKING, "start_run outside a job"),
    ("GET", "/api/2.0/mlflow/runs/get"): (TRACKING, "getting a run"),
    ("POST", "/api/2.0/mlflow/runs/update"): (TRACKING, "end_run (run status)"),
    ("POST", "/api/2.0/mlflow/runs/log-batch"): (TRACKING, "logging params, metrics, tags"),
    ("POST", "/api/2.0/mlflow/runs/log-metric"): (TRACKING, "logging metrics"),
    ("GET", "/api/2.0/mlflow/metrics/get-history"): (TRACKING, "get_metric_history"),
    ("POST", "/api/2.0/mlflow/registered-models/create"): (REGISTRY, "registering models"),
    ("GET", "/api/2.0/mlflow/registered-models/get"): (REGISTRY, "retrieving registered models"),
    ("POST", "/api/2.0/mlflow/model-versions/create"): (REGISTRY, "registering models from runs (runs:/)"),
    ("GET", "/api/2.0/mlflow/model-versions/get"): (REGISTRY, "retrieving model versions"),
    ("POST", "/api/2.0/mlflow/model-versions/set-tag"): (REGISTRY, "editing model version tags"),
    ("POST", "/api/2.0/mlflow/model-versions/transition-stage"): (REGISTRY, "managing model stages"),
    ("POST", "/api/2.0/mlflow/registered-models/get-latest-versions"): (REGISTRY, "querying model stages"),
    ("GET", "/api/2.0/mlflow/registered-models/get-latest-versions"): (REGISTRY, "querying model stages"),
    ("GET", "/api/2.0/mlflow/model-versions/get-download-uri"): (REGISTRY, "loading models from registry"),
}


def outside_allow_list(routes: list[tuple[str, str, int]]) -> list[tuple[str, str, int]]:
    """The recorded (method, path, status) calls AML would not serve."""
    return [(method, path, status) for method, path, status in routes if (method, path) not in ALLOWED_ROUTES]
