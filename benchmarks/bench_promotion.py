"""Issue 20's promotion goal: per-segment promotion is never worse than whole-model promotion on the
sample's two successive weeks (part of `make bench ARGS="--only scale"`; bench_scale.py calls it).

With the real CLI, in a throwaway MLflow store: train on the sample up to week W (the champion,
registered first), then up to W+1 (the candidate), evaluate the candidate against the champion on
the candidate's holdout, register it (one routed bundle, `register.margin` from defaults.yaml). It
prints the holdout MAPE of the candidate and of the champion as whole models, the whole-model rule's
choice (`registry.promotion`), the routed bundle's MAPE (a backtest of the registered bundle itself,
and the same figure from the decision file), and a met / NOT met verdict: routed <= whole-model
choice. Under --quick the networks train for 3 epochs (the verdict's logic is the same; the figures
are not the sample's accuracy).

    .venv/bin/python benchmarks/bench_promotion.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
NAME = "bench-promotion"


def _cut_last_week(source: Path, target: Path) -> str:
    """The sample without its last shipment week (the champion's data); returns that week."""
    target.mkdir(parents=True)
    for path in source.glob("*.csv"):
        (target / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    shipments = pd.read_csv(source / "shipments.csv", dtype=str)
    last = str(shipments["week_start"].max())
    shipments[shipments["week_start"] < last].to_csv(target / "shipments.csv", index=False)
    return last


def _step(argv: list[str]) -> None:
    """One step as the pipelines run it: its own process (`python -m demand_forecast`)."""
    status = subprocess.run([sys.executable, "-m", "demand_forecast", *argv], check=False).returncode
    if status != 0:
        raise RuntimeError(f"demand-forecast {' '.join(argv)} exited {status}")


def _train_evaluate_register(data: Path, work: Path, label: str, epochs: list[str]) -> dict[str, object]:
    model, evaluation, decision = work / f"{label}-model", work / f"{label}-eval", work / f"{label}-decision"
    started = time.perf_counter()
    _step(["train", "--data", str(data), "--out", str(model), "--no-tracking", *epochs])
    print(f"  trained the {label} in {time.perf_counter() - started:.0f} s", flush=True)
    champion = f"models:/{NAME}/Production"
    _step(
        [
            "evaluate",
            "--model",
            str(model),
            "--data",
            str(data),
            "--out",
            str(evaluation),
            "--champion",
            champion,
        ]
    )
    metrics = str(evaluation / "metrics.json")
    _step(["register", "--model", str(model), "--metrics", metrics, "--out", str(decision), "--name", NAME])
    return {
        "metrics": json.loads((evaluation / "metrics.json").read_text(encoding="utf-8")),
        "decision": json.loads((decision / "decision.json").read_text(encoding="utf-8")),
    }


def _bundle_mape(registered_version: str, data: Path, holdout: dict[str, str]) -> float | None:
    """The holdout MAPE of the registered bundle itself (its routed backtest)."""
    from demand_forecast.loading import load_dataset, load_model
    from demand_forecast.metrics import mape
    from demand_forecast.pipeline import backtest
    from demand_forecast.settings import load_settings

    settings = load_settings()
    bundle = load_model(f"models:/{NAME}/{registered_version}", settings)
    assert bundle is not None
    tables = load_dataset(data, settings).tables
    rows = backtest(bundle, tables, pd.Timestamp(holdout["start"]), pd.Timestamp(holdout["end"]))
    return mape(rows["units"].to_numpy(), rows["ensemble"].to_numpy())


def measure(work: Path, quick: bool) -> int:
    epochs = ["--epochs", "3"] if quick else []
    earlier = work / "sample-to-W"
    last = _cut_last_week(SAMPLE, earlier)
    print(f"champion: sample up to the week before {last}; candidate: the whole sample", flush=True)
    _train_evaluate_register(earlier, work, "champion", epochs)
    run = _train_evaluate_register(SAMPLE, work, "candidate", epochs)
    metrics, decision = run["metrics"], run["decision"]
    assert isinstance(metrics, dict)
    assert isinstance(decision, dict)
    overall = metrics["overall"]
    candidate, champion = overall["ensemble"]["mape"], overall["champion"]["mape"]
    from demand_forecast.contracts import Metrics
    from demand_forecast.registry import Champion, promotion
    from demand_forecast.settings import load_settings

    register = load_settings().register_
    whole, _, _ = promotion(
        candidate,
        Champion(NAME, "1", {}),
        Metrics.model_validate(metrics),
        register.margin,
        register.max_abs_bias,
    )
    chosen = candidate if whole else champion
    bundle = _bundle_mape(str(decision["registered_version"]), SAMPLE, metrics["holdout"])
    print(f"\nholdout {metrics['holdout']['start']}..{metrics['holdout']['end']}, margin {register.margin}")
    print(f"  {'model':<44} {'holdout MAPE':>12}")
    print(f"  {'candidate (whole model, weeks to W+1)':<44} {candidate:>12.4f}")
    print(f"  {'champion (whole model, weeks to W)':<44} {champion:>12.4f}")
    print(f"  {'whole-model rule: ' + ('candidate' if whole else 'champion'):<44} {chosen:>12.4f}")
    print(f"  {'per-segment routed bundle (backtest)':<44} {bundle or float('nan'):>12.4f}")
    print(
        f"  {'per-segment routed bundle (decision.json)':<44} "
        f"{decision['routed_mape'] or float('nan'):>12.4f}"
    )
    routed, kept = decision["routed_segments"], decision["champion_segments"]
    print(f"  segments: {len(routed)} to the candidate, {len(kept)} keep the champion; {decision['reason']}")
    met = bundle is not None and bundle <= chosen + 1e-9
    print(
        "goal: per-segment promotion never worse than whole-model promotion on two successive weeks: "
        + ("met" if met else "NOT met")
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs instead of the configured ones")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench_promotion_") as tmp:
        work = Path(tmp)
        # A throwaway registry and telemetry folder: never the developer's store or champion.
        os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{work / 'mlflow.db'}"
        os.environ["DEMAND_FORECAST_TELEMETRY_DIR"] = str(work / "telemetry")
        try:
            return measure(work, args.quick)
        except RuntimeError as error:
            print(f"bench_promotion: {error}", file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
