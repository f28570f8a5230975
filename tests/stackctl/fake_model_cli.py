"""A stand-in for the `demand_forecast` CLI that honours its file contract, for runner tests.

It writes every file the contract promises, with the documented shapes, so the local stack can be
tested without training real models. Behaviour switches, through the environment:

* FAKE_FAIL_STEP=<step>  that step exits FAKE_FAIL_STATUS (default 70, an internal error: a bug);
* a raw CSV whose header contains `BROKEN` makes `validate` exit 2 naming file, row and column;
* FAKE_CALLS=<file>  each invocation appends its argv as one JSON line (so tests see what ran);
* under torchrun (WORLD_SIZE > 1), as the contract says, only rank 0 writes the step's outputs;
  FAKE_WORKERS=<dir> gets a `rank-<r>` file per worker (its pid), and with FAKE_WORKER_WAIT=<s> the
  workers then wait up to that long for `<dir>/go` (so a test can kill one while they run).

A failing step records its run as failed, as the real CLI does (`main`).

The "registry" is a champion.json in the working directory (the local stack runs steps in .local/mlflow).
Every result file is written and read through the model's own contracts (`demand_forecast.contracts`),
so the fake cannot drift from the shapes the real CLI writes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from demand_forecast.contracts import (
    DataQuality,
    Decision,
    Metrics,
    ModelInfo,
    Monitoring,
)
from demand_forecast.settings import alert_thresholds


def _args(argv: list[str]) -> dict[str, str]:
    return {argv[i].lstrip("-"): argv[i + 1] for i in range(0, len(argv) - 1, 2)}


def _content_id(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.csv")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def main(argv: list[str]) -> int:
    """The fake step, and what the real CLI does when a step of a pipeline fails: the step records
    its run as failed (the real `demand_forecast.publish.record_failed_step`)."""
    code = _step(argv)
    step_argv = argv[2:] if argv[:1] == ["--config"] else argv
    if code != 0 and step_argv[:1] != ["publish"]:
        from demand_forecast.publish import record_failed_step

        opts = _args(step_argv[1:])
        folders = [Path(v) for v in opts.values() if Path(v).is_dir()]
        recorded = record_failed_step(
            step_argv[0],
            folders,
            f"simulated failure (exit {code})",
            database=opts.get("reporting-database"),
        )
        if recorded:
            print(recorded)
    return code


def _worker_rank() -> int:
    """This process's rank under torchrun (0 outside it), after the FAKE_WORKERS handshake."""
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    folder = os.environ.get("FAKE_WORKERS")
    if world > 1 and folder:
        Path(folder, f"rank-{rank}").write_text(str(os.getpid()), encoding="utf-8")
        deadline = time.monotonic() + float(os.environ.get("FAKE_WORKER_WAIT", "0"))
        while time.monotonic() < deadline and not Path(folder, "go").exists():
            time.sleep(0.05)
    return rank


