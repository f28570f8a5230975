"""The `demand-forecast` console entry point: one subcommand per pipeline step.

Exit statuses (`demand_forecast.errors.ExitStatus`, one table with stackctl): 0 ok (including "not
promoted"), 2 data refused (the message names file, row, column and reason), 3 environment or setup
fault (configuration, arguments, a missing step output or model, an outdated reporting schema, the
registry, the GPU), 70 internal error (a bug; the traceback follows).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from demand_forecast import distributed
from demand_forecast import telemetry as otel
from demand_forecast.contracts import MODEL_INFO_FILE, ModelInfo, Monitoring
from demand_forecast.errors import (
    DataContractError,
    DeviceError,
    ExitStatus,
    FailedPartitionsError,
    RegistryError,
    UsageError,
)
from demand_forecast.outputs import check_writable, fresh_output, write_step_run
from demand_forecast.registry import registered_model_name
from demand_forecast.settings import Settings, load_settings
from demand_forecast.steps import STEPS

# soft_wrap: messages keep their paths whole (a wrapped path cannot be copied from a CI log)
console = Console(stderr=True, highlight=False, soft_wrap=True)


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
                choices=option.choices or None,
                help=option.help,
            )
    return parser


def _publish(args: argparse.Namespace, telemetry: otel.Telemetry, out: Path) -> None:
    from demand_forecast.contracts import PUBLISHED_FILE, Published
    from demand_forecast.publish import PublishInputs, publish, resolve_run_id
    from demand_forecast.reporting.database import open_database

    url = args.reporting_database or os.environ.get("REPORTING_DATABASE_URL")
    if not url:
        raise UsageError(
            "publish needs --reporting-database (or REPORTING_DATABASE_URL): sqlite:///... or mssql://..."
        )
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
    Published.parse(summary.as_dict(), "the publish step's summary").write(out / PUBLISHED_FILE)
    written = ", ".join(f"{n} {name}" for name, n in summary.rows.items() if n)
    console.print(f"published {summary.pipeline} run {summary.run_id} ({summary.status}): {written}")


Say = Callable[[str], None]


def _validate(args: argparse.Namespace, settings: Settings, say: Say, out: Path) -> None:
    from demand_forecast.loading import run_validate  # not pipeline: validate needs no torch

    quality = run_validate(args.data, out, settings, say)
    say(
        f"valid: {quality.series} series, {quality.weeks} weeks, {quality.gaps} gaps, "
        f"{sum(quality.quarantined_by_reason.values())} rows quarantined -> {args.out}"
    )


def _train(args: argparse.Namespace, settings: Settings, say: Say, out: Path) -> None:
    from demand_forecast import pipeline

    started = time.perf_counter()
    with console.status("training") as status:
        info = pipeline.run_train(
            args.data, out, settings, lambda m: status.update(m), track=not args.no_tracking
        )
    if info is None:  # a worker other than rank 0: the model is rank 0's to write
        say(f"worker {distributed.world().rank} done in {time.perf_counter() - started:.1f}s")
        return
    validation = info.metrics
    say(
        f"trained {info.model_version}: {len(info.segments)} segments "
        f"in {time.perf_counter() - started:.1f}s; "
        f"validation MAPE ensemble {validation['validation_mape_ensemble']:.3f} "
        f"vs baseline {validation['validation_mape_baseline']:.3f} -> {args.out}"
    )


def _evaluate(args: argparse.Namespace, settings: Settings, say: Say, out: Path) -> None:
    from demand_forecast import pipeline

    metrics = pipeline.run_evaluate(args.model, args.data, out, args.champion, settings, say)
    parts = [
        f"{name} MAPE {record.mape:.3f} WAPE {record.wape or 0.0:.3f} bias {record.bias or 0.0:+.1%}"
        for name, record in metrics.overall.by_model().items()
        if record is not None and record.mape is not None
    ]
    say(
        f"holdout {metrics.holdout.start}..{metrics.holdout.end}: {', '.join(parts)}; "
        f"{metrics.segments_meeting_target}/{metrics.segments_total} segments meet MAPE {metrics.target_mape}"
    )


def _register(args: argparse.Namespace, settings: Settings, say: Say, out: Path) -> None:
    from demand_forecast import pipeline

    decision = pipeline.run_register(args.model, args.metrics, out, args.name, args.margin, settings)
    say(
        f"registered {decision.model_name} v{decision.registered_version}; "
        f"{'PROMOTED to champion' if decision.promoted else 'not promoted'}: {decision.reason}"
    )
    for region, error in decision.failed_partitions.items():
        say(f"warning: partition {region} failed in training ({error}); its segments keep the champion's")


def _model_version(model_dir: Path) -> str:
    """The model version of a model folder, for telemetry ("" when it has none readable)."""
    try:
        return ModelInfo.read(model_dir / MODEL_INFO_FILE).model_version
    except UsageError:
        return ""


def _score(args: argparse.Namespace, settings: Settings, say: Say, out: Path) -> None:
    from demand_forecast import pipeline

    scored = pipeline.run_score(args.model, args.data, out, args.as_of, args.horizon, settings, say)
    if scored is not None:  # None: a worker other than rank 0, which writes nothing
        say(f"wrote {scored.rows} forecasts for {scored.weeks} week(s) -> {args.out / 'forecasts.csv'}")


def _monitor(args: argparse.Namespace, settings: Settings, say: Say, out: Path) -> Monitoring:
    from demand_forecast import pipeline

    report = pipeline.run_monitor(args.model, args.data, out, args.forecasts, args.as_of, settings, say)
    say(
        f"monitor: age {report.age_days} days (stale={report.stale}), "
        f"drift_alert={report.drift_alert}, "
        f"recent MAPE {report.recent_mape}"
    )
    return report


# Each returns what it wrote (monitor: the report, whose health metrics go to telemetry) or None.
_RUNNERS: dict[str, Callable[[argparse.Namespace, Settings, Say, Path], object]] = {
    "validate": _validate,
    "train": _train,
    "evaluate": _evaluate,
    "register": _register,
    "score": _score,
    "monitor": _monitor,
}


def _run(args: argparse.Namespace, telemetry: otel.Telemetry) -> None:
    """Run the step into a staging folder that replaces `--out` only when the step succeeds
    (`demand_forecast.outputs.fresh_output`): nothing of an earlier run survives, and a step that
    fails or is killed leaves the previous folder as it was."""
    if not _is_root():
        # Under torchrun only rank 0 writes the step's outputs (docs/scale.md, contract 5).
        from demand_forecast.training.shards import scratch_folder

        with scratch_folder("demand-forecast-worker-") as scratch:
            _run_into(args, telemetry, scratch)
        return
    with fresh_output(args.out) as staging:
        _run_into(args, telemetry, staging)


def _run_into(args: argparse.Namespace, telemetry: otel.Telemetry, out: Path) -> None:
    if args.step == "publish":
        _publish(args, telemetry, out)
        return
    overrides: dict[str, dict[str, int]] = {}
    if getattr(args, "seed", None) is not None:
        overrides["train"] = {"seed": args.seed}
    if getattr(args, "epochs", None) is not None:
        overrides["nn"] = {"epochs": args.epochs}
    settings = load_settings(args.config, overrides)
    try:
        result = _RUNNERS[args.step](args, settings, console.print, out)
    except FailedPartitionsError as exc:  # train's or register's refusal is reported, then fails (exit 3)
        # train has neither --model nor --name: it wrote no model (no version) and names none.
        name = getattr(args, "name", None) or settings.register_.model_name
        model = getattr(args, "model", None)
        otel.record_failed_partitions(telemetry, exc.failed, _model_version(model) if model else "", name)
        raise
    if isinstance(result, Monitoring):
        otel.record_monitoring(telemetry, result.to_json(), registered_model_name(str(args.model)))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse printed what was wrong: a bad command line is a setup fault
        return ExitStatus.OK if exc.code in (0, None) else ExitStatus.SETUP_FAULT
    try:
        # Before any work: an unwritable --out, or one that holds an input, is one clear error.
        check_writable(args.out)
        _refuse_inputs_inside_out(args)
    except UsageError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return ExitStatus.SETUP_FAULT
    telemetry = otel.configure(reporting=_is_root())
    started_at, started = datetime.now(UTC), time.perf_counter()
    code, detail = ExitStatus.INTERRUPTED, "interrupted"
    try:
        with otel.step_metrics(telemetry, args.step) as state:
            code, detail = _run_reporting_errors(args, telemetry)
            state["outcome"] = _OUTCOMES.get(code, "failed")
    finally:
        outcome = _OUTCOMES.get(code, "failed")
        try:
            # Only rank 0 records the step's run (docs/scale.md, contract 5).
            if _is_root():
                write_step_run(args.out, args.step, started_at, time.perf_counter() - started, outcome)
            if outcome != "succeeded" and _is_root():
                from demand_forecast.publish import record_failed_step

                # In a pipeline, the run is published as failed by the step that failed (publish.py).
                recorded = record_failed_step(
                    args.step, _step_folders(args), detail, telemetry, database=args.reporting_database
                )
                if recorded:
                    console.print(recorded)
        finally:
            telemetry.shutdown()
    return int(code)


def _is_root() -> bool:
    """Rank 0 of a distributed step, or the one process of any other; a broken torchrun environment
    counts as rank 0, so its setup error is recorded."""
    try:
        return distributed.world().is_root
    except UsageError:
        return True


def _step_folders(args: argparse.Namespace) -> list[Path]:
    """The step's output folder and the folders its port options name (a file option: its folder)."""
    folders = [args.out]
    for option in STEPS[args.step].options:
        value = getattr(args, option.flag.lstrip("-").replace("-", "_"), None)
        if option.port is None or option.output or not isinstance(value, Path):
            continue
        folders.append(value.parent if option.file else value)
    return folders


