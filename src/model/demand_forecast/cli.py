"""The `demand-forecast` console entry point: one subcommand per pipeline step.

Exit codes: 0 ok (including "not promoted"), 2 unusable input (the message names file, row, column
and reason), 1 unexpected failure.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from demand_forecast.errors import UsageError
from demand_forecast.settings import Settings, load_settings
from demand_forecast.steps import STEPS

console = Console(stderr=True, highlight=False)


def _week(text: str) -> pd.Timestamp:
    try:
        week = pd.Timestamp(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from exc
    if week.day_of_week != 0:
        raise argparse.ArgumentTypeError(f"{text} is not a Monday; weeks start on Monday")
    return week


_VALUE_TYPES: dict[str, Callable[[str], Any]] = {
    "path": Path,
    "model": str,
    "week": _week,
    "int": int,
    "float": float,
    "text": str,
}


def build_parser() -> argparse.ArgumentParser:
    """One subcommand per step of `demand_forecast.steps.STEPS`, with every option's description."""
    parser = argparse.ArgumentParser(
        prog="demand-forecast", description="Weekly retail demand forecasting steps."
    )
    parser.add_argument("--config", type=Path, help="YAML file overlaid on demand_forecast/defaults.yaml")
    subparsers = parser.add_subparsers(dest="step", required=True, metavar="STEP")
    for spec in STEPS.values():
        step = subparsers.add_parser(spec.name, help=spec.help, description=spec.help)
        for option in spec.options:
            if option.value == "flag":
                step.add_argument(option.flag, action="store_true", help=option.help)
                continue
            step.add_argument(
                option.flag,
                type=_VALUE_TYPES[option.value],
                required=option.required,
                default=option.default,
                help=option.help,
            )
    return parser


Say = Callable[[str], None]


def _validate(args: argparse.Namespace, settings: Settings, say: Say) -> None:
    from demand_forecast import pipeline

    quality = pipeline.run_validate(args.data, args.out, settings)
    say(
        f"valid: {quality.series} series, {quality.weeks} weeks, {quality.gaps} gaps, "
        f"{sum(quality.quarantined_by_reason.values())} rows quarantined -> {args.out}"
    )


def _train(args: argparse.Namespace, settings: Settings, say: Say) -> None:
    from demand_forecast import pipeline

    started = time.perf_counter()
    with console.status("training") as status:
        info = pipeline.run_train(
            args.data, args.out, settings, lambda m: status.update(m), track=not args.no_tracking
        )
    validation = info.metrics
    say(
        f"trained {info.model_version}: {len(info.segments)} segments "
        f"in {time.perf_counter() - started:.1f}s; "
        f"validation MAPE ensemble {validation['validation_mape_ensemble']:.3f} "
        f"vs baseline {validation['validation_mape_baseline']:.3f} -> {args.out}"
    )


def _evaluate(args: argparse.Namespace, settings: Settings, say: Say) -> None:
    from demand_forecast import pipeline

    metrics = pipeline.run_evaluate(args.model, args.data, args.out, args.champion, settings, say)
    parts = [
        f"{name} {record.mape:.3f}"
        for name, record in metrics.overall.by_model().items()
        if record is not None and record.mape is not None
    ]
    say(
        f"holdout MAPE: {', '.join(parts)}; {metrics.segments_meeting_target}/"
        f"{metrics.segments_total} segments meet {metrics.target_mape}"
    )


def _register(args: argparse.Namespace, settings: Settings, say: Say) -> None:
    from demand_forecast import pipeline

    decision = pipeline.run_register(args.model, args.metrics, args.out, args.name, args.margin, settings)
    say(
        f"registered {decision.model_name} v{decision.registered_version}; "
        f"{'PROMOTED to champion' if decision.promoted else 'not promoted'}: {decision.reason}"
    )


def _score(args: argparse.Namespace, settings: Settings, say: Say) -> None:
    from demand_forecast import pipeline

    forecasts = pipeline.run_score(args.model, args.data, args.out, args.as_of, args.horizon, settings)
    say(
        f"wrote {len(forecasts)} forecasts for {forecasts['week_start'].nunique()} week(s) "
        f"-> {args.out / 'forecasts.csv'}"
    )


def _monitor(args: argparse.Namespace, settings: Settings, say: Say) -> None:
    from demand_forecast import pipeline

    report = pipeline.run_monitor(args.model, args.data, args.out, args.forecasts, args.as_of, settings)
    say(
        f"monitor: age {report.age_days} days (stale={report.stale}), "
        f"drift_alert={report.drift_alert}, "
        f"recent MAPE {report.recent_mape}"
    )


_RUNNERS: dict[str, Callable[[argparse.Namespace, Settings, Say], None]] = {
    "validate": _validate,
    "train": _train,
    "evaluate": _evaluate,
    "register": _register,
    "score": _score,
    "monitor": _monitor,
}


def _run(args: argparse.Namespace) -> int:
    overrides: dict[str, dict[str, int]] = {}
    if getattr(args, "seed", None) is not None:
        overrides["train"] = {"seed": args.seed}
    if getattr(args, "epochs", None) is not None:
        overrides["nn"] = {"epochs": args.epochs}
    settings = load_settings(args.config, overrides)
    _RUNNERS[args.step](args, settings, console.print)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed what was wrong; usage errors are exit 2
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _run(args)
    except UsageError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 2
    except Exception as exc:  # the contract: anything unexpected is exit 1 with its traceback
        console.print(f"[bold red]unexpected failure in {args.step}:[/] {type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stderr)
        return 1
