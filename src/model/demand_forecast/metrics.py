"""Forecast quality: MAPE without zero actuals, RMSE where the actual is zero, RMSE overall."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

Vector = npt.NDArray[np.float64]


def mape(actual: Vector, forecast: Vector) -> float | None:
    """Mean absolute percentage error over non-zero actuals; None when every actual is zero."""
    nonzero = actual != 0
    if not nonzero.any():
        return None
    return float(np.mean(np.abs(forecast[nonzero] - actual[nonzero]) / np.abs(actual[nonzero])))


def scores(actual: Vector, forecast: Vector) -> dict[str, Any]:
    """The M record of metrics.json for one model on one set of rows."""
    zero = actual == 0
    n = len(actual)
    return {
        "mape": mape(actual, forecast),
        "rmse": float(np.sqrt(np.mean((forecast - actual) ** 2))) if n else 0.0,
        "rmse_zero_actual": float(np.sqrt(np.mean(forecast[zero] ** 2))) if zero.any() else None,
        "n": int(n),
        "n_zero_actual": int(zero.sum()),
    }
