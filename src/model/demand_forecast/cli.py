"""The `demand-forecast` console entry point: one subcommand per pipeline step.

Exit codes: 0 ok (including "not promoted"), 2 unusable input (the message names file, row, column
and reason), 1 unexpected failure.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from rich.console import Console

from demand_forecast import telemetry as otel
from demand_forecast.errors import RegistryError, UsageError
from demand_forecast.settings import load_settings

console = Console(stderr=True, highlight=False)


def _week(text: str) -> pd.Timestamp:
    try:
        week = pd.Timestamp(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; use YYYY-MM-DD") from exc
    if week.day_of_week != 0:
        raise argparse.ArgumentTypeError(f"{text} is not a Monday; weeks start on Monday")
    return week


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="demand-forecast", description="Weekly retail demand forecasting steps."
    )
    parser.add_argument("--config", type=Path, help="YAML file overlaid on demand_forecast/defaults.yaml")
    steps = parser.add_subparsers(dest="step", required=True, metavar="STEP")

    p = steps.add_parser(
        "validate", help="check raw data against the contract; write the conditioned dataset"
    )
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)

    p = steps.add_parser("train", help="validate, then train every segment's models into a model folder")
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int)
    p.add_argument("--epochs", type=int)
    p.add_argument("--no-tracking", action="store_true", help="do not record the run in MLflow")

    p = steps.add_parser("evaluate", help="holdout metrics against the baseline and the champion")
    p.add_argument("--model", required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--champion", help="champion model folder or MLflow URI, e.g. models:/demand-forecast@champion"
    )

    p = steps.add_parser("register", help="log and register the model; promote it if it beats the champion")
    p.add_argument("--model", type=Path, required=True)
    p.add_argument("--metrics", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--name")
    p.add_argument("--margin", type=float)

    p = steps.add_parser("score", help="batch forecasts for the weeks as-of .. as-of + horizon - 1")
    p.add_argument("--model", required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--as-of", type=_week)
    p.add_argument("--horizon", type=int, default=1)

    p = steps.add_parser("monitor", help="staleness, input drift and recent MAPE into monitoring.json")
    p.add_argument("--model", required=True)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--forecasts", type=Path)
    p.add_argument("--as-of", type=_week)

    p = steps.add_parser(
        "publish", help="write a pipeline run's results into the reporting database (replacing its rows)"
    )
    p.add_argument("--pipeline", choices=("training", "scoring"), required=True)
    p.add_argument("--run-id", help="the pipeline run; in AML: the pipeline job (default)")
    p.add_argument(
        "--database",
        help="sqlite:///path/reporting.db or mssql://<server>/<database> (default: $REPORTING_DATABASE_URL)",
    )
    for folder in ("conditioned", "model", "evaluation", "decision", "scored", "monitoring"):
        p.add_argument(f"--{folder}", type=Path, help=f"the {folder} output folder of this run")
    p.add_argument("--status", choices=("succeeded", "failed"), default="succeeded")
    p.add_argument("--detail", help="what went wrong (with --status failed)")
    p.add_argument("--out", type=Path, required=True)
    return parser


def _publish(args: argparse.Namespace, telemetry: otel.Telemetry) -> None:
    import json

    from demand_forecast.publish import PUBLISH_FILE, PublishInputs, publish, resolve_run_id
    from demand_forecast.reporting_db import open_database

    url = args.database or os.environ.get("REPORTING_DATABASE_URL")
    if not url:
        raise UsageError("publish needs --database (or REPORTING_DATABASE_URL): sqlite:///... or mssql://...")
    inputs = PublishInputs(
        pipeline=args.pipeline,
        run_id=resolve_run_id(args.run_id),
        conditioned=args.conditioned,
        model=args.model,
        evaluation=args.evaluation,
        decision=args.decision,
        scored=args.scored,
        monitoring=args.monitoring,
        status=args.status,
        detail=args.detail,
    )
    summary = publish(open_database(url), inputs, telemetry)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / PUBLISH_FILE).write_text(json.dumps(summary.as_dict(), indent=2) + "\n", encoding="utf-8")
    written = ", ".join(f"{n} {name}" for name, n in summary.rows.items() if n)
    console.print(f"published {summary.pipeline} run {summary.run_id} ({summary.status}): {written}")


def _run(args: argparse.Namespace, telemetry: otel.Telemetry) -> int:
    from demand_forecast import pipeline

    if args.step == "publish":
        _publish(args, telemetry)
        return 0
    overrides: dict[str, dict[str, int]] = {}
    if getattr(args, "seed", None) is not None:
        overrides["train"] = {"seed": args.seed}
    if getattr(args, "epochs", None) is not None:
        overrides["nn"] = {"epochs": args.epochs}
    settings = load_settings(args.config, overrides)
    say = console.print
    started = time.perf_counter()
    if args.step == "validate":
        report = pipeline.run_validate(args.data, args.out, settings)
        quarantined = sum(report["quarantined_by_reason"].values())
        say(
            f"valid: {report['series']} series, {report['weeks']} weeks, {report['gaps']} gaps, "
            f"{quarantined} rows quarantined -> {args.out}"
        )
    elif args.step == "train":
        with console.status("training") as status:
            info = pipeline.run_train(
                args.data, args.out, settings, lambda m: status.update(m), track=not args.no_tracking
            )
        metrics = info["metrics"]
        say(
            f"trained {info['model_version']}: {len(info['segments'])} segments "
            f"in {time.perf_counter() - started:.1f}s; "
            f"validation MAPE ensemble {metrics['validation_mape_ensemble']:.3f} "
            f"vs baseline {metrics['validation_mape_baseline']:.3f} -> {args.out}"
        )
    elif args.step == "evaluate":
        metrics = pipeline.run_evaluate(args.model, args.data, args.out, args.champion, settings, say)
        parts = [
            f"{name} {record['mape']:.3f}"
            for name, record in metrics["overall"].items()
            if record and record["mape"] is not None
        ]
        say(
            f"holdout MAPE: {', '.join(parts)}; {metrics['segments_meeting_target']}/"
            f"{metrics['segments_total']} segments meet {metrics['target_mape']}"
        )
    elif args.step == "register":
        decision = pipeline.run_register(args.model, args.metrics, args.out, args.name, args.margin, settings)
        say(
            f"registered {decision['model_name']} v{decision['registered_version']}; "
            f"{'PROMOTED to champion' if decision['promoted'] else 'not promoted'}: {decision['reason']}"
        )
    elif args.step == "score":
        forecasts = pipeline.run_score(
            args.model, args.data, args.out, args.as_of, args.horizon, settings, say
        )
        say(
            f"wrote {len(forecasts)} forecasts for {forecasts['week_start'].nunique()} week(s) "
            f"-> {args.out / 'forecasts.csv'}"
        )
    elif args.step == "monitor":
        report = pipeline.run_monitor(
            args.model, args.data, args.out, args.forecasts, args.as_of, settings, say
        )
        say(
            f"monitor: age {report['age_days']} days (stale={report['stale']}), "
            f"drift_alert={report['drift_alert']}, "
            f"recent MAPE {report['recent_mape']}"
        )
        otel.record_monitoring(telemetry, report)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed what was wrong; usage errors are exit 2
        return exc.code if isinstance(exc.code, int) else 2
    telemetry = otel.configure()
    started_at, started = datetime.now(UTC), time.perf_counter()
    code = 1
    try:
        with otel.step_metrics(telemetry, args.step) as state:
            code = _run_reporting_errors(args, telemetry)
            state["outcome"] = {0: "succeeded", 2: "rejected_input"}.get(code, "failed")
    finally:
        outcome = {0: "succeeded", 2: "rejected_input"}.get(code, "failed")
        try:
            from demand_forecast.publish import write_step_run

            write_step_run(args.out, args.step, started_at, time.perf_counter() - started, outcome)
        finally:
            telemetry.shutdown()
    return code


def _run_reporting_errors(args: argparse.Namespace, telemetry: otel.Telemetry) -> int:
    try:
        return _run(args, telemetry)
    except UsageError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return 2
    except RegistryError as exc:  # the registry failed: exit 1, but the message says it all
        console.print(f"[bold red]MLflow registry error in {args.step}:[/] {exc}")
        return 1
    except Exception as exc:  # the contract: anything unexpected is exit 1 with its traceback
        console.print(f"[bold red]unexpected failure in {args.step}:[/] {type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stderr)
        return 1
