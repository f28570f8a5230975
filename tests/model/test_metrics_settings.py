"""Metrics as the case study defines them, and settings that refuse typos."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from demand_forecast.errors import UsageError
from demand_forecast.metrics import mape, scores
from demand_forecast.settings import load_settings


def test_mape_excludes_zero_actuals_and_rmse_zero_actual_covers_them() -> None:
    actual = np.array([10.0, 0.0, 20.0, 0.0])
    forecast = np.array([12.0, 3.0, 10.0, 4.0])
    assert mape(actual, forecast) == pytest.approx((0.2 + 0.5) / 2)
    record = scores(actual, forecast)
    assert record["rmse_zero_actual"] == pytest.approx(np.sqrt((9 + 16) / 2))
    assert record["rmse"] == pytest.approx(np.sqrt((4 + 9 + 100 + 16) / 4))
    assert (record["n"], record["n_zero_actual"]) == (4, 2)
    assert mape(np.zeros(3), np.ones(3)) is None


def test_config_overlay_applies_and_a_typo_is_an_error(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("nn:\n  epochs: 2\nregister:\n  margin: 0.05\n")
    settings = load_settings(good)
    assert (settings.nn.epochs, settings.register_.margin, settings.train.seed) == (2, 0.05, 42)
    bad = tmp_path / "bad.yaml"
    bad.write_text("nn:\n  epohcs: 2\n")
    with pytest.raises(UsageError, match=r"nn\.epohcs"):
        load_settings(bad)
    with pytest.raises(UsageError, match="margin"):
        load_settings(overrides={"register": {"margin": 2}})


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.nn.epochs = 1  # type: ignore[misc]


def test_distributed_defaults_and_an_overlay(tmp_path: Path) -> None:
    defaults = load_settings().distributed
    assert (defaults.workers, defaults.backend, defaults.max_failed_share) == (1, None, 0.05)
    overlay = tmp_path / "workers.yaml"
    overlay.write_text("distributed:\n  workers: 4\n  backend: gloo\n  max_failed_share: 0\n")
    chosen = load_settings(overlay).distributed
    assert (chosen.workers, chosen.backend, chosen.max_failed_share) == (4, "gloo", 0.0)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("workers", 0),
        ("workers", -2),
        ("workers", "two"),
        ("backend", "mpi"),
        ("backend", "GLOO"),
        ("max_failed_share", -0.01),
        ("max_failed_share", 1.5),
        ("wokers", 2),
    ],
)
def test_bad_distributed_settings_name_file_and_key(tmp_path: Path, key: str, value: object) -> None:
    """A bad value is the project's UsageError naming the file and `distributed.<key>`, not a traceback."""
    overlay = tmp_path / "distributed.yaml"
    overlay.write_text(f"distributed:\n  {key}: {value!r}\n".replace("'", '"'))
    with pytest.raises(UsageError, match=rf"distributed\.yaml.*distributed\.{key}") as caught:
        load_settings(overlay)
    assert "defaults.yaml" in str(caught.value)
