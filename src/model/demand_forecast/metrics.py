"""Forecast quality: MAPE without zero actuals, WAPE and bias of the volume, RMSE where the actual is
zero, RMSE overall.

MAPE is the case study's metric, and it rewards a low point forecast (its optimum is a
1/actual-weighted median). So every MAPE is reported beside two volume metrics that a forecast
biased low cannot hide from (Hyndman & Athanasopoulos, *Forecasting: Principles and Practice*, 3rd
ed., section 5.8; Kolassa & Schuetz 2007 for WAPE, "MAD/mean ratio"):

* WAPE = sum |forecast - actual| / sum actual, over every row (zero actuals included);
* bias = sum forecast / sum actual - 1, over every row: -0.2 means the forecasts carry 20% less
  volume than was shipped (a planner stocking from them runs short).

Both are None when the actuals sum to zero (no volume to compare with)."""

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


def wape(actual: Vector, forecast: Vector) -> float | None:
    """Weighted absolute percentage error: sum |forecast - actual| / sum |actual| over every row;
    None when the actuals sum to zero."""
    volume = float(np.sum(np.abs(actual)))
    if volume <= 0:
        return None
    return float(np.sum(np.abs(forecast - actual)) / volume)


def bias(actual: Vector, forecast: Vector) -> float | None:
    """Volume bias: sum forecast / sum actual - 1 over every row (0 = unbiased, -0.2 = 20% short);
    None when the actuals sum to zero."""
    volume = float(np.sum(actual))
    if volume <= 0:
        return None
    return float(np.sum(forecast) / volume - 1.0)


def scores(actual: Vector, forecast: Vector) -> dict[str, Any]:
    """The M record of metrics.json for one model on one set of rows."""
    zero = actual == 0
    n = len(actual)
    return {
        "mape": mape(actual, forecast),
        "wape": wape(actual, forecast),
        "bias": bias(actual, forecast),
        "rmse": float(np.sqrt(np.mean((forecast - actual) ** 2))) if n else 0.0,
        "rmse_zero_actual": float(np.sqrt(np.mean(forecast[zero] ** 2))) if zero.any() else None,
        "n": int(n),
        "n_zero_actual": int(zero.sum()),
    }
