"""Per-segment promotion (issue 20 item 3, docs/scale.md): the routing decision, the failed-partition
rule and the routed holdout MAPE, on metrics built by hand (no training: milliseconds)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from demand_forecast.contracts import Metrics, Partitions, Routing
from demand_forecast.routing import (
    ChampionRoutes,
    FailedPartitionsError,
    check_failed_share,
    decide_routing,
    routed_mape,
    worse_segments,
)

CANDIDATE = "c" * 16
CHAMPION = "h" * 16


def _scores(mape: float | None, n: int = 10, zeros: int = 0) -> dict[str, object]:
    return {"mape": mape, "rmse": 1.0, "rmse_zero_actual": None, "n": n, "n_zero_actual": zeros}


def metrics(per_segment: dict[str, tuple[float | None, float | None]], rows: int = 10) -> Metrics:
    """evaluate's metrics with the candidate's (ensemble) and champion's MAPE per segment."""
    segments = []
    for segment, (candidate, champion) in per_segment.items():
        segments.append({"segment": segment, "model": "ensemble", **_scores(candidate, rows)})
        if champion is not None or candidate is None:
            segments.append({"segment": segment, "model": "champion", **_scores(champion, rows)})
    has_champion = any(c is not None for _, c in per_segment.values())
    overall = {name: _scores(0.4) for name in ("baseline", "lasso", "nn", "ensemble")}
    return Metrics.model_validate(
        {
            "model_name": "demand-forecast",
            "model_version": CANDIDATE,
            "holdout": {"start": "2024-01-01", "end": "2024-03-25", "weeks": 13},
            "target_mape": 0.45,
            "overall": {**overall, "champion": _scores(0.4) if has_champion else None},
            "segments": segments,
            "segments_meeting_target": 0,
            "segments_total": len(per_segment),
        }
    )


def partitions(statuses: dict[str, str | None]) -> Partitions:
    """Region -> None (trained) or an error (failed)."""
    return Partitions.model_validate(
        {
            "version": 1,
            "world_size": 2,
            "partitions": {
                region: {
                    "rank": i % 2,
                    "status": "trained" if error is None else "failed",
                    "error": error,
                    "segments": [f"{region}|large|fast", f"{region}|small|slow"],
                }
                for i, (region, error) in enumerate(statuses.items())
            },
        }
    )


def test_with_no_champion_every_segment_routes_to_the_candidate() -> None:
    table = decide_routing(
        metrics({"R1|large|fast": (0.3, None), "R2|small|slow": (None, None)}),
        CANDIDATE,
        None,
        {},
        0.01,
        True,
    )
    assert table.routed("champion") == []
    assert {r.model_version for r in table.segments.values()} == {CANDIDATE}


@pytest.mark.parametrize(
    ("candidate", "champion", "margin", "source"),
    [
        (0.30, 0.40, 0.01, "candidate"),  # clearly better
        (0.399, 0.40, 0.01, "champion"),  # better, but not by the margin
        (0.396, 0.40, 0.01, "candidate"),  # exactly at the bar 0.40 x 0.99
        (0.40, 0.40, 0.0, "candidate"),  # equal passes a zero margin, as the whole-model rule does
        (0.41, 0.40, 0.0, "champion"),  # worse
        (None, 0.40, 0.0, "champion"),  # no candidate MAPE (every actual zero): no evidence
    ],
)
def test_each_segment_follows_the_whole_model_margin_rule(
    candidate: float | None, champion: float | None, margin: float, source: str
) -> None:
    table = decide_routing(
        metrics({"R1|large|fast": (candidate, champion)}),
        CANDIDATE,
        ChampionRoutes(CHAMPION, None),
        {},
        margin,
        True,
    )
    route = table.segments["R1|large|fast"]
    assert route.source == source
    assert route.model_version == (CANDIDATE if source == "candidate" else CHAMPION)
    assert (route.holdout_mape.candidate, route.holdout_mape.champion) == (candidate, champion)


