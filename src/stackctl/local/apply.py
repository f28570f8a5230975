"""`stackctl apply --env local`: provision the stand-ins, run training and scoring, report, summarise.

Reruns are decided by content hashes (`Staleness`, shared by `apply_local` and `plan_local`):
training runs when the hash of the raw data, the model's code and the training settings differs
from that of the champion (the model in use) and from that of the last training run (a candidate
already trained on these inputs that was not promoted); scoring runs when those inputs, the
champion or the scoring settings changed since the last scoring run. When nothing changed the
pipelines do not run again and the dashboard and summary are refreshed from the last results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from demand_forecast.contracts import (
    DATA_QUALITY_FILE,
    DECISION_FILE,
    METRICS_FILE,
    MONITORING_FILE,
    DataQuality,
    Decision,
    Metrics,
    Monitoring,
)
from rich.console import Console
from rich.status import Status

from stackctl.errors import ExitStatus
from stackctl.graph import SCORING, TRAINING, Pipeline
from stackctl.local import reporting
from stackctl.local.executor import (
    ForkServerSteps,
    LocalRunner,
    PipelineRun,
    StepFailed,
    StepRunner,
    run_subprocess,
)
from stackctl.local.layout import LocalLayout, land_sample, quarantine_copy
from stackctl.local.provision import provision_local
from stackctl.local.settings import DEFAULT_STEP_COMMAND, LocalSettings, load_settings
from stackctl.local.staleness import staleness
from stackctl.local.state import ChampionState, LocalState, ScoringState, TrainingState
from stackctl.local.summary import LocalApplyResult, quality_line, scores_line


def _now() -> datetime:
    return datetime.now(UTC)


def _run_id(pipeline: str, inputs_hash: str) -> str:
    return f"{pipeline}-{_now().strftime('%Y%m%dT%H%M%S%f')}-{inputs_hash[:8]}"


class _StepPrinter:
    def __init__(self, console: Console, pipeline: Pipeline):
        self.console = console
        self.pipeline = pipeline
        self.total = len(pipeline.nodes)
        self.index = 0
        self.status: Status | None = None

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
    # plotly is imported here, by the apply that renders, not by every stackctl command.
    from stackctl.local.dashboard import DashboardInputs, render_dashboard

    thresholds = settings.alert_thresholds(layout.root)
    return render_dashboard(
        DashboardInputs(
            reporting_db=layout.reporting_db,
            target_mape=thresholds.target_mape,
            stale_after_days=thresholds.stale_after_days,
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
        if failure.data_refused:
            kept_at = quarantine_copy(layout.lake_fs("raw"), layout.quarantine, run_id)
            kept = f"; the refused raw data is kept in {kept_at} (and left in place in raw/)"
            failure.fix = (failure.fix or "") + kept
        # The failing step recorded the run as failed itself, as it does in AML (executor.py).
        # The dashboard must not stay green after a failure: it shows the failed run first.
        conditioned = runner.lake / "conditioned" / run_id / "validate.conditioned"
        render_local_dashboard(layout, settings, conditioned if conditioned.is_dir() else None)
        raise
    finally:
        printer.close()


# The model CLI's entry point (src/model/pyproject.toml [project.scripts]) and the modules its
# steps import: the step worker imports them once, so that no step pays them again.
MODEL_ENTRY_POINT = "demand_forecast.cli:main"
MODEL_STEP_MODULES = (
    "demand_forecast.pipeline",
    "demand_forecast.training",
    "demand_forecast.scoring",
    "demand_forecast.registry",
    "demand_forecast.publish",
    "demand_forecast.reporting.database",
)


def step_runner(settings: LocalSettings) -> StepRunner:
    """How each step's command runs: the model CLI's own command forks from one worker that imported
    the model once (still a process per step, as in AML); any other command (a stand-in CLI the
    settings name) runs as a plain subprocess."""
    if tuple(settings.step_command) == DEFAULT_STEP_COMMAND and ForkServerSteps.available():
        return ForkServerSteps(MODEL_ENTRY_POINT, preload=MODEL_STEP_MODULES)
    return run_subprocess


@dataclass(frozen=True)
class _Session:
    """What one apply works with: settings, the stand-ins' layout, the reporting engine, the runner."""

    root: Path
    settings: LocalSettings
    layout: LocalLayout
    runner: LocalRunner
    console: Console


