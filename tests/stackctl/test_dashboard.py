"""The dashboard shows what the reporting database holds, once: one row per series and week, and
every MAPE with its window and beside WAPE and bias."""

from __future__ import annotations

import pandas as pd
import pytest


def _backtest(run_id: str, weeks: list[str], series: list[tuple[str, str]], forecast: float) -> pd.DataFrame:
    rows = [
        {
            "run_id": run_id,
            "week_start": week,
            "store_id": store,
            "product_id": product,
            "actual_units": 10.0 * (i + 1),
            "forecast_units": forecast,
        }
        for week in weeks
        for i, (store, product) in enumerate(series)
    ]
    return pd.DataFrame(rows)


def _runs() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "run_id": "train-1",
                "pipeline": "training",
                "status": "succeeded",
                "finished_at": "2024-01-01 10:00",
            },
            {
                "run_id": "score-1",
                "pipeline": "scoring",
                "status": "succeeded",
                "finished_at": "2024-01-01 11:00",
            },
        ]
    )


SERIES = [("1", "a"), ("1", "b"), ("2", "a")]


@pytest.mark.parametrize(
    ("holdout_weeks", "recent_weeks"),
    [
        (["2024-12-02", "2024-12-09", "2024-12-16"], ["2024-12-09", "2024-12-16", "2024-12-23"]),  # partial
        (["2024-12-16"], ["2024-12-16"]),  # the same single week
        (["2024-12-02", "2024-12-09"], ["2024-12-02", "2024-12-09"]),  # fully overlapping windows
    ],
)
def test_overlapping_runs_give_one_row_per_series_and_week(
    holdout_weeks: list[str], recent_weeks: list[str]
) -> None:
    from stackctl.local.dashboard import _actual_vs_forecast, _Views, one_row_per_series_week

    backtest = pd.concat(
        [_backtest("train-1", holdout_weeks, SERIES, 5.0), _backtest("score-1", recent_weeks, SERIES, 7.0)]
    )
    views = _Views(
        runs=_runs(),
        metrics=pd.DataFrame(),
        health=pd.DataFrame(),
        backtest=backtest,
        forecasts=pd.DataFrame(columns=["week_start", "store_id", "product_id", "forecast_units"]),
        steps=pd.DataFrame(),
        quality=pd.DataFrame(),
    )
    kept = one_row_per_series_week(backtest, ["score-1", "train-1"])
    assert not kept.duplicated(["store_id", "product_id", "week_start"]).any()
    weeks = sorted(set(holdout_weeks) | set(recent_weeks))
    assert len(kept) == len(weeks) * len(SERIES)
    # where both runs cover a week, the scoring run's forecast is shown
    assert set(kept[kept.week_start.isin(recent_weeks)].forecast_units) == {7.0}

    figure = _actual_vs_forecast(views, series_to_plot=1)
    assert figure is not None
    actual_trace = figure.data[0]
    # each week's total is the actuals of that week once: 10 + 20 + 30 units
    assert list(actual_trace.y) == [60.0] * len(weeks)
