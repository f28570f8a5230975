"""WAPE and volume bias beside every MAPE, and the promotion gate that refuses a biased candidate."""

from __future__ import annotations

import numpy as np
import pytest
from demand_forecast.contracts import Holdout, Metrics, OverallScores, Scores
from demand_forecast.metrics import bias, scores, wape
from demand_forecast.registry import Champion, promotion

# (actual, forecast, WAPE, bias): hand-computed cases of each kind.
CASES = [
    # every forecast 20% low: MAPE 0.2, and the volume says so too
    (np.array([10.0, 20.0, 30.0]), np.array([8.0, 16.0, 24.0]), 0.2, -0.2),
    # a zero actual: out of MAPE, inside WAPE and bias (its forecast is volume shipped nowhere)
    (np.array([10.0, 0.0, 10.0]), np.array([10.0, 5.0, 10.0]), 0.25, 0.25),
    # errors that cancel in volume: WAPE sees them, bias does not
    (np.array([10.0, 10.0]), np.array([5.0, 15.0]), 0.5, 0.0),
    # a big series dominates WAPE, unlike MAPE: 1 unit of error on 100 and 1 on 1
    (np.array([100.0, 1.0]), np.array([99.0, 2.0]), 2.0 / 101.0, 0.0),
]


@pytest.mark.parametrize(("actual", "forecast", "expected_wape", "expected_bias"), CASES)
def test_wape_and_bias_of_hand_computed_cases(
    actual: np.ndarray, forecast: np.ndarray, expected_wape: float, expected_bias: float
) -> None:
    assert wape(actual, forecast) == pytest.approx(expected_wape)
    assert bias(actual, forecast) == pytest.approx(expected_bias)
    record = scores(actual, forecast)
    assert (record["wape"], record["bias"]) == (pytest.approx(expected_wape), pytest.approx(expected_bias))


def test_wape_and_bias_are_none_without_volume_never_nan() -> None:
    zeros = np.zeros(3)
    assert wape(zeros, np.ones(3)) is None
    assert bias(zeros, np.ones(3)) is None
    assert scores(zeros, np.ones(3))["bias"] is None


def _metrics(candidate_mape: float, candidate_bias: float, champion_mape: float | None) -> Metrics:
    def record(mape: float, volume_bias: float) -> Scores:
        return Scores(
            mape=mape, wape=mape, bias=volume_bias, rmse=1.0, rmse_zero_actual=None, n=10, n_zero_actual=0
        )

    return Metrics(
        model_name="demand-forecast",
        model_version="abc",
        holdout=Holdout(start="2024-01-01", end="2024-02-19", weeks=8),
        target_mape=0.45,
        overall=OverallScores(
            baseline=record(0.6, 0.0),
            lasso=record(0.5, 0.0),
            nn=record(0.5, 0.0),
            ensemble=record(candidate_mape, candidate_bias),
            champion=None if champion_mape is None else record(champion_mape, 0.0),
        ),
        segments=[],
        segments_meeting_target=0,
        segments_total=0,
    )


CHAMPION = Champion(name="demand-forecast", version="3", tags={})


@pytest.mark.parametrize(
    ("candidate_bias", "current", "champion_mape"),
    [
        (-0.35, CHAMPION, 0.40),  # beats the champion on MAPE by shipping 35% short
        (+0.31, CHAMPION, 0.40),  # too high is refused too
        (-0.50, None, None),  # even the first model ever is refused when it is that biased
    ],
)
def test_the_gate_refuses_a_candidate_whose_bias_exceeds_the_limit(
    candidate_bias: float, current: Champion | None, champion_mape: float | None
) -> None:
    metrics = _metrics(0.30, candidate_bias, champion_mape)
    promoted, reason, _ = promotion(0.30, current, metrics, 0.01, max_abs_bias=0.3)
    assert not promoted
    assert "bias" in reason
    assert "register.max_abs_bias" in reason


def test_the_gate_lets_a_candidate_within_the_limit_through_and_none_switches_it_off() -> None:
    metrics = _metrics(0.30, -0.29, 0.40)
    assert promotion(0.30, CHAMPION, metrics, 0.01, max_abs_bias=0.3)[0]
    biased = _metrics(0.30, -0.9, 0.40)
    assert promotion(0.30, CHAMPION, biased, 0.01, max_abs_bias=None)[0]