def _step(argv: list[str]) -> int:
    original = list(argv)
    if _worker_rank() != 0:
        return 0
    if argv[:1] == ["--config"]:
        argv = argv[2:]
    step, opts = argv[0], _args(argv[1:])
    if os.environ.get("FAKE_CALLS"):
        with open(os.environ["FAKE_CALLS"], "a", encoding="utf-8") as calls:
            calls.write(json.dumps([step, *argv[1:]]) + "\n")
    if os.environ.get("FAKE_FAIL_STEP") == step:
        print(f"{step}: simulated crash", file=sys.stderr)
        return int(os.environ.get("FAKE_FAIL_STATUS", "70"))
    if step == "publish":
        # Not faked: the real publish step writes the real reporting database from the files above.
        from demand_forecast.cli import main as real_main

        return real_main(original)
    out = Path(opts["out"])
    out.mkdir(parents=True, exist_ok=True)
    registry = Path.cwd() / "champion.json"
    if step == "validate":
        data = Path(opts["data"])
        files = {}
        for path in sorted(data.glob("*.csv")):
            header = path.read_text(encoding="utf-8").splitlines()[0]
            if "BROKEN" in header:
                print(
                    f"{path.name}: row 1, column BROKEN: unknown column; expected the input contract",
                    file=sys.stderr,
                )
                return 2
            rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
            files[path.name] = {"rows_in": rows, "rows_out": rows, "quarantined": 0}
            shutil.copy(path, out / path.name)
        (out / "quarantine.csv").write_text("file,row,column,reason\n", encoding="utf-8")
        DataQuality(
            files=files,
            quarantined_by_reason={},
            series=2,
            weeks=4,
            first_week="2026-01-05",
            last_week="2026-01-26",
            gaps=0,
            zero_unit_rows=0,
            feature_columns={"shipments": ["returns"]},
            ignored_columns={},
            gap_policy="a missing week is a gap, not a zero",
        ).write(out / "data_quality.json")
    elif step == "train":
        ModelInfo(
            model_name="demand-forecast",
            model_version=_content_id(Path(opts["data"])),
            trained_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            train_first_week="2026-01-05",
            train_last_week="2026-01-26",
            holdout={"start": "2026-01-19", "end": "2026-01-26", "weeks": 2},
            validation={"start": "2026-01-05", "weeks": 2},
            segments=[
                {
                    "segment": "north|large|fast",
                    "series": 2,
                    "rows": 8,
                    "lasso_weight": 0.5,
                    "lasso": "segment",
                }
            ],
            velocity_threshold_units=10.0,
            nn_sharing="global",
            feature_count=3,
            training_rows=8,
            series=2,
            metrics={"validation_mape_ensemble": 0.3, "validation_mape_baseline": 0.5},
            package_version="0.1.0",
            config={},
        ).write(out / "model_info.json")
    elif step == "evaluate":
        info = ModelInfo.read(Path(opts["model"]) / "model_info.json")
        m = {"mape": 0.3, "rmse": 4.0, "rmse_zero_actual": None, "n": 8, "n_zero_actual": 0}
        champion = json.loads(registry.read_text(encoding="utf-8")) if registry.exists() else None
        Metrics(
            model_name="demand-forecast",
            model_version=info.model_version,
            holdout=info.holdout,
            target_mape=alert_thresholds().target_mape,
            overall={
                "baseline": {**m, "mape": 0.5},
                "lasso": m,
                "nn": m,
                "ensemble": m,
                "champion": {**m, "mape": champion["mape"]} if champion else None,
            },
            segments=[{"segment": "north|large|fast", "model": "ensemble", **m}],
            champion_version=champion["model_version"] if champion else None,
            segments_meeting_target=1,
            segments_total=1,
        ).write(out / "metrics.json")
        (out / "holdout_predictions.csv").write_text(
            "week_start,store_id,product_id,segment,units,baseline,ensemble\n"
            "2026-01-19,S1,P1,north|large|fast,20,18,19.5\n"
            "2026-01-26,S1,P1,north|large|fast,22,18,21.0\n",
            encoding="utf-8",
        )
    elif step == "register":
        metrics = Metrics.read(Path(opts["metrics"]))
        champion = json.loads(registry.read_text(encoding="utf-8")) if registry.exists() else None
        mape = metrics.overall.ensemble.mape
        assert mape is not None
        version = str(int(champion["registered_version"]) + 1) if champion else "1"
        promoted = champion is None or mape < champion["mape"] * (1 - float(opts.get("margin", 0.01)))
        if promoted:
            registry.write_text(
                json.dumps(
                    {"registered_version": version, "mape": mape, "model_version": metrics.model_version}
                ),
                encoding="utf-8",
            )
        Decision(
            model_name="demand-forecast",
            model_version=metrics.model_version,
            registered_version=version,
            promoted=promoted,
            reason="no champion yet" if champion is None else "compared with champion",
            candidate_mape=mape,
            champion_mape=champion["mape"] if champion else None,
            champion_version=champion["registered_version"] if champion else None,
            margin=float(opts.get("margin", 0.01)),
        ).write(out / "decision.json")
    elif step == "score":
        champion = json.loads(registry.read_text(encoding="utf-8"))
        with (out / "forecasts.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(
                [
                    "week_start",
                    "store_id",
                    "product_id",
                    "region",
                    "store_format",
                    "segment",
                    "forecast_units",
                    "model_name",
                    "model_version",
                ]
            )
            for store in ("S1", "S2"):
                writer.writerow(
                    [
                        "2026-02-02",
                        store,
                        "P1",
                        "north",
                        "large",
                        "north|large|fast",
                        12.5,
                        "demand-forecast",
                        champion["model_version"],
                    ]
                )
    elif step == "monitor":
        champion = json.loads(registry.read_text(encoding="utf-8"))
        Monitoring(
            as_of="2026-02-02",
            model_name="demand-forecast",
            model_version=champion["model_version"],
            trained_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            age_days=0,
            stale=False,
            stale_after_days=alert_thresholds().stale_after_days,
            drift={"level": 0.02},
            drift_alert=False,
            drift_threshold=0.25,
            recent_mape=0.31,
            recent_weeks=4,
            recent_source="one-week-ahead backtest of the recent weeks with actuals",
            segments=[],
        ).write(out / "monitoring.json")
        (out / "backtest.csv").write_text(
            "week_start,store_id,product_id,segment,units,ensemble\n"
            "2026-01-26,S1,P1,north|large|fast,22,20.0\n"
            "2026-01-26,S2,P1,north|large|fast,24,25.0\n",
            encoding="utf-8",
        )
    else:
        print(f"unknown step {step}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
