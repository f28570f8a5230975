"""Loading the two inputs every step starts from: a validated dataset and a trained model.

Both the steps (`demand_forecast.pipeline`) and the MLflow pyfunc (`demand_forecast.pyfunc`) read
through here, so a data folder is validated the same way wherever it is read. The validate step is
loading alone (`run_validate`), so this module imports the model code (torch, scikit-learn) only when
a model is read: `demand-forecast validate` starts without it (issue 27, item 3).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from demand_forecast.contracts import DATA_QUALITY_FILE, MODEL_INFO_FILE, DataQuality
from demand_forecast.data_contract import ValidationResult, validate_tables
from demand_forecast.dataset import read_raw_tables, write_tables
from demand_forecast.errors import UsageError
from demand_forecast.outputs import (
    MARKER,
    IncompleteOutputError,
    restore_interrupted,
    verify_complete,
    write_csv_atomic,
)
from demand_forecast.settings import Settings

if TYPE_CHECKING:
    from demand_forecast.training.model import TrainedModel


def load_dataset(folder: Path, settings: Settings) -> ValidationResult:
    """Raw or conditioned folder in, validated tables out (unusable data raises DataContractError)."""
    return validate_tables(read_raw_tables(folder), settings.validate_)


def run_validate(
    data: Path, out: Path, settings: Settings, say: Callable[[str], None] = print
) -> DataQuality:
    """The validate step: `data` validated into `out` (conditioned tables, quarantine.csv,
    data_quality.json); each warning said once. Raises DataContractError for unusable data."""
    result = load_dataset(data, settings)
    for message in result.warnings:
        say(f"warning: {message}")
    write_tables(result.tables, out, settings.validate_.output_format)
    write_csv_atomic(result.quarantine, out / "quarantine.csv")
    quality = DataQuality.parse(result.report, "the validation report")
    quality.write(out / DATA_QUALITY_FILE)
    return quality


MODEL_FIX = (
    "train it again, or pass another model (the registered champion: models:/demand-forecast/Production)"
)


def read_model_folder(path: Path) -> TrainedModel:
    """The model in folder `path`, complete and intact, or IncompleteOutputError naming the folder.

    A folder without train's `_SUCCESS` marker was cut short (a killed train, a failed copy); one
    whose files differ from the marker's sizes and hashes is corrupt (`demand_forecast.outputs`).
    Neither is ever read as a model (issue 25, kind 11)."""
    restore_interrupted(path)
    if not (path / MODEL_INFO_FILE).is_file() and not (path / MARKER).is_file():
        raise UsageError(
            f"{path} is not a model folder (no {MODEL_INFO_FILE}); pass the --out folder of train"
        )
    verify_complete(path, "model folder", MODEL_FIX)
    from demand_forecast.routed_model import RoutedModel
    from demand_forecast.training.model import TrainedModel  # torch, scikit-learn: only to read a model

    try:
        if RoutedModel.is_bundle(path):  # a registered bundle (docs/scale.md, per-segment promotion)
            return RoutedModel.load_bundle(path, read_model_folder)
        return TrainedModel.load(path)
    except (OSError, EOFError, ValueError, KeyError, TypeError, RuntimeError, pickle.UnpicklingError) as exc:
        raise IncompleteOutputError(
            f"model folder {path} is unreadable ({type(exc).__name__}: {exc}); {MODEL_FIX}"
        ) from exc


def load_model(reference: str, settings: Settings) -> TrainedModel | None:
    """A model from a folder or an MLflow URI (models:/name/Production, models:/name/<version>,
    runs:/...); None if the URI has none.

    Raises UsageError when `reference` is a folder without model_info.json, or neither a folder nor
    an MLflow URI; IncompleteOutputError (a UsageError) when the model is partial or corrupt."""
    path = Path(reference)
    if path.is_dir() or (not path.exists() and any(path.parent.glob(f".{path.name}.previous-*"))):
        return read_model_folder(path)
    if "://" not in reference and ":/" not in reference:
        raise UsageError(
            f"model {reference} is neither a folder nor an MLflow URI "
            "such as models:/demand-forecast/Production"
        )
    from demand_forecast.registry import download_model

    folder = download_model(settings, reference)
    return read_model_folder(folder) if folder is not None else None