def test_a_champion_bundles_entries_are_flattened_not_nested() -> None:
    """A segment the champion routed to an older model keeps that older model; a segment only the
    champion's table knows (no holdout rows this week) keeps its entry too."""
    older = "o" * 16
    champion_table = Routing.model_validate(
        {
            "version": 1,
            "segments": {
                "R1|large|fast": {
                    "source": "champion",
                    "model_version": older,
                    "holdout_mape": {"candidate": 0.5, "champion": 0.4},
                },
                "R9|small|slow": {
                    "source": "candidate",
                    "model_version": CHAMPION,
                    "holdout_mape": {"candidate": 0.3, "champion": None},
                },
            },
        }
    )
    table = decide_routing(
        metrics({"R1|large|fast": (0.45, 0.40), "R2|large|fast": (0.2, 0.5)}),
        CANDIDATE,
        ChampionRoutes(CHAMPION, champion_table),
        {},
        0.01,
        True,
    )
    assert table.segments["R1|large|fast"].model_version == older
    assert table.segments["R2|large|fast"].model_version == CANDIDATE
    assert table.segments["R9|small|slow"].source == "champion"
    assert table.segments["R9|small|slow"].model_version == CHAMPION
    assert table.versions() == {older, CANDIDATE, CHAMPION}


def test_segments_of_a_failed_partition_keep_the_champion_marked_with_the_error() -> None:
    table = decide_routing(
        metrics({"R1|large|fast": (0.10, 0.40), "R2|large|fast": (0.10, 0.40)}),
        CANDIDATE,
        ChampionRoutes(CHAMPION, None),
        {"R1": "worker rank 1 killed (SIGKILL)"},
        0.01,
        True,
    )
    failed = table.segments["R1|large|fast"]
    assert (failed.source, failed.model_version, failed.failed) == ("champion", CHAMPION, True)
    assert failed.error == "worker rank 1 killed (SIGKILL)"
    assert table.segments["R2|large|fast"].source == "candidate"
    assert table.segments["R2|large|fast"].failed is False


def test_a_failed_partitions_segments_without_holdout_rows_are_listed_too() -> None:
    """partitions.json names the failed region's segments: each gets a marked champion entry even
    when the holdout has no row of it (nothing scored it) and the champion's table does not list it."""
    from demand_forecast.routing import failed_partition_segments

    parts = partitions({"R1": "disk full", "R2": None})
    assert failed_partition_segments(parts) == ["R1|large|fast", "R1|small|slow"]
    table = decide_routing(
        metrics({"R2|large|fast": (0.10, 0.40)}),
        CANDIDATE,
        ChampionRoutes(CHAMPION, None),
        {"R1": "disk full"},
        0.01,
        True,
        failed_partition_segments(parts),
    )
    assert sorted(table.segments) == ["R1|large|fast", "R1|small|slow", "R2|large|fast"]
    for segment in ("R1|large|fast", "R1|small|slow"):
        route = table.segments[segment]
        assert (route.source, route.model_version, route.failed, route.error) == (
            "champion",
            CHAMPION,
            True,
            "disk full",
        )
        assert (route.holdout_mape.candidate, route.holdout_mape.champion) == (None, None)


def test_without_champion_scores_on_this_holdout_the_whole_model_decision_routes() -> None:
    """The champion could not score this data: no per-segment comparison, the whole-model answer."""
    no_scores = metrics({"R1|large|fast": (0.3, None), "R2|large|fast": (0.5, None)})
    for whole, source in ((True, "candidate"), (False, "champion")):
        table = decide_routing(no_scores, CANDIDATE, ChampionRoutes(CHAMPION, None), {}, 0.01, whole)
        assert {r.source for r in table.segments.values()} == {source}


@pytest.mark.parametrize(
    ("statuses", "share", "has_champion", "refused"),
    [
        ({"R1": None, "R2": "oom"}, 0.05, True, True),  # 50% failed, limit 5%
        ({"R1": None, "R2": "oom"}, 0.5, True, False),  # exactly at the limit: kept, reported
        ({f"R{i}": None for i in range(19)} | {"R19": "lost node"}, 0.05, True, False),  # 1 of 20
        ({f"R{i}": None for i in range(18)} | {"R18": "a", "R19": "b"}, 0.05, True, True),  # 2 of 20
        ({"R1": None, "R2": "oom"}, 1.0, False, True),  # no champion: any failure fails the run
        ({"R1": None, "R2": None}, 0.0, False, False),  # nothing failed
    ],
)
def test_the_failed_share_rule(
    statuses: dict[str, str | None], share: float, has_champion: bool, refused: bool
) -> None:
    parts = partitions(statuses)
    if not refused:
        check_failed_share(parts, share, has_champion)
        return
    with pytest.raises(FailedPartitionsError) as caught:
        check_failed_share(parts, share, has_champion)
    message = str(caught.value)
    assert "nothing was registered" in message
    for region, error in statuses.items():
        assert (f"{region}: {error}" in message) is (error is not None)
    assert caught.value.failed == {r: e for r, e in statuses.items() if e is not None}
    assert caught.value.total == len(statuses)


