"""Loading the two inputs every step starts from: a validated dataset and a trained model.

Both the steps (`demand_forecast.pipeline`) and the MLflow pyfunc (`demand_forecast.pyfunc`) read
through here, so a data folder is validated the same way wherever it is read.
"""

from __future__ import annotations

from pathlib import Path

from demand_forecast.contracts import MODEL_INFO_FILE
from demand_forecast.data_contract import ValidationResult, validate_tables
from demand_forecast.dataset import read_raw_tables
from demand_forecast.errors import UsageError
from demand_forecast.settings import Settings
from demand_forecast.training import TrainedModel


def load_dataset(folder: Path, settings: Settings) -> ValidationResult:
    """Raw or conditioned folder in, validated tables out (unusable data raises DataContractError)."""
    return validate_tables(read_raw_tables(folder), settings.validate_)


def load_model(reference: str, settings: Settings) -> TrainedModel | None:
    """A model from a folder or an MLflow URI (models:/name@alias, runs:/...); None if the URI has none.

    Raises UsageError when `reference` is a folder without model_info.json, or neither a folder nor
    an MLflow URI."""
    path = Path(reference)
    if path.is_dir():
        if not (path / MODEL_INFO_FILE).is_file():
            raise UsageError(
                f"{path} is not a model folder (no {MODEL_INFO_FILE}); pass the --out folder of train"
            )
        return TrainedModel.load(path)
    if "://" not in reference and ":/" not in reference:
        raise UsageError(
            f"model {reference} is neither a folder nor an MLflow URI "
            "such as models:/demand-forecast@champion"
        )
    from demand_forecast.registry import download_model

    folder = download_model(settings, reference)
    return TrainedModel.load(folder) if folder is not None else None