def _open_session(root: Path, console: Console) -> _Session:
    """Settings, provisioned stand-ins, the sample landed in raw, and a runner for the model CLI."""
    settings = load_settings(root)
    layout = LocalLayout(root)
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
        steps=step_runner(settings),
        workers=settings.distributed_workers(root),
    )
    return _Session(root, settings, layout, runner, console)


def train(session: _Session, state: LocalState, training_hash: str) -> tuple[LocalState, Decision, str]:
    """Run the training pipeline (its publish step records the run); the champion moves only when
    register promoted."""
    settings, layout = session.settings, session.layout
    run_id = _run_id("training", training_hash)
    run = _run_pipeline(
        session.runner,
        TRAINING,
        {
            "seed": settings.training.seed,
            "epochs": settings.training.epochs,
            "margin": settings.training.margin,
            "raw_data": str(layout.lake_fs("raw")),
        },
        run_id,
        console=session.console,
        layout=layout,
        settings=settings,
    )
    decision = reporting.read_output(Decision, run.output("register", "decision") / DECISION_FILE)
    metrics_json = run.output("evaluate", "evaluation") / METRICS_FILE
    champion = state.champion
    if decision.promoted or champion is None:
        champion = ChampionState(
            model_version=decision.model_version,
            registered_version=decision.registered_version,
            mape=decision.candidate_mape,
            metrics_json=metrics_json,
            model_dir=run.output("train", "model"),
            inputs_hash=training_hash,
        )
    training = TrainingState(
        inputs_hash=training_hash, run_id=run_id, decision=decision, metrics_json=metrics_json
    )
    return state.model_copy(update={"training": training, "champion": champion}), decision, run_id


def score(
    session: _Session, state: LocalState, champion: ChampionState, scoring_hash: str
) -> tuple[LocalState, int, Monitoring, str]:
    """Run the scoring pipeline with the champion (its publish step loads forecasts, health, data
    quality and the run into the reporting database); the published forecast count and the health."""
    settings, layout = session.settings, session.layout
    run_id = _run_id("scoring", scoring_hash)
    run = _run_pipeline(
        session.runner,
        SCORING,
        {
            "raw_data": str(layout.lake_fs("raw")),
            "as_of": settings.scoring.as_of,
            "horizon": settings.scoring.horizon,
        },
        run_id,
        console=session.console,
        layout=layout,
        settings=settings,
    )
    forecasts_csv = run.output("score", "scored") / "forecasts.csv"
    monitoring_json = run.output("monitor", "monitoring") / MONITORING_FILE
    conditioned = run.output("validate", "conditioned")
    published = reporting.read_publish_summary(run.output("publish_scoring", "published"))
    count = published.rows.get("forecasts", 0)
    health = reporting.read_output(Monitoring, monitoring_json)
    scoring = ScoringState(
        inputs_hash=scoring_hash,
        run_id=run_id,
        forecasts_csv=forecasts_csv,
        monitoring_json=monitoring_json,
        conditioned=conditioned,
    )
    return state.model_copy(update={"scoring": scoring}), count, health, run_id


@dataclass
class _Progress:
    """What this apply did, for the summary."""

    messages: list[str] = field(default_factory=list)
    promoted: bool | None = None
    training_run: str | None = None
    scoring_run: str | None = None

    def say(self, console: Console, message: str, suffix: str = "") -> None:
        self.messages.append(message)
        console.print(f"  [green]✓[/] {message}{suffix}")