def _refuse_inputs_inside_out(args: argparse.Namespace) -> None:
    """An input inside `--out` would be deleted when the step replaces its output folder."""
    out = args.out.resolve()
    for option in STEPS[args.step].options:
        value = getattr(args, option.flag.lstrip("-").replace("-", "_"), None)
        if option.output or option.value not in ("path", "model") or value is None or ":/" in str(value):
            continue
        given = Path(value).resolve()
        if given == out or out in given.parents:
            raise UsageError(
                f"{option.flag} {value} is inside --out {args.out}; a step replaces its whole output folder, "
                "so write the output somewhere else"
            )


def _run_reporting_errors(args: argparse.Namespace, telemetry: otel.Telemetry) -> tuple[ExitStatus, str]:
    """The step's exit status (demand_forecast.errors' table) and, when it failed, what went wrong."""
    try:
        _run(args, telemetry)
        return ExitStatus.OK, ""
    except DataContractError as exc:  # the data is refused: the only status that blames the data
        console.print(f"[bold red]data refused:[/] {exc}")
        return ExitStatus.DATA_REFUSED, str(exc)
    except UsageError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        return ExitStatus.SETUP_FAULT, str(exc)
    except RegistryError as exc:  # the registry failed; the message names the store and the call
        console.print(f"[bold red]MLflow registry error in {args.step}:[/] {exc}")
        return ExitStatus.SETUP_FAULT, f"MLflow registry error: {exc}"
    except DeviceError as exc:  # the node's GPU is unusable; the message names the driver
        console.print(f"[bold red]GPU error in {args.step}:[/] {exc}")
        return ExitStatus.SETUP_FAULT, f"GPU error: {exc}"
    except Exception as exc:  # anything unexpected is a bug: its own status, with its traceback
        console.print(f"[bold red]unexpected failure in {args.step}:[/] {type(exc).__name__}: {exc}")
        traceback.print_exc(file=sys.stderr)
        return ExitStatus.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}"


# The step_runs outcome each exit status records (reporting schema, telemetry `outcome`); every
# other status is "failed", the value the alert rules count.
_OUTCOMES = {ExitStatus.OK: "succeeded", ExitStatus.DATA_REFUSED: "rejected_input"}
