"""Per-horizon shifts of recursive forecasts (demand_forecast.training.horizons): fitted at training,
kept by save/load, applied by `forecast` to week h > 1 only, and read as zero by older models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest


def _load(sample_run: Path):  # type: ignore[no-untyped-def]
    from demand_forecast.training import TrainedModel

    return TrainedModel.load(sample_run / "model")


def test_training_fits_one_shift_per_validated_horizon_week_one_unshifted(sample_run: Path) -> None:
    from demand_forecast.scoring import VALIDATED_HORIZON

    offsets = _load(sample_run).horizon_offsets
    assert len(offsets) == VALIDATED_HORIZON
    assert offsets[0] == 0.0
    assert all(np.isfinite(offsets)) and all(abs(v) < 2.0 for v in offsets)


@pytest.mark.parametrize(("step", "expected"), [(0, 0.0), (2, 0.3), (40, 0.5)])
def test_the_shift_of_a_step_beyond_those_fitted_is_the_last_one(
    sample_run: Path, step: int, expected: float
) -> None:
    model = _load(sample_run)
    model.horizon_offsets = [0.0, 0.1, 0.3, 0.5]
    assert model.horizon_offset(step) == expected


def test_a_model_saved_without_shifts_loads_with_none(sample_run: Path, tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "old-model"
    shutil.copytree(sample_run / "model", folder)
    artefacts = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    artefacts.pop("horizon_offsets")
    (folder / "model.json").write_text(json.dumps(artefacts), encoding="utf-8")
    from demand_forecast.training import TrainedModel

    model = TrainedModel.load(folder)
    assert model.horizon_offsets == []
    assert model.horizon_offset(5) == 0.0


@pytest.mark.parametrize("shift", [-0.4, 0.2, 0.7])
def test_forecast_applies_each_weeks_shift_and_leaves_week_one_alone(sample_run: Path, shift: float) -> None:
    from demand_forecast.pipeline import load_dataset
    from demand_forecast.scoring import forecast
    from demand_forecast.settings import load_settings

    model = _load(sample_run)
    tables = load_dataset(sample_run / "conditioned", load_settings()).tables
    model.horizon_offsets = [0.0, 0.0]
    plain = forecast(model, tables, None, 2)
    model.horizon_offsets = [0.0, shift]
    moved = forecast(model, tables, None, 2)
    first = plain["week_start"] == plain["week_start"].min()
    assert np.array_equal(plain.loc[first, "forecast_units"], moved.loc[first, "forecast_units"])
    unit = model.spec.unit_scale
    before = plain.loc[~first, "forecast_units"].to_numpy()
    after = moved.loc[~first, "forecast_units"].to_numpy()
    expected = np.clip(unit * np.expm1(np.log1p(before / unit) + shift), 0, None)
    np.testing.assert_allclose(after, expected, rtol=1e-3, atol=1e-3)
