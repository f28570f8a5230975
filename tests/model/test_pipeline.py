"""Model validation: the sample through validate, train, evaluate, register, score and monitor."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from demand_forecast.cli import main
from demand_forecast.errors import ExitStatus

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


@pytest.mark.slow
def test_model_folder_is_self_contained_and_describes_itself(sample_run: Path) -> None:
    from demand_forecast.training import TrainedModel

    info = json.loads((sample_run / "model" / "model_info.json").read_text())
    assert info["model_name"] == "demand-forecast"
    assert len(info["model_version"]) == 16
    assert info["holdout"]["weeks"] == 8
    assert info["train_last_week"] < info["holdout"]["start"] <= info["holdout"]["end"]
    segments = {s["segment"] for s in info["segments"]}
    assert {s.split("|")[1] for s in segments} == {"large", "small"}
    assert {s.split("|")[2] for s in segments} == {"fast", "slow"}
    assert len({s.split("|")[0] for s in segments}) == 14
    assert info["config"]["nn"]["epochs"] == 3
    model = TrainedModel.load(sample_run / "model")
    assert set(model.lasso) >= {s for s in segments if s in model.lasso}


@pytest.mark.slow
def test_evaluate_reports_every_model_and_the_ensemble_beats_the_baseline(sample_run: Path) -> None:
    metrics = json.loads((sample_run / "eval" / "metrics.json").read_text())
    overall = metrics["overall"]
    assert overall["champion"] is None  # first model ever: no champion, not an error
    for name in ("baseline", "lasso", "nn", "ensemble"):
        record = overall[name]
        assert set(record) == {"mape", "wape", "bias", "rmse", "rmse_zero_actual", "n", "n_zero_actual"}
        assert record["n"] > 0
        assert record["n_zero_actual"] > 0
        assert record["wape"] > 0  # a volume to compare with, never NaN
        assert record["bias"] >= -1
    # On held-out weeks of generated data the ensemble must clearly beat the historical average.
    assert overall["ensemble"]["mape"] < 0.85 * overall["baseline"]["mape"]
    assert overall["ensemble"]["rmse"] < overall["baseline"]["rmse"]
    models = {s["model"] for s in metrics["segments"]}
    assert models == {"baseline", "lasso", "nn", "ensemble"}
    assert metrics["target_mape"] == 0.45


@pytest.mark.slow
def test_register_promotes_the_first_model_and_not_an_equal_one(sample_run: Path, tmp_path: Path) -> None:
    model, metrics = sample_run / "model", sample_run / "eval" / "metrics.json"
    assert (
        main(["register", "--model", str(model), "--metrics", str(metrics), "--out", str(tmp_path / "r1")])
        == 0
    )
    first = json.loads((tmp_path / "r1" / "decision.json").read_text())
    assert first["promoted"] is True
    assert first["champion_version"] is None
    # Same model again, evaluated against the champion: equal is not better by the margin, exit 0.
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(model),
                "--data",
                str(sample_run / "conditioned"),
                "--out",
                str(tmp_path / "e2"),
                "--champion",
                "models:/demand-forecast/Production",
            ]
        )
        == 0
    )
    again = json.loads((tmp_path / "e2" / "metrics.json").read_text())
    assert again["overall"]["champion"]["mape"] == pytest.approx(again["overall"]["ensemble"]["mape"])
    assert (
        main(
            [
                "register",
                "--model",
                str(model),
                "--metrics",
                str(tmp_path / "e2" / "metrics.json"),
                "--out",
                str(tmp_path / "r2"),
            ]
        )
        == 0
    )
    second = json.loads((tmp_path / "r2" / "decision.json").read_text())
    assert second["promoted"] is False
    assert second["champion_version"] == first["registered_version"]
    assert int(second["registered_version"]) == int(first["registered_version"]) + 1
    # Per segment (issue 20): equal in every segment is not better by the margin anywhere.
    assert "no segment beats the champion" in second["reason"]
    assert second["routed_segments"] == []
    assert len(second["champion_segments"]) == len(first["routed_segments"])
    # A margin of zero lets the equal model through: the margin is what decides.
    assert (
        main(
            [
                "register",
                "--model",
                str(model),
                "--metrics",
                str(tmp_path / "e2" / "metrics.json"),
                "--out",
                str(tmp_path / "r3"),
                "--margin",
                "0",
            ]
        )
        == 0
    )
    assert json.loads((tmp_path / "r3" / "decision.json").read_text())["promoted"] is True

    # The registered pyfunc serves forecasts by itself (what an MLflow deployment would call).
    import mlflow.pyfunc
    from demand_forecast.registry import champion
    from demand_forecast.settings import load_settings

    current = champion(load_settings())  # the champion is a registry stage, not an MLflow alias
    assert current is not None
    served = mlflow.pyfunc.load_model(current.uri).predict(
        pd.DataFrame({"data_dir": [str(SAMPLE)], "horizon": [1]})
    )
    assert len(served) > 0
    assert served["model_version"].unique().tolist() == [first["model_version"]]

    # score and monitor accept the registry URI as well as the folder.
    out = tmp_path / "scored"
    assert (
        main(
            [
                "score",
                "--model",
                "models:/demand-forecast/Production",
                "--data",
                str(SAMPLE),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    forecasts = pd.read_csv(out / "forecasts.csv")
    assert forecasts["model_version"].unique().tolist() == [first["model_version"]]


@pytest.mark.slow
def test_score_forecasts_the_requested_weeks_for_active_series(sample_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "scored"
    assert (
        main(
            [
                "score",
                "--model",
                str(sample_run / "model"),
                "--data",
                str(SAMPLE),
                "--out",
                str(out),
                "--horizon",
                "3",
            ]
        )
        == 0
    )
    forecasts = pd.read_csv(out / "forecasts.csv", dtype={"store_id": str, "product_id": str})
    assert list(forecasts.columns) == [
        "week_start",
        "store_id",
        "product_id",
        "region",
        "store_format",
        "segment",
        "forecast_units",
        "model_name",
        "model_version",
        "assumed_inputs",
    ]
    assert forecasts["assumed_inputs"].isna().all()  # the sample lacks no input the model was trained on
    shipments = pd.read_csv(SAMPLE / "shipments.csv", parse_dates=["week_start"])
    last = shipments["week_start"].max()
    expected_weeks = [(last + pd.Timedelta(weeks=k)).strftime("%Y-%m-%d") for k in (1, 2, 3)]
    assert sorted(forecasts["week_start"].unique()) == expected_weeks
    active = shipments[shipments["week_start"] > last - pd.Timedelta(weeks=13)]
    assert forecasts.groupby("week_start").size().unique().tolist() == [
        active.groupby(["store_id", "product_id"]).ngroups
    ]
    assert (forecasts["forecast_units"] >= 0).all()
    assert not forecasts.duplicated(["week_start", "store_id", "product_id"]).any()


@pytest.mark.slow
def test_score_as_of_uses_only_shipments_before_it(sample_run: Path, tmp_path: Path) -> None:
    as_of = "2024-06-03"
    changed = tmp_path / "changed"
    changed.mkdir()
    for path in SAMPLE.glob("*.csv"):
        (changed / path.name).write_text(path.read_text())
    shipments = pd.read_csv(changed / "shipments.csv")
    later = shipments["week_start"] >= as_of
    shipments.loc[later, "units"] = shipments.loc[later, "units"] * 5
    shipments.to_csv(changed / "shipments.csv", index=False)
    runs = []
    for name, data in (("a", SAMPLE), ("b", changed)):
        assert (
            main(
                [
                    "score",
                    "--model",
                    str(sample_run / "model"),
                    "--data",
                    str(data),
                    "--out",
                    str(tmp_path / name),
                    "--as-of",
                    as_of,
                    "--horizon",
                    "2",
                ]
            )
            == 0
        )
        runs.append(pd.read_csv(tmp_path / name / "forecasts.csv"))
    pd.testing.assert_frame_equal(runs[0], runs[1])
    assert runs[0]["week_start"].min() == as_of
    assert (
        main(
            [
                "score",
                "--model",
                str(sample_run / "model"),
                "--data",
                str(SAMPLE),
                "--out",
                str(tmp_path / "c"),
                "--as-of",
                "2024-06-04",
            ]
        )
        == ExitStatus.SETUP_FAULT
    )  # not a Monday


@pytest.mark.slow
def test_monitor_reports_staleness_drift_and_recent_mape(sample_run: Path, tmp_path: Path) -> None:
    model = sample_run / "model"
    assert main(["monitor", "--model", str(model), "--data", str(SAMPLE), "--out", str(tmp_path / "m")]) == 0
    report = json.loads((tmp_path / "m" / "monitoring.json").read_text())
    assert report["recent_weeks"] == 4
    assert 0 < report["recent_mape"] < 1.5
    assert report["stale_after_days"] == 60
    # the sample is historical: trained today on data that ends at as-of, the model is current
    assert report["age_days"] == 0
    assert report["stale"] is False
    assert "price" in report["drift"]
    assert not report["drift_alert"]
    # A year after training the model is stale; prices doubled in the data is input drift.
    shifted = tmp_path / "shifted"
    shifted.mkdir()
    for path in SAMPLE.glob("*.csv"):
        (shifted / path.name).write_text(path.read_text())
    promotions = pd.read_csv(shifted / "promotions.csv")
    promotions["price"] *= 3
    promotions.to_csv(shifted / "promotions.csv", index=False)
    as_of = pd.Timestamp(report["as_of"])
    future = (as_of + pd.Timedelta(weeks=57)).strftime("%Y-%m-%d")
    assert (
        main(
            [
                "monitor",
                "--model",
                str(model),
                "--data",
                str(shifted),
                "--out",
                str(tmp_path / "m2"),
                "--as-of",
                future,
            ]
        )
        == 0
    )
    drifted = json.loads((tmp_path / "m2" / "monitoring.json").read_text())
    assert drifted["stale"] is True
    assert drifted["age_days"] == 57 * 7
    assert drifted["drift"]["price"] > 0.25
    assert drifted["drift_alert"] is True


@pytest.mark.slow
def test_monitor_joins_issued_forecasts_to_arrived_actuals(sample_run: Path, tmp_path: Path) -> None:
    model = str(sample_run / "model")
    # Forecasts issued in the past: their weeks' actuals are in the data now.
    assert (
        main(
            [
                "score",
                "--model",
                model,
                "--data",
                str(SAMPLE),
                "--out",
                str(tmp_path / "past"),
                "--as-of",
                "2024-12-02",
                "--horizon",
                "2",
            ]
        )
        == 0
    )
    assert (
        main(
            [
                "monitor",
                "--model",
                model,
                "--data",
                str(SAMPLE),
                "--out",
                str(tmp_path / "m"),
                "--forecasts",
                str(tmp_path / "past" / "forecasts.csv"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "m" / "monitoring.json").read_text())
    assert report["recent_source"].startswith("forecasts in forecasts.csv")
    assert report["recent_weeks"] == 2
    assert report["recent_mape"] is not None
    # Fresh forecasts (no actuals yet): the backtest stands in, and says so.
    assert main(["score", "--model", model, "--data", str(SAMPLE), "--out", str(tmp_path / "fresh")]) == 0
    assert (
        main(
            [
                "monitor",
                "--model",
                model,
                "--data",
                str(SAMPLE),
                "--out",
                str(tmp_path / "m2"),
                "--forecasts",
                str(tmp_path / "fresh" / "forecasts.csv"),
            ]
        )
        == 0
    )
    fresh = json.loads((tmp_path / "m2" / "monitoring.json").read_text())
    assert "backtest" in fresh["recent_source"]
    assert fresh["recent_weeks"] == 4


@pytest.mark.parametrize(
    ("trained_at", "data_end", "as_of", "age"),
    [
        # production: trained the Monday after the data ended, scored a week later
        ("2026-11-16T06:00:00+00:00", "2026-11-09", "2026-11-23", 7),
        # backfill: trained years after the data; age counts from the data's end, not the wall clock
        ("2026-11-23T06:00:00+00:00", "2024-06-24", "2024-07-01", 0),
        ("2026-11-23T06:00:00+00:00", "2024-06-24", "2024-09-02", 63),
        # scoring a week the model already saw is current, never negative
        ("2026-11-23T06:00:00+00:00", "2024-06-24", "2024-05-06", 0),
    ],
)
def test_model_age_counts_from_the_earlier_of_training_and_data_end(
    trained_at: str, data_end: str, as_of: str, age: int
) -> None:
    from demand_forecast.pipeline import model_age_days

    info = {"trained_at": trained_at, "holdout": {"start": "2020-01-06", "end": data_end}}
    assert model_age_days(info, pd.Timestamp(as_of)) == age
