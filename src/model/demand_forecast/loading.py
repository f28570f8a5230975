"""Loading the two inputs every step starts from: a validated dataset and a trained model.

Both the steps (`demand_forecast.pipeline`) and the MLflow pyfunc (`demand_forecast.pyfunc`) read
through here, so a data folder is validated the same way wherever it is read. The validate step is
loading alone (`run_validate`), so this module imports the model code (torch, scikit-learn) only when
a model is read: `demand-forecast validate` starts without it (issue 27, item 3).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Collection
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from demand_forecast.contracts import DATA_QUALITY_FILE, MODEL_INFO_FILE, DataQuality
from demand_forecast.data_contract import ValidationResult, validate_tables
from demand_forecast.dataset import (
    ALL_REGIONS,
    REGION,
    Tables,
    is_partitioned,
    read_partitioned,
    read_raw_tables,
    write_partitioned,
)
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


def load_dataset(
    folder: Path, settings: Settings, regions: Collection[str] | None = None
) -> ValidationResult:
    """Raw or conditioned folder in, validated tables out (unusable data raises DataContractError).

    `regions`: None reads every region (as before issue 20); a collection reads only those regions'
    rows. From a conditioned folder (`demand_forecast.partitioned`) only their partitions' files are
    opened and the report describes them; a folder of input CSVs has no partitions, so it is read and
    validated whole, then its tables are cut to those regions (the report stays the whole folder's).
    Raises UsageError for a conditioned folder of the layout before issue 20 (re-run validate)."""
    if is_partitioned(folder):
        return validate_tables(read_partitioned(folder, regions), settings.validate_)
    result = validate_tables(read_raw_tables(folder), settings.validate_)
    if regions is None:
        return result
    return ValidationResult(only_regions(result.tables, regions), result.quarantine, result.report)


def only_regions(tables: Tables, regions: Collection[str]) -> Tables:
    """`tables` cut to the stores of `regions`, their shipments and promotions, and the weather and
    events of those regions (events also those for every region, "*")."""
    wanted = set(regions)
    unknown = sorted(wanted - set(tables.stores[REGION]))
    if unknown:
        raise UsageError(
            f"region(s) {', '.join(unknown)} are in no store of stores.csv; ask for regions of that data"
        )
    stores = tables.stores[tables.stores[REGION].isin(wanted)].reset_index(drop=True)
    known = set(stores["store_id"])

    def of_stores(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        return None if frame is None else frame[frame["store_id"].isin(known)].reset_index(drop=True)

    def of_regions(frame: pd.DataFrame | None) -> pd.DataFrame | None:
        keep = wanted | {ALL_REGIONS}
        return None if frame is None else frame[frame[REGION].isin(keep)].reset_index(drop=True)

    shipments = of_stores(tables.shipments)
    assert shipments is not None  # shipments is required
    return Tables(
        shipments,
        stores,
        of_stores(tables.promotions),
        of_regions(tables.weather),
        of_regions(tables.events),
        tables.numeric_columns,
    )


def run_validate(
    data: Path, out: Path, settings: Settings, say: Callable[[str], None] = print
) -> DataQuality:
    """The validate step: `data` validated into `out` (the conditioned tables partitioned by region
    with `_partitions.json`, `demand_forecast.partitioned`; quarantine.csv, data_quality.json); each
    warning said once. Raises DataContractError for unusable data."""
    result = load_dataset(data, settings)
    for message in result.warnings:
        say(f"warning: {message}")
    write_partitioned(result.tables, out, settings.validate_.output_format)
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