def train_if_stale(session: _Session, state: LocalState, progress: _Progress) -> LocalState:
    """Train when `staleness` says so (state saved at once); else say why nothing was retrained."""
    decision_now = staleness(session.root, session.layout, session.settings, state)
    if not decision_now.train:
        progress.say(session.console, decision_now.train_reason)
        return state
    state, decision, progress.training_run = train(session, state, decision_now.training_hash)
    progress.promoted = decision.promoted
    verdict = "promoted to champion" if decision.promoted else "not promoted"
    progress.say(session.console, f"trained {decision.model_version}: {verdict} ({decision.reason})")
    state.save(session.layout.state_file)
    return state


def score_if_stale(session: _Session, state: LocalState, progress: _Progress) -> LocalState:
    """Score with the champion when its inputs, the champion or the scoring settings changed."""
    decision_now = staleness(session.root, session.layout, session.settings, state)
    champion = state.champion
    # train_if_stale ran first: there is a champion, so the scoring hash is known.
    assert champion is not None
    assert decision_now.scoring_hash is not None
    if not decision_now.score:
        session.console.print("  [green]✓[/] forecasts are current: no rescoring")
        return state
    state, count, health, progress.scoring_run = score(session, state, champion, decision_now.scoring_hash)
    progress.say(
        session.console,
        f"scored {count} forecasts with {health.model_version}",
        " into the reporting database",
    )
    state.save(session.layout.state_file)
    return state


def _render(session: _Session, champion: ChampionState, scoring: ScoringState) -> tuple[Metrics, DataQuality]:
    """The dashboard from the reporting database; the champion's metrics and the last scoring run's
    data quality, for the summary."""
    metrics = reporting.read_output(Metrics, champion.metrics_json)
    quality = reporting.read_output(DataQuality, scoring.conditioned / DATA_QUALITY_FILE)
    with session.console.status("rendering the dashboard"):
        render_local_dashboard(session.layout, session.settings, scoring.conditioned)
    session.console.print(f"  [green]✓[/] dashboard: {session.layout.dashboard}")
    return metrics, quality


def apply_local(root: Path, console: Console) -> LocalApplyResult:
    """Provision, train if stale, score if stale, render the dashboard; what happened, for the summary."""
    session = _open_session(root, console)
    progress = _Progress()
    state = LocalState.load(session.layout.state_file)
    state = train_if_stale(session, state, progress)
    state = score_if_stale(session, state, progress)
    champion, scoring = state.champion, state.scoring
    assert champion is not None
    assert scoring is not None
    metrics, quality = _render(session, champion, scoring)
    return LocalApplyResult(
        trained=progress.training_run is not None,
        scored=progress.scoring_run is not None,
        promoted=progress.promoted,
        champion_version=champion.model_version,
        champion_registered_version=champion.registered_version,
        champion_mape=champion.mape,
        champion_scores=scores_line(metrics),
        data_quality=quality_line(quality),
        training_run=progress.training_run,
        scoring_run=progress.scoring_run,
        dashboard=session.layout.dashboard,
        reporting_db=session.layout.reporting_db,
        tracking_uri=session.layout.tracking_uri,
        quarantine_file=scoring.conditioned / "quarantine.csv",
        messages=progress.messages,
    )


def plan_local(root: Path, console: Console) -> int:
    """What `apply --env local` would do now, without doing it (the same `staleness` as apply)."""
    settings = load_settings(root)
    layout = LocalLayout(root)
    if not layout.base.exists():
        console.print(
            "apply would provision .local/, land the sample data, train, score and render the dashboard"
        )
        return ExitStatus.OK
    state = LocalState.load(layout.state_file)
    due = staleness(root, layout, settings, state)
    if due.train:
        console.print(f"apply would run the training pipeline ({due.train_reason})")
    else:
        assert state.champion is not None
        console.print(f"apply would retrain nothing: champion {state.champion.model_version} is current")
    console.print(
        "apply would run the scoring pipeline"
        if due.score
        else "apply would rescore nothing: forecasts are current"
    )
    return ExitStatus.OK
