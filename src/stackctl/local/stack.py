"""`stackctl apply --env local`: provision the stand-ins, run training and scoring, report, summarise.

Reruns are decided by content hashes: of the raw data, the model's code, the training settings (for
training) and additionally of the champion and the scoring settings (for scoring). When nothing changed
the pipelines do not run again and the dashboard and summary are refreshed from the last results.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from stackctl.aml.graph import MODEL_NAME, SCORING, TRAINING, Pipeline
from stackctl.errors import StackctlError
from stackctl.hashing import hash_json, hash_tree, sha256_file
from stackctl.local import reporting
from stackctl.local.dashboard import DashboardInputs, render_dashboard
from stackctl.local.layout import LocalLayout, land_sample, quarantine_copy
from stackctl.local.runner import LocalRunner, PipelineRun, StepFailed
from stackctl.local.settings import LocalSettings, load_settings
from stackctl.sql.database import create_sqlite_schema


@dataclass
class LocalApplyResult:
    trained: bool
    scored: bool
    promoted: bool | None
    champion_version: str | None
    champion_registered_version: str | None
    champion_mape: float | None
    champion_scores: str
    data_quality: str
    training_run: str | None
    scoring_run: str | None
    dashboard: Path
    reporting_db: Path
    tracking_uri: str
    quarantine_file: Path
    messages: list[str] = field(default_factory=list)


def _now() -> datetime:
    return datetime.now(UTC)


def _run_id(pipeline: str, inputs_hash: str) -> str:
    return f"{pipeline}-{_now().strftime('%Y%m%dT%H%M%S%f')}-{inputs_hash[:8]}"


def _load_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        # A state file cut short by a crash only costs a rerun; never a reason to stop.
        return {}
    return state if isinstance(state, dict) else {}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True, default=str), encoding="utf-8")
    tmp.replace(path)


def training_inputs_hash(root: Path, layout: LocalLayout, settings: LocalSettings) -> str:
    config = settings.model_config_file
    config_path = root / config if config is not None else None
    return hash_json(
        {
            "raw": hash_tree(layout.lake_fs("raw"), ("*.csv", "*.parquet")),
            "code": hash_tree(root / "src" / "model" / "demand_forecast", ("*.py", "*.yaml")),
            "settings": settings.fingerprint(),
            "config": sha256_file(config_path) if config_path and config_path.exists() else None,
        }
    )


def _provision_mlflow(layout: LocalLayout) -> bool:
    """Create the MLflow SQLite store once (its schema migrations take a few seconds)."""
    if (layout.mlflow_dir / "mlflow.db").exists():
        return False
    from mlflow.tracking import MlflowClient

    # MLflow announces each schema migration at INFO on the root handler; the progress line says it.
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    MlflowClient(tracking_uri=layout.tracking_uri).search_experiments(max_results=1)
    return True


def provision_local(layout: LocalLayout) -> bool:
    """Folders, reporting schema and MLflow store; True when anything was new (idempotent)."""
    created = layout.provision()
    new_tables = create_sqlite_schema(layout.reporting_db)
    mlflow_new = _provision_mlflow(layout)
    return bool(created or new_tables or mlflow_new)


def registry_champion(layout: LocalLayout) -> str | None:
    """The registered version the model registry holds as champion (the source of truth), if any.

    Resolved by demand_forecast.registry.champion, the one resolver score, monitor and evaluate use.
    """
    if not (layout.mlflow_dir / "mlflow.db").exists():
        return None
    from demand_forecast.registry import champion
    from demand_forecast.settings import load_settings

    store = {"tracking": {"sqlite_path": str(layout.mlflow_dir / "mlflow.db")}}
    current = champion(load_settings(overrides=store), MODEL_NAME)
    return None if current is None else current.version


class _StepPrinter:
    def __init__(self, console: Console, pipeline: Pipeline):
        self.console = console
        self.pipeline = pipeline
        self.total = len(pipeline.nodes)
        self.index = 0
        self.status: Any = None

    def __call__(self, step: str, event: str, seconds: float) -> None:
        if event == "start":
            self.index += 1
            label = f"[{self.index}/{self.total}] {self.pipeline.name}: {step}"
            if self.status is None:
                self.status = self.console.status(label)
                self.status.start()
            else:
                self.status.update(label)
            return
        mark = "[green]✓[/]" if event == "done" else "[red]✗[/]"
        self.console.print(f"  {mark} {self.pipeline.name}.{step} ({seconds:.1f}s)")

    def close(self) -> None:
        if self.status is not None:
            self.status.stop()


def render_local_dashboard(layout: LocalLayout, settings: LocalSettings, conditioned: Path | None) -> Path:
    """The dashboard from the reporting database (after every apply, a failed one included)."""
    return render_dashboard(
        DashboardInputs(
            reporting_db=layout.reporting_db,
            target_mape=settings.dashboard.target_mape,
            series_to_plot=settings.dashboard.series_to_plot,
            quarantine_file=(conditioned / "quarantine.csv") if conditioned is not None else None,
        ),
        layout.dashboard,
    )


def _run_pipeline(
    runner: LocalRunner,
    pipeline: Pipeline,
    inputs: dict[str, str | int | float | None],
    run_id: str,
    *,
    console: Console,
    layout: LocalLayout,
    settings: LocalSettings,
) -> PipelineRun:
    printer = _StepPrinter(console, pipeline)
    # The publish step (the graph's last node) writes the run into the reporting database.
    inputs = {**inputs, "reporting_database": reporting.database_url(layout), "run_id": run_id}
    try:
        return runner.run(pipeline, inputs, run_id, on_step=printer)
    except StepFailed as failure:
        kept = ""
        if failure.bad_input:
            kept_at = quarantine_copy(layout.lake_fs("raw"), layout.quarantine, run_id)
            kept = f"; the refused raw data is kept in {kept_at} (and left in place in raw/)"
            failure.fix = (failure.fix or "") + kept
        if not failure.step.startswith("publish"):
            # The pipeline stopped before its publish step: record the failure through the same step.
            reporting.publish_failed_run(runner, pipeline, run_id, layout, failure.what)
        # The dashboard must not stay green after a failure: it shows the failed run first.
        conditioned = runner.lake / "conditioned" / run_id / "validate.conditioned"
        render_local_dashboard(layout, settings, conditioned if conditioned.is_dir() else None)
        raise
    finally:
        printer.close()


def apply_local(root: Path, console: Console) -> LocalApplyResult:
    settings = load_settings(root)
    layout = LocalLayout(root)
    messages: list[str] = []

    with console.status("provisioning the local stack"):
        provisioned = provision_local(layout)
    if provisioned:
        console.print(
            f"  [green]✓[/] provisioned the data lake, MLflow store and reporting database in {layout.base}"
        )
    else:
        console.print("  [green]✓[/] local stack already provisioned")

    landing = land_sample(root / settings.sample_data, layout.lake_fs("raw"))
    if landing.landed or landing.updated:
        console.print(
            f"  [green]✓[/] landed sample data in raw: {', '.join(landing.landed + landing.updated)}"
        )
    if landing.kept:
        console.print(
            f"  [yellow]![/] kept your changed files in raw (not overwritten): {', '.join(landing.kept)}"
        )

    runner = LocalRunner(
        settings.command(),
        lake=layout.lake,
        runs=layout.runs,
        cwd=layout.mlflow_dir,
        env={
            "MLFLOW_TRACKING_URI": layout.tracking_uri,
            "MLFLOW_REGISTRY_URI": layout.tracking_uri,
            # The steps' OpenTelemetry metrics go to the local exporter's file (demand_forecast.telemetry).
            "DEMAND_FORECAST_TELEMETRY_DIR": str(layout.telemetry),
        },
        config_file=(root / settings.model_config_file) if settings.model_config_file else None,
    )
    state = _load_state(layout.state_file)
    train_hash = training_inputs_hash(root, layout, settings)
    champion = state.get("champion")
    trained = False
    promoted: bool | None = None
    training_run_id: str | None = None

    if state.get("training", {}).get("inputs_hash") == train_hash and champion:
        messages.append(f"nothing changed: champion {champion['model_version']} kept, no retraining")
        console.print(f"  [green]✓[/] {messages[-1]}")
    else:
        training_run_id = _run_id("training", train_hash)
        run = _run_pipeline(
            runner,
            TRAINING,
            {
                "seed": settings.training.seed,
                "epochs": settings.training.epochs,
                "margin": settings.training.margin,
                "raw_data": str(layout.lake_fs("raw")),
            },
            training_run_id,
            console=console,
            layout=layout,
            settings=settings,
        )
        decision = json.loads(
            (run.output("register", "decision") / "decision.json").read_text(encoding="utf-8")
        )
        metrics_json = run.output("evaluate", "evaluation") / "metrics.json"
        promoted = bool(decision["promoted"])
        if promoted or not champion:
            champion = {
                "model_version": str(decision["model_version"]),
                "registered_version": str(decision["registered_version"]),
                "mape": decision.get("candidate_mape"),
                "metrics_json": str(metrics_json),
                "model_dir": str(run.output("train", "model")),
            }
        verdict = "promoted to champion" if promoted else "not promoted"
        messages.append(f"trained {decision['model_version']}: {verdict} ({decision.get('reason', '')})")
        console.print(f"  [green]✓[/] {messages[-1]}")
        state["training"] = {
            "inputs_hash": train_hash,
            "run_id": training_run_id,
            "decision": decision,
            "metrics_json": str(metrics_json),
        }
        state["champion"] = champion
        _save_state(layout.state_file, state)
        trained = True

    assert champion is not None
    score_hash = hash_json(
        {"training": train_hash, "champion": champion, "scoring": settings.scoring.model_dump()}
    )
    scored = False
    scoring_run_id: str | None = None
    if state.get("scoring", {}).get("inputs_hash") == score_hash:
        console.print("  [green]✓[/] forecasts are current: no rescoring")
    else:
        scoring_run_id = _run_id("scoring", score_hash)
        run = _run_pipeline(
            runner,
            SCORING,
            {
                "raw_data": str(layout.lake_fs("raw")),
                "as_of": settings.scoring.as_of,
                "horizon": settings.scoring.horizon,
            },
            scoring_run_id,
            console=console,
            layout=layout,
            settings=settings,
        )
        forecasts_csv = run.output("score", "scored") / "forecasts.csv"
        monitoring_json = run.output("monitor", "monitoring") / "monitoring.json"
        conditioned = run.output("validate", "conditioned")
        published = reporting.read_publish_summary(run.output("publish_scoring", "published"))
        count = int(published["rows"].get("forecasts", 0))
        health = json.loads(monitoring_json.read_text(encoding="utf-8"))
        messages.append(f"scored {count} forecasts with {health['model_version']}")
        console.print(f"  [green]✓[/] {messages[-1]} into the reporting database")
        state["scoring"] = {
            "inputs_hash": score_hash,
            "run_id": scoring_run_id,
            "forecasts_csv": str(forecasts_csv),
            "monitoring_json": str(monitoring_json),
            "conditioned": str(conditioned),
        }
        _save_state(layout.state_file, state)
        scored = True

    scoring_state = state["scoring"]
    with console.status("rendering the dashboard"):
        render_local_dashboard(layout, settings, Path(scoring_state["conditioned"]))
    console.print(f"  [green]✓[/] dashboard: {layout.dashboard}")
    return LocalApplyResult(
        trained=trained,
        scored=scored,
        promoted=promoted,
        champion_version=champion["model_version"],
        champion_registered_version=champion.get("registered_version"),
        champion_mape=champion.get("mape"),
        champion_scores=_scores_line(json.loads(Path(champion["metrics_json"]).read_text(encoding="utf-8"))),
        data_quality=_quality_line(
            json.loads((Path(scoring_state["conditioned"]) / "data_quality.json").read_text(encoding="utf-8"))
        ),
        training_run=training_run_id,
        scoring_run=scoring_run_id,
        dashboard=layout.dashboard,
        reporting_db=layout.reporting_db,
        tracking_uri=layout.tracking_uri,
        quarantine_file=Path(scoring_state["conditioned"]) / "quarantine.csv",
        messages=messages,
    )


def _scores_line(metrics: dict[str, Any]) -> str:
    """The champion's holdout scores per model, as one line: `ensemble MAPE 0.437 RMSE 12.1, ...`."""
    parts = []
    for model in ("ensemble", "lasso", "nn", "baseline"):
        values = (metrics.get("overall") or {}).get(model) or {}
        if values.get("mape") is None:
            continue
        parts.append(f"{model} MAPE {values['mape']:.3f} RMSE {values.get('rmse', float('nan')):.1f}")
    target = metrics.get("target_mape", 0.45)
    return ", ".join(parts) + f"  (target MAPE <= {target})" if parts else "n/a"


