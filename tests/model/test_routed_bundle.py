"""A routed bundle end to end on the tiny 2-region panel (issue 20 item 3): champion trained a week
earlier, candidate on the full panel; one registered version holds both, answers each segment with
the model the table names, is never worse than either whole model on the holdout the routing was
decided on, and the failed-partition rule refuses or reports before/while registering."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pandas as pd
import pytest
from demand_forecast.cli import main

EPOCHS = "2"


def _train(data: Path, out: Path) -> None:
    assert main(["train", "--data", str(data), "--out", str(out), "--epochs", EPOCHS, "--no-tracking"]) == 0


def _evaluate(model: Path, data: Path, out: Path, name: str) -> dict[str, object]:
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(model),
                "--data",
                str(data),
                "--out",
                str(out),
                "--champion",
                f"models:/{name}/Production",
            ]
        )
        == 0
    )
    return dict(json.loads((out / "metrics.json").read_text()))


def _register(model: Path, evaluation: Path, out: Path, name: str, *extra: str, config: str = "") -> int:
    return main(
        (["--config", config] if config else [])
        + [
            "register",
            "--model",
            str(model),
            "--metrics",
            str(evaluation / "metrics.json"),
            "--out",
            str(out),
        ]
        + ["--name", name, *extra]
    )


@pytest.fixture(scope="module")
def two_weeks(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> dict[str, Path]:
    """The tiny panel cut one week short (the champion's week W) and whole (the candidate's W+1),
    each trained once."""
    work = tmp_path_factory.mktemp("two_weeks")
    earlier = work / "earlier"
    earlier.mkdir()
    for path in tiny_data.glob("*.csv"):
        (earlier / path.name).write_text(path.read_text())
    shipments = pd.read_csv(tiny_data / "shipments.csv", dtype=str)
    shipments[shipments["week_start"] < shipments["week_start"].max()].to_csv(
        earlier / "shipments.csv", index=False
    )
    _train(earlier, work / "champion")
    _train(tiny_data, work / "candidate")
    return {"work": work, "champion": work / "champion", "candidate": work / "candidate"}


def _versions(name: str) -> list[str]:
    import mlflow

    return [v.version for v in mlflow.MlflowClient().search_model_versions(f"name = '{name}'")]


@pytest.mark.slow
def test_one_registered_bundle_routes_each_segment_and_is_never_worse(
    two_weeks: dict[str, Path], tiny_data: Path, tmp_path: Path
) -> None:
    name = f"routing-{uuid.uuid4().hex[:8]}"
    work = two_weeks["work"]
    assert _evaluate(two_weeks["champion"], tiny_data, tmp_path / "e0", name)["champion_version"] is None
    assert _register(two_weeks["champion"], tmp_path / "e0", tmp_path / "r0", name) == 0
    first = json.loads((tmp_path / "r0" / "decision.json").read_text())
    assert first["promoted"] is True
    assert first["routed_segments"]
    assert first["champion_segments"] == []

    evaluation = _evaluate(two_weeks["candidate"], tiny_data, tmp_path / "e1", name)
    assert _register(two_weeks["candidate"], tmp_path / "e1", tmp_path / "r1", name, "--margin", "0") == 0
    decision = json.loads((tmp_path / "r1" / "decision.json").read_text())
    assert len(_versions(name)) == 2  # one registered version per run, whatever the routing
    routed = set(decision["routed_segments"])
    kept = set(decision["champion_segments"])
    # Both kinds on this seeded panel (6 of 8 segments to the candidate), so the copied champion model
    # is exercised; disjoint, and every segment of the holdout has an entry.
    assert routed
    assert kept
    assert not routed & kept

    # The registered bundle holds the table and the champion's model wherever a segment keeps it.
    from demand_forecast.loading import load_model
    from demand_forecast.pipeline import backtest
    from demand_forecast.routed_model import RoutedModel
    from demand_forecast.settings import load_settings

    bundle = load_model(f"models:/{name}/{decision['registered_version']}", load_settings())
    assert isinstance(bundle, RoutedModel)
    table = bundle.routing.segments
    assert set(table) == routed | kept
    champion_version = first["model_version"]
    assert {table[s].model_version for s in kept} <= {champion_version}
    assert set(bundle.members) == {decision["model_version"]} | ({champion_version} if kept else set())

    # Never worse than either whole model on the holdout the routing was decided on (margin 0).
    holdout = evaluation["holdout"]
    rows = backtest(bundle, _tables(tiny_data), pd.Timestamp(holdout["start"]), pd.Timestamp(holdout["end"]))
    from demand_forecast.metrics import mape

    routed_holdout = mape(rows["units"].to_numpy(), rows["ensemble"].to_numpy())
    overall = evaluation["overall"]
    assert routed_holdout <= overall["ensemble"]["mape"] + 1e-9
    assert routed_holdout <= overall["champion"]["mape"] + 1e-9
    assert decision["routed_mape"] == pytest.approx(routed_holdout, rel=1e-6)

    # Forecasts name the model version that made each row: the table's, segment by segment.
    scored = tmp_path / "scored"
    model_uri = f"models:/{name}/{decision['registered_version']}"
    assert main(["score", "--model", model_uri, "--data", str(tiny_data), "--out", str(scored)]) == 0
    forecasts = pd.read_csv(scored / "forecasts.csv", dtype=str).astype({"forecast_units": float})
    expected = forecasts["segment"].map(lambda s: table[s].model_version if s in table else None)
    assert (forecasts["model_version"] == expected).all()
    assert forecasts["model_version"].nunique() == 2
    # monitor's recent backtest (what publish writes to the reporting table `backtest`) too.
    monitored = tmp_path / "monitored"
    argv = ["monitor", "--model", model_uri, "--data", str(tiny_data), "--out", str(monitored)]
    assert main([*argv, "--forecasts", str(scored / "forecasts.csv")]) == 0
    recent = pd.read_csv(monitored / "backtest.csv", dtype=str)
    assert (recent["model_version"] == recent["segment"].map(lambda s: table[s].model_version)).all()
    assert recent["model_version"].nunique() == 2
    # The bundle is as old as its oldest answering model (the champion's data ends a week earlier).
    from demand_forecast.pipeline import model_age_days

    health = json.loads((monitored / "monitoring.json").read_text())
    as_of = pd.Timestamp(health["as_of"])
    ages = {v: model_age_days(m.info, as_of) for v, m in bundle.members.items()}
    assert ages[champion_version] > ages[decision["model_version"]]
    assert health["age_days"] == ages[champion_version]
    # The registered pyfunc (what an MLflow deployment serves) routes the same way, to the same numbers.
    import mlflow.pyfunc

    served = mlflow.pyfunc.load_model(model_uri).predict(pd.DataFrame({"data_dir": [str(tiny_data)]}))
    keys = ["week_start", "store_id", "product_id"]
    served = served.astype({key: str for key in keys})
    both = forecasts.merge(served, on=keys, suffixes=("", "_served"))
    assert len(both) == len(forecasts)
    assert (both["model_version"] == both["model_version_served"]).all()
    assert both["forecast_units"].to_numpy() == pytest.approx(both["forecast_units_served"].to_numpy())
    assert work.is_dir()


@pytest.mark.slow
def test_failed_partitions_keep_the_champion_or_fail_the_run_unregistered(
    two_weeks: dict[str, Path], tiny_data: Path, tmp_path: Path
) -> None:
    name = f"failed-{uuid.uuid4().hex[:8]}"
    candidate = tmp_path / "candidate"
    import shutil

    shutil.copytree(two_weeks["candidate"], candidate)
    series = pd.read_csv(candidate / "series.csv", dtype=str)
    regions = sorted(series["region"].unique())
    assert len(regions) == 2
    failed_region = regions[0]
    partitions = {
        "version": 1,
        "world_size": 2,
        "partitions": {
            region: {
                "rank": i,
                "status": "failed" if region == failed_region else "trained",
                "error": "rank 0 was killed (SIGKILL)" if region == failed_region else None,
                "segments": sorted(series.loc[series["region"] == region, "segment"].unique()),
            }
            for i, region in enumerate(regions)
        },
    }
    (candidate / "partitions.json").write_text(json.dumps(partitions))
    from demand_forecast.outputs import mark_complete

    mark_complete(candidate)  # as train writes it: the record inside the model folder's marker

    # No champion: any failed partition fails the run (exit 3), nothing registered.
    _evaluate(candidate, tiny_data, tmp_path / "e0", name)
    assert _register(candidate, tmp_path / "e0", tmp_path / "r0", name) == 3
    assert not (tmp_path / "r0" / "decision.json").exists()

    assert _evaluate(two_weeks["champion"], tiny_data, tmp_path / "e1", name)["champion_version"] is None
    assert _register(two_weeks["champion"], tmp_path / "e1", tmp_path / "r1", name) == 0
    registered = _versions(name)

    # 1 of 2 partitions failed > distributed.max_failed_share 0.05: refused, still one version.
    _evaluate(candidate, tiny_data, tmp_path / "e2", name)
    assert _register(candidate, tmp_path / "e2", tmp_path / "r2", name, "--margin", "0") == 3
    assert _versions(name) == registered

    # Allowed share: registered; the failed region's segments keep the champion's model, marked.
    config = tmp_path / "half.yaml"
    config.write_text("distributed:\n  max_failed_share: 0.5\n")
    assert (
        _register(candidate, tmp_path / "e2", tmp_path / "r3", name, "--margin", "0", config=str(config)) == 0
    )
    decision = json.loads((tmp_path / "r3" / "decision.json").read_text())
    assert decision["failed_partitions"] == {failed_region: "rank 0 was killed (SIGKILL)"}
    assert "failed partitions" in decision["reason"]
    from demand_forecast.loading import load_model
    from demand_forecast.settings import load_settings

    bundle = load_model(f"models:/{name}/{decision['registered_version']}", load_settings())
    table = bundle.routing.segments  # type: ignore[union-attr]
    failed_segments = {s for s in table if s.startswith(f"{failed_region}|")}
    assert failed_segments
    for segment in failed_segments:
        route = table[segment]
        assert (route.source, route.failed, route.error) == ("champion", True, "rank 0 was killed (SIGKILL)")
        assert segment in decision["champion_segments"]


def _tables(data: Path):  # type: ignore[no-untyped-def]
    from demand_forecast.loading import load_dataset
    from demand_forecast.settings import load_settings

    return load_dataset(data, load_settings()).tables
