"""benchmarks/bench_scale.py: its command line, its panels and its verdicts on issue 20's goals.

Nothing here times anything (speed is measured by `make bench ARGS="--only scale"`); these tests
check that the benchmark asks for what it says and judges the goals from the figures it is given.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_scale", REPO / "benchmarks" / "bench_scale.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_scale"] = module  # dataclasses resolve their module by name
    # as when it runs as a script: its sibling modules (sample_generator) import from benchmarks/
    if str(REPO / "benchmarks") not in sys.path:
        sys.path.append(str(REPO / "benchmarks"))
    spec.loader.exec_module(module)
    return module


def test_defaults_are_the_issues_three_sizes_with_one_worker(bench: ModuleType) -> None:
    args = bench.parse_args([])
    assert args.factors == [1, 10, 100]
    assert args.workers == [1]


def test_quick_measures_nothing_and_says_where_the_figures_come_from(
    bench: ModuleType, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def measure(*_: object) -> None:
        raise AssertionError("--quick must not train at any scale")

    monkeypatch.setattr(bench, "measure", measure)
    assert bench.main(["--quick"]) == 0
    assert '`make bench ARGS="--only scale"`' in capsys.readouterr().out


def test_factors_are_sorted_and_deduplicated(bench: ModuleType) -> None:
    assert bench.parse_args(["--factors", "10, 1,10"]).factors == [1, 10]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--factors", "ten"], "expected comma-separated whole numbers"),
        (["--factors", "0"], "expected one or more numbers >= 1"),
        (["--factors", ","], "expected one or more numbers >= 1"),
        (["--workers", "5"], "choose among (1, 2,"),
        (["--workers", "0"], "expected one or more numbers >= 1"),
    ],
)
def test_bad_options_exit_2_naming_the_option(
    bench: ModuleType, argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        bench.parse_args(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert argv[0] in err
    assert says in err


def test_panel_scales_regions_and_writes_the_input_contract(bench: ModuleType, tmp_path: Path) -> None:
    one = bench.make_panel(1, tmp_path / "one", base_regions=1, weeks=52)
    two = bench.make_panel(2, tmp_path / "two", base_regions=1, weeks=52)
    assert one[0] == 1
    assert two[0] == 2
    assert 0 < one[1] < two[1]  # twice the regions, more series
    stores = pd.read_csv(tmp_path / "two" / "stores.csv")
    assert stores["region"].nunique() == 2
    shipments = pd.read_csv(tmp_path / "two" / "shipments.csv")
    assert len(shipments) == two[2]
    assert shipments.groupby(["store_id", "product_id"]).ngroups == two[1]


def _result(
    bench: ModuleType,
    factor: int,
    series: int,
    cpu_s: float,
    pss_mib: float,
    workers: int = 1,
    wall_s: float = 1.0,
) -> object:
    cost = bench.StepCost(wall_s=wall_s, cpu_s=cpu_s, peak_pss_mib=pss_mib, max_rss_mib=pss_mib)
    return bench.ScaleResult(factor, factor * 14, series, series * 80, workers, cost, cost)


def test_more_than_one_worker_trains_under_torchrun(bench: ModuleType) -> None:
    assert bench.parse_args(["--workers", "2,1"]).workers == [1, 2]
    assert bench.launch(1) == (sys.executable, "-m", "demand_forecast")
    assert bench.launch(2) == (
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        "-m",
        "demand_forecast",
    )


def test_goals_are_judged_per_worker_count_and_2_workers_against_1(bench: ModuleType) -> None:
    results = [
        _result(bench, 10, 4448, 200.0, 500.0, workers=1, wall_s=100.0),
        _result(bench, 10, 4448, 210.0, 300.0, workers=2, wall_s=55.0),
        _result(bench, 100, 44480, 2000.0, 700.0, workers=1),
        _result(bench, 100, 44480, 2100.0, 650.0, workers=2),  # x2.17: one count fails the goal
    ]
    goals = {goal.split(" ")[0]: (verdict, evidence) for goal, verdict, evidence in bench.goals(results)}
    assert goals["per-worker"][0] == "NOT met"
    assert "1 worker(s): train PSS per worker x1.40" in goals["per-worker"][1]
    assert "2 worker(s): train PSS per worker x2.17" in goals["per-worker"][1]
    assert goals["CPU"][0] == "met"
    assert goals["2"][0] == "met"
    assert "wall x0.55" in goals["2"][1]
    slower = [*results[:1], _result(bench, 10, 4448, 210.0, 300.0, workers=2, wall_s=61.0)]
    assert {g.split(" ")[0]: v for g, v, _ in bench.goals(slower)}["2"] == "NOT met"


def test_exponent_is_the_log_log_slope(bench: ModuleType) -> None:
    assert bench.exponent(10, 5, 100, 50) == pytest.approx(1.0)
    assert bench.exponent(10, 5, 100, 500) == pytest.approx(2.0)
    assert bench.exponent(1000, 7, 10000, 7) == pytest.approx(0.0)


def _verdicts(bench: ModuleType, results: list[object]) -> dict[str, str]:
    return {
        goal.split(" ")[0] + " " + goal.split(" ")[1]: verdict for goal, verdict, _ in bench.goals(results)
    }


def test_goals_met_when_memory_and_cpu_scale_as_the_issue_asks(bench: ModuleType) -> None:
    results = [_result(bench, 10, 4448, 226.0, 1600.0), _result(bench, 100, 44480, 2260.0, 3000.0)]
    verdicts = _verdicts(bench, results)
    assert verdicts["per-worker peak"] == "met"
    assert verdicts["CPU time"] == "met"
    assert verdicts["2 workers"] == "not measured"  # no 2-worker run among the figures


def test_goals_not_met_when_memory_grows_with_the_panel(bench: ModuleType) -> None:
    # Issue 20's own figures: memory grows ~261 MiB per 1,000 series, CPU slightly super-linear.
    results = [_result(bench, 10, 4448, 226.0, 1622.0), _result(bench, 100, 44480, 2600.0, 12070.0)]
    verdicts = _verdicts(bench, results)
    assert verdicts["per-worker peak"] == "NOT met"
    assert verdicts["CPU time"] == "NOT met"


def test_goals_without_the_100x_run_are_not_measured(bench: ModuleType) -> None:
    results = [_result(bench, 1, 451, 27.0, 578.0), _result(bench, 10, 4448, 226.0, 1622.0)]
    goals = {goal.split(" ")[0]: (verdict, evidence) for goal, verdict, evidence in bench.goals(results)}
    assert goals["per-worker"][0] == "not measured"
    assert goals["CPU"][0] == "not measured"
    assert "exponent 0.93" in goals["CPU"][1]  # issue 20's 1x -> 10x figures, shown as an indication


def test_render_prints_every_verdict_and_the_load(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    bench.render([_result(bench, 1, 451, 27.0, 578.0)], (14.9, 14.6, 15.5))
    out = capsys.readouterr().out
    assert "[not measured] per-worker peak memory" in out  # brackets survive rich's markup
    assert "[not measured] 2 workers" in out
    assert "14.90 14.60 15.50" in out
    assert "451" in out


ALLOCATE = (
    "import sys; block = bytearray(int(sys.argv[1]) * 2**20); block[::4096] = b'x' * len(block[::4096])"
)


def test_each_step_reports_its_own_peak_not_an_earlier_steps(bench: ModuleType) -> None:
    import resource

    # A forked child's ru_maxrss starts at its parent's RSS (kept across exec), so the "small" step can
    # only read small when this process is small itself: true for benchmarks/run.py, not for a pytest
    # worker that has imported torch and the model (CI: 329 MiB).
    parent_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if parent_mib >= 140:
        pytest.skip(f"this process already peaked at {parent_mib:.0f} MiB, above the small step's bound")
    python = (sys.executable, "-c", ALLOCATE)
    big = bench.run_measured(["300"], command=python)
    small = bench.run_measured(["1"], command=python)
    assert big.max_rss_mib >= 300
    assert small.max_rss_mib < 150  # an interpreter and 1 MiB, not the 300 MiB of the step before
    assert big.cpu_s >= 0
    assert small.cpu_s >= 0


def test_a_failing_step_raises_with_its_stderr(bench: ModuleType) -> None:
    with pytest.raises(RuntimeError, match="no such step"):
        bench.run_measured([], command=(sys.executable, "-c", "import sys; sys.exit('no such step')"))


class _VanishingTree:
    """A psutil.Process stand-in whose child exits while the tree is listed (as pool workers do)."""

    pid = 1

    def children(self, recursive: bool = False) -> list[object]:
        import psutil

        raise psutil.NoSuchProcess(pid=2)


def test_memory_sampling_survives_a_process_exiting_mid_listing(bench: ModuleType) -> None:
    assert bench._tree_pss(_VanishingTree()) == 0


def test_torchruns_launcher_is_not_a_worker(bench: ModuleType) -> None:
    import psutil

    class Launcher:
        def cmdline(self) -> list[str]:
            return [
                sys.executable,
                "-m",
                "torch.distributed.run",
                "--nproc-per-node",
                "2",
                "-m",
                "demand_forecast",
            ]

    assert not bench._is_worker(Launcher())
    assert bench._is_worker(psutil.Process())
    pss, hwm = bench._worker_peaks(psutil.Process())
    assert pss > 10 * 2**20
    assert hwm >= pss // 2  # this interpreter's peak RSS, from /proc


def test_memory_sampling_sums_a_live_tree(bench: ModuleType) -> None:
    import psutil

    assert bench._tree_pss(psutil.Process()) > 10 * 2**20  # this interpreter alone holds more than 10 MiB


BURN_IN_GRANDCHILD = (
    "import subprocess, sys; subprocess.run([sys.executable, '-c', "
    "'import time; end = time.process_time() + 1.0\\nwhile time.process_time() < end: pass'], check=True)"
)


def test_cpu_time_counts_the_workers_a_step_reaped(bench: ModuleType) -> None:
    # The training pool's workers are the step's grandchildren: their CPU must count.
    cost = bench.run_measured([], command=(sys.executable, "-c", BURN_IN_GRANDCHILD))
    assert cost.cpu_s >= 0.9