def test_a_model_without_partitions_json_has_no_failed_partition(tmp_path: Path) -> None:
    from demand_forecast.routing import read_partitions

    assert read_partitions(tmp_path) is None
    check_failed_share(None, 0.0, False)
    (tmp_path / "partitions.json").write_text('{"version": 1, "world_size": 1, "partitions": {"R1": {}}}')
    with pytest.raises(Exception, match=r"partitions\.json.*Partitions contract.*R1\.rank"):
        read_partitions(tmp_path)


def test_the_routed_mape_weighs_segments_by_their_non_zero_rows() -> None:
    scored = metrics({"A|large|fast": (0.2, 0.4), "B|large|fast": (0.5, 0.3)})
    table = decide_routing(scored, CANDIDATE, ChampionRoutes(CHAMPION, None), {}, 0.0, True)
    assert table.routed("candidate") == ["A|large|fast"]
    assert routed_mape(table, scored) == pytest.approx((0.2 + 0.3) / 2)


def test_routing_is_never_worse_than_either_whole_model_on_random_holdouts() -> None:
    """By construction (margin 0): each segment takes the lower MAPE, so the bundle's holdout MAPE is
    at most the candidate's and the champion's; with a margin > 0 it is at most the champion's and at
    most the candidate's / (1 - margin) (a segment better by less than the margin keeps the champion)."""
    generator = random.Random(20)
    for trial in range(200):
        n = generator.randint(1, 12)
        per_segment = {
            f"R{i}|large|fast": (round(generator.uniform(0.1, 0.9), 4), round(generator.uniform(0.1, 0.9), 4))
            for i in range(n)
        }
        scored = metrics(per_segment)
        candidate_whole = sum(c for c, _ in per_segment.values()) / n
        champion_whole = sum(h for _, h in per_segment.values()) / n
        margin = 0.0 if trial % 2 == 0 else 0.05
        table = decide_routing(scored, CANDIDATE, ChampionRoutes(CHAMPION, None), {}, margin, True)
        routed = routed_mape(table, scored)
        assert routed is not None
        assert worse_segments(table) == []
        assert routed <= champion_whole + 1e-12
        assert routed <= candidate_whole / (1 - margin) + 1e-12
        if margin == 0.0:
            assert routed <= min(candidate_whole, champion_whole) + 1e-12


def test_backtest_rows_name_the_model_that_made_each_row(tmp_path: Path) -> None:
    """A routed bundle's monitor backtest names each row's model; rows without a name (a plain
    model's file, or an empty cell) take the step's model version."""
    from demand_forecast.publish import _backtest_rows

    path = tmp_path / "backtest.csv"
    path.write_text(
        "week_start,store_id,product_id,segment,units,ensemble,model_version\n"
        f"2024-01-01,S1,P1,R1|large|fast,3,2.5,{CANDIDATE}\n"
        f"2024-01-01,S2,P1,R2|large|fast,4,4.5,{CHAMPION}\n"
        "2024-01-01,S3,P1,R2|large|fast,5,5.5,\n"
    )
    rows = _backtest_rows("run-1", path, "recent", CANDIDATE)
    assert [r["model_version"] for r in rows] == [CANDIDATE, CHAMPION, CANDIDATE]
    plain = tmp_path / "plain.csv"
    plain.write_text("week_start,store_id,product_id,units,ensemble\n2024-01-01,S1,P1,3,2.5\n")
    assert [r["model_version"] for r in _backtest_rows("run-1", plain, "recent", CHAMPION)] == [CHAMPION]
