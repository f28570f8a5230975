"""Issue 25, kind 11: a step killed while it writes never costs the previous model, forecasts or
reporting rows, and a partial or corrupt model folder is one clear error naming it.

The fault-injection tests run the real CLI in a child process, SIGKILL it after a random delay (a
few fixed seeds, delays spread over the step's own measured duration) and then read what the
previous run left: it must be intact (its `_SUCCESS` manifest verifies) and readable by the next
step. Bounded: a tiny cut of data/sample (two stores, one epoch), three kills per step. Each step
is forked from a server that imported the model package once (tests/model/step_fork_server.py): a
process of its own, killed as `kill -9` kills it, whose measured duration is the step's work, so
every kill lands in that work and its writes rather than in the interpreter's start-up.
"""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from demand_forecast.cli import main
from demand_forecast.errors import ExitStatus
from demand_forecast.outputs import MARKER, verify_complete
from demand_forecast.reporting.migration import ensure_sqlite_schema
from step_fork_server import StepServer

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"
SEEDS = (1, 2, 3)


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def tiny(target: Path) -> Path:
    """Two stores of R000 from data/sample, every file."""
    target.mkdir(parents=True)
    stores = read(SAMPLE / "stores.csv").head(2)
    stores.to_csv(target / "stores.csv", index=False)
    for name in ("shipments", "promotions"):
        frame = read(SAMPLE / f"{name}.csv")
        frame[frame["store_id"].isin(stores["store_id"])].to_csv(target / f"{name}.csv", index=False)
    weather = read(SAMPLE / "weather.csv")
    weather[weather["region"] == "R000"].to_csv(target / "weather.csv", index=False)
    shutil.copy(SAMPLE / "events.csv", target / "events.csv")
    return target


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("interrupted")
    data = tiny(base / "raw")
    out = base / "model"
    assert main(["train", "--data", str(data), "--out", str(out), "--epochs", "1", "--no-tracking"]) == 0
    return data, out


def broken_copy(model: Path, target: Path) -> Path:
    shutil.copytree(model, target)
    return target


def network(folder: Path) -> Path:
    return sorted((folder / "networks").glob("*.pt"))[0]