def _quality_line(quality: dict[str, Any]) -> str:
    files = quality.get("files", {})
    rows_in = sum(int(f.get("rows_in", 0)) for f in files.values())
    quarantined = sum(int(f.get("quarantined", 0)) for f in files.values())
    return (
        f"{rows_in} rows in {len(files)} files, {quarantined} quarantined; "
        f"{quality.get('series')} series over {quality.get('weeks')} weeks"
    )


# What the summary suggests a reader try: the reporting database opens in the plain sqlite3 shell.
_COUNT_FORECASTS = '"select count(*) from v_forecasts"'


def print_summary(result: LocalApplyResult, layout: LocalLayout, console: Console) -> None:
    table = Table(title="local stack", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column()
    # The registry's alias is the truth; the state file only knows what the last register step said.
    registry_version = registry_champion(layout) or result.champion_registered_version
    mape = "n/a" if result.champion_mape is None else f"{result.champion_mape:.3f}"
    table.add_row(
        "champion", f"{result.champion_version} (registry version {registry_version or '?'}), MAPE {mape}"
    )
    table.add_row("holdout scores", result.champion_scores)
    table.add_row("data quality", result.data_quality)
    table.add_row("this run", "; ".join(result.messages) or "refreshed the dashboard only")
    table.add_row("data lake", str(layout.lake) + "  (raw, conditioned, scored)")
    table.add_row(
        "MLflow", f"{result.tracking_uri}  (`.venv/bin/mlflow ui --backend-store-uri {result.tracking_uri}`)"
    )
    table.add_row(
        "reporting DB",
        f"{result.reporting_db}  (views v_*: `sqlite3 {result.reporting_db} {_COUNT_FORECASTS}`)",
    )
    table.add_row("dashboard", str(result.dashboard))
    table.add_row("quarantined rows", str(result.quarantine_file))
    table.add_row(
        "telemetry", str(layout.telemetry / "metrics.jsonl") + "  (OpenTelemetry metrics of every step)"
    )
    console.print(table)


def plan_local(root: Path, console: Console) -> int:
    """What `apply --env local` would do now, without doing it."""
    settings = load_settings(root)
    layout = LocalLayout(root)
    state = _load_state(layout.state_file)
    if not layout.base.exists():
        console.print(
            "apply would provision .local/, land the sample data, train, score and render the dashboard"
        )
        return 0
    train_hash = training_inputs_hash(root, layout, settings)
    if state.get("training", {}).get("inputs_hash") == train_hash and state.get("champion"):
        console.print(
            f"apply would retrain nothing: champion {state['champion']['model_version']} is current"
        )
    else:
        console.print("apply would run the training pipeline (data, model code or settings changed)")
    return 0


__all__ = ["LocalApplyResult", "StackctlError", "apply_local", "plan_local", "print_summary"]
