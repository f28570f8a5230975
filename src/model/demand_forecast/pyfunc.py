"""The MLflow pyfunc flavour of a model folder: what `register` logs and a served model runs."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from demand_forecast.loading import load_dataset, read_model_folder
from demand_forecast.scoring import FORECAST_COLUMNS, forecast

if TYPE_CHECKING:  # typing only: mlflow is imported when the flavour is built (seconds)
    from mlflow.models import ModelSignature

MODEL_ARTIFACT = "model_dir"


class DemandForecastPyfunc:
    """MLflow pyfunc wrapper. Input: a one-row DataFrame with `data_dir` and optional `as_of`, `horizon`;
    output: the forecasts table of `score`. The model folder is the artifact `MODEL_ARTIFACT`: since
    issue 20 the registered bundle, read as a `RoutedModel`, so each series is answered by the model
    its segment routes to and each row's `model_version` names it (`scoring.forecast`)."""

    def load_context(self, context: Any) -> None:
        self.model = read_model_folder(Path(context.artifacts[MODEL_ARTIFACT]))

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        request = model_input.iloc[0]
        tables = load_dataset(Path(str(request["data_dir"])), self.model.settings).tables
        as_of = pd.Timestamp(request["as_of"]) if "as_of" in request and pd.notna(request["as_of"]) else None
        horizon = int(request["horizon"]) if "horizon" in request and pd.notna(request["horizon"]) else 1
        return forecast(self.model, tables, as_of, horizon)


def model_signature() -> ModelSignature:
    """The pyfunc's signature: one request row in, the forecasts table of `score` out."""
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    numeric = {"forecast_units": "double"}
    return ModelSignature(
        inputs=Schema(
            [
                ColSpec("string", "data_dir"),
                ColSpec("string", "as_of", required=False),
                ColSpec("long", "horizon", required=False),
            ]
        ),
        outputs=Schema([ColSpec(numeric.get(column, "string"), column) for column in FORECAST_COLUMNS]),
    )


def python_model() -> Any:
    """A `mlflow.pyfunc.PythonModel` instance of `DemandForecastPyfunc`.

    Built lazily so importing this module does not import mlflow (seconds) for `score` from a folder."""
    import mlflow.pyfunc

    model_class = type("DemandForecastModel", (DemandForecastPyfunc, mlflow.pyfunc.PythonModel), {})
    instance = model_class()
    # what `registry.register_model` logs the model with (an attribute MLflow does not read)
    instance.logged_signature = model_signature()
    return instance