# ---- a partial or corrupt model folder is a clear error ---------------------------------------------


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("empty network file", "is corrupt: networks/"),  # the case: SIGKILL during torch.save
        ("truncated model.json", "is corrupt: model.json is"),
        ("no series.csv", "is corrupt: series.csv is missing"),
        ("no _SUCCESS", "is incomplete: it has no _SUCCESS marker"),
        ("a flipped byte in a network", "is corrupt: networks/"),
    ],
)
@pytest.mark.parametrize("step", ["score", "evaluate"])
def test_a_partial_or_corrupt_model_folder_is_one_clear_error_naming_it(
    model: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    breakage: str,
    expected: str,
    step: str,
) -> None:
    data, good = model
    folder = broken_copy(good, tmp_path / "model")
    if breakage == "empty network file":
        network(folder).write_bytes(b"")
    elif breakage == "truncated model.json":
        text = (folder / "model.json").read_bytes()
        (folder / "model.json").write_bytes(text[: len(text) // 2])
    elif breakage == "no series.csv":
        (folder / "series.csv").unlink()
    elif breakage == "no _SUCCESS":
        (folder / MARKER).unlink()
    else:
        raw = bytearray(network(folder).read_bytes())
        raw[len(raw) // 2] ^= 0xFF
        network(folder).write_bytes(bytes(raw))
    capsys.readouterr()
    code = main([step, "--model", str(folder), "--data", str(data), "--out", str(tmp_path / "out")])
    captured = capsys.readouterr()
    text = " ".join((captured.out + captured.err).split())
    assert code == ExitStatus.SETUP_FAULT  # a broken model folder: the setup, not the data
    assert f"model folder {folder} {expected}" in text
    assert "Fix" in text or "train it again" in text
    assert "Traceback" not in text


# ---- fault injection: SIGKILL at a random instant ------------------------------------------------------


def _environment(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["DEMAND_FORECAST_TELEMETRY_DIR"] = str(tmp_path / "telemetry")
    return env


def _run(steps: StepServer, args: list[str], env: dict[str, str]) -> float:
    """Run one step to its end; the seconds it took."""
    outcome = steps.run(args, env)
    assert outcome.returncode == 0, outcome.output[-3000:]
    return outcome.seconds


def _kill_after(steps: StepServer, args: list[str], env: dict[str, str], delay: float) -> int | None:
    """Start the step, SIGKILL it (and its training workers) after `delay` s; its exit status (None
    when it was killed)."""
    return steps.run(args, env, kill_after=delay).returncode


def _delays(seed: int, duration: float) -> float:
    return random.Random(seed).uniform(0.2 * duration, 1.05 * duration)


@pytest.mark.slow
def test_killing_train_score_and_publish_at_random_points_loses_nothing(
    model: tuple[Path, Path], tmp_path: Path, model_steps: StepServer
) -> None:
    from demand_forecast.loading import read_model_folder

    steps = model_steps
    data, trained = model
    env = _environment(tmp_path)
    model_dir = tmp_path / "model"
    shutil.copytree(trained, model_dir)
    version = read_model_folder(model_dir).info["model_version"]
    train = [
        "train",
        "--data",
        str(data),
        "--out",
        str(model_dir),
        "--epochs",
        "1",
        "--no-tracking",
        "--seed",
        "7",
    ]
    scored = tmp_path / "scored"
    score = ["score", "--model", str(model_dir), "--data", str(data), "--out", str(scored)]
    _run(steps, score, env)
    forecasts = (scored / "forecasts.csv").read_bytes()
    db = tmp_path / "reporting.db"
    ensure_sqlite_schema(db)
    publish = [
        "publish", "--pipeline", "scoring", "--run-id", "run-1", "--reporting-database", f"sqlite:///{db}",
        "--conditioned", str(scored), "--scored", str(scored), "--monitoring", str(tmp_path / "mon"),
        "--out", str(tmp_path / "published"),
    ]  # fmt: skip
    monitor = ["monitor", "--model", str(model_dir), "--data", str(data), "--out", str(tmp_path / "mon")]
    _run(steps, monitor, env)
    _run(steps, publish, env)
    rows = _reporting_rows(db)
    durations = {"score": _run(steps, score, env), "publish": _run(steps, publish, env)}
    # The retrain's duration and version, measured on a copy so the model under test stays the old one.
    timing = tmp_path / "timing"
    shutil.copytree(trained, timing)
    durations["train"] = _run(steps, [*train[:4], str(timing), *train[5:]], env)
    retrained = read_model_folder(timing).info["model_version"]
    assert retrained != version  # another seed: which of the two is in place can be told

    outcomes = []
    for seed in SEEDS:
        finished = _kill_after(steps, train, env, _delays(seed, durations["train"]))
        outcomes.append(finished)
        verify_complete(model_dir, "model folder", "")
        now = read_model_folder(model_dir)  # complete and loadable: the old model or the new one
        assert now.info["model_version"] == (retrained if finished == 0 else now.info["model_version"])
        assert now.info["model_version"] in (version, retrained)
    assert None in outcomes  # at least one kill landed while train ran (delays span its duration)
    _run(steps, score, env)  # the model left behind scores
    forecasts = (scored / "forecasts.csv").read_bytes()

    for seed in SEEDS:
        _kill_after(steps, score, env, _delays(seed, durations["score"]))
        verify_complete(scored, "forecast folder", "")
        assert (scored / "forecasts.csv").read_bytes() == forecasts

    for seed in SEEDS:
        _kill_after(steps, publish, env, _delays(seed, durations["publish"]))
        assert _reporting_rows(db) == rows


COUNTS = {
    table: f"select count(*) from {table} where run_id = 'run-1'"  # noqa: S608 (fixed table names)
    for table in ("forecasts", "model_health", "backtest", "pipeline_runs")
}


def _reporting_rows(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {table: conn.execute(query).fetchone()[0] for table, query in COUNTS.items()}
