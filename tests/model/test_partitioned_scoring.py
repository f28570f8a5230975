"""`score` over the conditioned folder partitioned by region (issue 20): region by region, spread over
workers, with the output contract of a whole-data run (forecasts.csv row for row)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from demand_forecast.cli import main
from demand_forecast.dataset import last_week, read_partitions
from demand_forecast.distributed import World, assign
from demand_forecast.errors import ExitStatus


@pytest.fixture(scope="module")
def scored_tiny(tmp_path_factory: pytest.TempPathFactory, tiny_data: Path) -> dict[str, Path]:
    """The tiny panel validated (partitioned) and a model trained on it (2 epochs)."""
    work = tmp_path_factory.mktemp("partitioned-scoring")
    conditioned, model = work / "conditioned", work / "model"
    assert main(["validate", "--data", str(tiny_data), "--out", str(conditioned)]) == 0
    trained = ["train", "--data", str(conditioned), "--out", str(model), "--no-tracking", "--epochs", "2"]
    assert main(trained) == 0
    return {"raw": tiny_data, "conditioned": conditioned, "model": model, "work": work}


def _score(run: dict[str, Path], data: str, out: Path, *extra: str) -> Path:
    args = ["score", "--model", str(run["model"]), "--data", str(run[data]), "--out", str(out), *extra]
    assert main(args) == 0
    return out


def _quality(folder: Path) -> dict[str, Any]:
    report = json.loads((folder / "data_quality.json").read_text())
    for entry in report["files"].values():
        entry.pop("read_as", None)  # how each input was read: CSV for the raw folder, parquet for parts
    return dict(report)


@pytest.mark.slow
@pytest.mark.parametrize(("extra", "batch"), [((), 1), (("--horizon", "3"), 1), ((), None)])
def test_a_one_worker_partitioned_run_writes_the_forecasts_of_a_whole_run_row_for_row(
    scored_tiny: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    extra: tuple[str, ...],
    batch: int | None,
) -> None:
    """The whole-data path (a folder of input files, today's code) against the partitioned one, one
    region at a time (batch 1) and in the default batches."""
    from demand_forecast import partitioned_scoring

    if batch is not None:
        monkeypatch.setattr(partitioned_scoring, "BATCH_SERIES", batch)
    whole = _score(scored_tiny, "raw", tmp_path / "whole", *extra)
    parts = _score(scored_tiny, "conditioned", tmp_path / "parts", *extra)
    assert (parts / "forecasts.csv").read_bytes() == (whole / "forecasts.csv").read_bytes()
    assert len(pd.read_csv(parts / "forecasts.csv")) > 0
    assert _quality(parts) == _quality(whole)
    assert (parts / "quarantine.csv").read_text() == (whole / "quarantine.csv").read_text()
    regions = sorted(read_partitions(scored_tiny["conditioned"]))
    assert sorted(p.name for p in (parts / "forecasts").iterdir()) == [f"region={r}" for r in regions]


def _fake_world(monkeypatch: pytest.MonkeyPatch, rank: int, root_out: Path, sent: list[Any]) -> None:
    """Rank `rank` of a world of two, in process: the collectives return what two real ranks would."""
    from demand_forecast import partitioned_scoring

    monkeypatch.setattr(partitioned_scoring, "init_process_group", lambda _settings: World(rank, 2, rank))
    monkeypatch.setattr(partitioned_scoring, "destroy_process_group", lambda: None)
    monkeypatch.setattr(partitioned_scoring, "all_gather", lambda obj: [str(root_out), obj])

    def gather(obj: Any) -> list[Any] | None:
        sent.append(obj)
        return None if rank else [obj, *sent[:-1]]

    monkeypatch.setattr(partitioned_scoring, "gather_to_rank0", gather)


@pytest.mark.slow
def test_two_workers_score_their_own_regions_and_rank_0_writes_the_whole_output(
    scored_tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from demand_forecast import partitioned_scoring, pipeline
    from demand_forecast.settings import load_settings

    monkeypatch.setattr(partitioned_scoring, "BATCH_SERIES", 1)  # one region at a time

    conditioned, settings = scored_tiny["conditioned"], load_settings()
    partitions = read_partitions(conditioned)
    ranks = assign({region: p.series for region, p in partitions.items()}, 2)
    sent: list[Any] = []
    root = tmp_path / "root"
    root.mkdir()
    # Rank 1 never opens rank 0's regions: here their files are garbage (as-of given: the default
    # reads the week column of every region, a streamed read of all partitions).
    broken = tmp_path / "broken"
    shutil.copytree(conditioned, broken)
    for region in ranks[0]:
        for part in broken.glob(f"*/region={region}/part-0.parquet"):
            part.write_bytes(b"rank 0's region: rank 1 must not read it")
    as_of = last_week(conditioned) + pd.Timedelta(weeks=1)
    _fake_world(monkeypatch, 1, root, sent)
    assert (
        pipeline.run_score(str(scored_tiny["model"]), broken, tmp_path / "rank1", as_of, 2, settings) is None
    )
    assert not (tmp_path / "rank1").exists()  # a worker other than rank 0 writes into rank 0's folder only
    assert sorted(p.name for p in (root / "forecasts").iterdir()) == [f"region={r}" for r in sorted(ranks[1])]
    assert [scored.region for scored in sent[0]] == ranks[1]
    _fake_world(monkeypatch, 0, root, sent)
    result = pipeline.run_score(str(scored_tiny["model"]), conditioned, root, None, 2, settings)
    assert result is not None
    whole = _score(scored_tiny, "raw", tmp_path / "whole", "--horizon", "2")
    assert (root / "forecasts.csv").read_bytes() == (whole / "forecasts.csv").read_bytes()
    assert result.rows == len(pd.read_csv(whole / "forecasts.csv"))
    assert _quality(root) == _quality(whole)


@pytest.mark.slow
def test_no_history_before_as_of_is_the_same_clear_error_as_a_whole_run(
    scored_tiny: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Per region it is no error (a region may start later); over all regions it is the run's."""
    for data in ("raw", "conditioned"):
        args = ["score", "--model", str(scored_tiny["model"]), "--data", str(scored_tiny[data])]
        assert main([*args, "--out", str(tmp_path / data), "--as-of", "1990-01-01"]) == ExitStatus.SETUP_FAULT
        assert "no shipments before --as-of 1990-01-01; nothing to forecast from" in capsys.readouterr().err


def test_region_batches_keep_the_order_and_the_budget() -> None:
    from demand_forecast.partitioned_scoring import region_batches

    series = {"A": 5, "B": 3, "C": 2, "D": 9, "E": 1}
    assert region_batches(list(series), series, budget=8) == [["A", "B"], ["C"], ["D"], ["E"]]
    assert region_batches(list(series), series, budget=1) == [[r] for r in series]
    assert region_batches(list(series), series, budget=100) == [list(series)]
    assert region_batches([], series, budget=3) == []
    with pytest.raises(ValueError, match=">= 1 series"):
        region_batches(list(series), series, budget=0)
