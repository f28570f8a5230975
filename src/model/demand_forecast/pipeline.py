"""The six steps as functions over folders: what the CLI and the AML components call.

Each step reads its inputs through `demand_forecast.loading` and writes its result file through
the matching model of `demand_forecast.contracts`, which is also what the next step and stackctl
read it with.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from demand_forecast.contracts import (
    DATA_QUALITY_FILE,
    DECISION_FILE,
    METRICS_FILE,
    MODEL_INFO_FILE,
    MONITORING_FILE,
    PARTITIONS_FILE,
    DataQuality,
    DataQualitySummary,
    Decision,
    Metrics,
    ModelInfo,
    Monitoring,
    OverallScores,
    Scores,
    SegmentHealth,
    SegmentScores,
)
from demand_forecast.dataset import Tables, is_partitioned, read_partitions
from demand_forecast.distributed import destroy_process_group, init_process_group
from demand_forecast.errors import DataContractError, UsageError
from demand_forecast.features import check_covariates, design_rows, observed_rows
from demand_forecast.loading import load_dataset, load_model, run_validate
from demand_forecast.metrics import bias, mape, scores, wape
from demand_forecast.outputs import IncompleteOutputError, write_csv_atomic
from demand_forecast.partitioned_scoring import region_batches, score_partitioned
from demand_forecast.reading import read_text_csv
from demand_forecast.routed_model import RoutedModel
from demand_forecast.scoring import (
    OUTSIDE_SHARE,
    Scored,
    covariate_shift,
    default_as_of,
    forecast,
    horizon_warnings,
    scoring_quality,
    scoring_warnings,
)
from demand_forecast.settings import Settings
from demand_forecast.training import TrainedModel, code_hash
from demand_forecast.training.regions import RegionSource, TablesInMemory
from demand_forecast.training.train import train_distributed

Say = Callable[[str], None]
MODELS = ("baseline", "lasso", "nn", "ensemble")

__all__ = [
    "backtest",
    "load_dataset",
    "load_model",
    "model_age_days",
    "run_evaluate",
    "run_monitor",
    "run_register",
    "run_score",
    "run_train",
    "run_validate",
]


def model_identity(content: str, settings: Settings) -> str:
    """The model version: 16 hex digits of the hash of the data (`content`: the hash of its regions'
    content hashes, `training.train`), the package's code and the settings."""
    return hashlib.sha256(
        "|".join([content, code_hash(), json.dumps(settings.as_dict(), sort_keys=True)]).encode()
    ).hexdigest()[:16]


def _no_model(reference: str, settings: Settings, hint: str) -> UsageError:
    """ "No model at X", naming the MLflow store that was searched when X is an MLflow URI."""
    if Path(reference).is_dir() or ":/" not in reference:
        return UsageError(f"no model at {reference}{hint}")
    from demand_forecast.registry import store

    return UsageError(
        f"no model at {reference} in the MLflow store {store(settings)}{hint} "
        "(set MLFLOW_TRACKING_URI, or run from the project, to use another store)"
    )


@dataclass(frozen=True)
class ConditionedFolder:
    """A `RegionSource` over validate's region-partitioned output (docs/scale.md, contract 1): regions
    are read from their own partitions' files only (`loading.load_dataset(..., regions=)`), a batch
    of at most `partitioned_scoring.BATCH_SERIES` series at a time (a larger region alone), so a
    worker holds one batch's tables at a time. One read and validation per region cost a fixed
    ~0.4 CPU-s each at load ~13 (140 regions x 3 passes on the 10x panel); a batch of ~30 regions
    costs ~1.5 (docs/scale.md, "Distributed training")."""

    folder: Path
    settings: Settings
    batch_series: int | None = None  # None: partitioned_scoring.BATCH_SERIES

    def series_counts(self) -> dict[str, int]:
        return {region: partition.series for region, partition in read_partitions(self.folder).items()}

    def regions(self, names: list[str]) -> Iterator[tuple[str, Tables]]:
        for batch in region_batches(names, self.series_counts(), self.batch_series):
            yield from TablesInMemory(load_dataset(self.folder, self.settings, batch).tables).regions(batch)


def _training_input(data: Path, settings: Settings) -> tuple[RegionSource, DataQuality, Path | pd.DataFrame]:
    """Where train reads its regions from, the data's quality report, and its quarantined rows (a file
    to copy, or a frame). validate's region-partitioned output is read one region at a time; a folder
    of input CSV files (no partitions) is validated whole first, as before issue 20."""
    if is_partitioned(data):
        quality = DataQuality.read(data / DATA_QUALITY_FILE)
        return ConditionedFolder(data, settings), quality, data / "quarantine.csv"
    validation = load_dataset(data, settings)
    quality = DataQuality.parse(validation.report, "the validation report")
    return TablesInMemory(validation.tables), quality, validation.quarantine


def run_train(data: Path, out: Path, settings: Settings, say: Say, track: bool = True) -> ModelInfo | None:
    """The train step as one distributed job (`demand_forecast.distributed`; a world of one without
    torchrun): every worker trains its regions; rank 0 writes the model folder with `partitions.json`
    and returns its info, the other workers write nothing and return None."""
    world = init_process_group(settings)
    try:
        source, quality, quarantine = _training_input(data, settings)
        say(
            f"validated {quality.series} series over {quality.weeks} weeks; "
            f"{sum(quality.quarantined_by_reason.values())} rows quarantined"
        )
        outcome = train_distributed(source, settings, progress=say)
    finally:
        destroy_process_group()
    model = outcome.model
    if model is None or not world.is_root:
        return None
    model.info["model_version"] = model_identity(outcome.content, settings)
    model.info["data_quality"] = DataQualitySummary(
        series=quality.series,
        weeks=quality.weeks,
        gaps=quality.gaps,
        quarantined_by_reason=quality.quarantined_by_reason,
    ).to_json()
    if track:
        from demand_forecast.registry import log_training_run

        model.info["mlflow_run_id"] = log_training_run(settings, model.model_info)
    outcome.partitions.write(out / PARTITIONS_FILE)
    model.save(out)
    if isinstance(quarantine, Path):
        if quarantine.is_file():
            shutil.copyfile(quarantine, out / "quarantine.csv")
    else:
        write_csv_atomic(quarantine, out / "quarantine.csv")
    quality.write(out / DATA_QUALITY_FILE)
    return model.model_info


def backtest(model: TrainedModel, tables: Tables, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    """One-week-ahead forecasts of every observed (series, week) in [start, end], history = actuals.

    A registered bundle (`RoutedModel`) answers each row with the model its segment routes to, and
    `model_version` names that model."""
    if isinstance(model, RoutedModel):
        columns = ("baseline", "lasso", "nn", "ensemble", "ensemble_median")
        routed, made_by = model.answer(lambda member: backtest(member, tables, start, end), columns)
        return routed.assign(model_version=made_by)
    panel, feats, level, baseline = model.design(tables)
    s_idx, t_idx = observed_rows(panel, level)
    weeks = panel.weeks[t_idx]
    keep = (weeks >= start) & (weeks <= end)
    design = design_rows(panel, feats, level, baseline, s_idx[keep], t_idx[keep])
    predictions = model.predict(design)
    rows = design.rows[["week_start", "store_id", "product_id", "region", "store_format", "units"]]
    return pd.concat([rows.reset_index(drop=True), predictions], axis=1)


def _champion_backtest(
    champion_ref: str | None,
    tables: Tables,
    start: pd.Timestamp,
    end: pd.Timestamp,
    settings: Settings,
    say: Say,
) -> tuple[TrainedModel | None, pd.DataFrame | None]:
    """The champion and its holdout backtest, or (None, None) when there is none or it cannot score."""
    try:
        champion_model = load_model(champion_ref, settings) if champion_ref else None
    except IncompleteOutputError as exc:
        # A partial or corrupt champion (or one saved before the _SUCCESS marker) must not block the
        # candidate's evaluation: compare without it (register then uses its recorded MAPE).
        say(f"champion at {champion_ref} cannot be read: {exc}")
        return None, None
    if champion_ref and champion_model is None:
        say(f"no champion at {champion_ref} yet: champion metrics are null")
    if champion_model is None:
        return None, None
    try:
        return champion_model, backtest(champion_model, tables, start, end)
    except (ValueError, KeyError, DataContractError) as exc:
        # A champion from an older code version may not fit today's feature set: report it and
        # compare without it (register then falls back to the champion's recorded MAPE).
        say(f"champion {champion_model.info['model_version']} cannot score this data: {exc}")
        return None, None


def _segment_scores(predictions: pd.DataFrame, models: list[str]) -> list[SegmentScores]:
    segments = []
    for segment, group in predictions.groupby("segment", sort=True):
        seg_actual = group["units"].to_numpy()
        for name in models:
            segments.append(
                SegmentScores(segment=str(segment), model=name, **scores(seg_actual, group[name].to_numpy()))
            )
    return segments


def run_evaluate(
    model_ref: str, data: Path, out: Path, champion_ref: str | None, settings: Settings, say: Say
) -> Metrics:
    model = load_model(model_ref, settings)
    if model is None:
        raise UsageError(f"no model at {model_ref}")
    tables = load_dataset(data, settings).tables
    holdout = model.model_info.holdout
    start, end = pd.Timestamp(holdout.start), pd.Timestamp(holdout.end)
    predictions = backtest(model, tables, start, end)
    if predictions.empty:
        raise UsageError(
            f"{data} has no shipments in the model's holdout weeks {holdout.start}..{holdout.end}"
        )
    champion_model, champion_predictions = _champion_backtest(champion_ref, tables, start, end, settings, say)
    models = list(MODELS)
    if champion_model is not None and champion_predictions is not None:
        keyed = champion_predictions.set_index(["week_start", "store_id", "product_id"])["ensemble"]
        keys = pd.MultiIndex.from_frame(predictions[["week_start", "store_id", "product_id"]])
        predictions["champion"] = keyed.reindex(keys).to_numpy()
        # Rows the champion could not forecast fall back to the baseline, so both see the same rows.
        predictions["champion"] = predictions["champion"].fillna(predictions["baseline"])
        models.append("champion")
    actual = predictions["units"].to_numpy()
    overall = {name: Scores(**scores(actual, predictions[name].to_numpy())) for name in models}
    segments = _segment_scores(predictions, models)
    target = settings.evaluate.target_mape
    ensemble_segments = [s for s in segments if s.model == "ensemble" and s.mape is not None]
    metrics = Metrics(
        model_name=model.info["model_name"],
        model_version=model.info["model_version"],
        holdout=holdout,
        target_mape=target,
        overall=OverallScores.model_validate({"champion": None, **overall}),
        segments=segments,
        champion_version=champion_model.info["model_version"] if champion_model is not None else None,
        segments_meeting_target=sum(1 for s in ensemble_segments if s.mape is not None and s.mape <= target),
        segments_total=len(ensemble_segments),
    )
    metrics.write(out / METRICS_FILE)
    write_csv_atomic(
        predictions.assign(week_start=predictions["week_start"].dt.strftime("%Y-%m-%d")),
        out / "holdout_predictions.csv",
    )
    return metrics


def run_register(
    model_dir: Path, metrics_file: Path, out: Path, name: str | None, margin: float | None, settings: Settings
) -> Decision:
    from demand_forecast.pyfunc import python_model
    from demand_forecast.registry import register_model

    if not (model_dir / MODEL_INFO_FILE).is_file():
        raise UsageError(f"{model_dir} is not a model folder (no {MODEL_INFO_FILE})")
    try:
        metrics = Metrics.read(metrics_file)
    except UsageError as exc:
        raise UsageError(f"cannot read metrics file {metrics_file}: {exc}; run evaluate first") from exc
    info = ModelInfo.read(model_dir / MODEL_INFO_FILE)
    if metrics.model_version != info.model_version:
        raise UsageError(
            f"{metrics_file} evaluates model {metrics.model_version}, but {model_dir} holds "
            f"{info.model_version}; evaluate this model first"
        )
    decision = register_model(
        settings,
        model_dir,
        info,
        metrics,
        name or settings.register_.model_name,
        settings.register_.margin if margin is None else margin,
        python_model(),
    )
    decision.write(out / DECISION_FILE)
    return decision


def run_score(
    model_ref: str,
    data: Path,
    out: Path,
    as_of: pd.Timestamp | None,
    horizon: int,
    settings: Settings,
    say: Say | None = None,
) -> Scored | None:
    """The score step: forecasts.csv, quarantine.csv, data_quality.json and the pinned model in `out`.

    A conditioned folder (partitioned by region) is scored region by region, spread over the job's
    workers (`demand_forecast.partitioned_scoring`); a folder of input files whole, as before issue
    20. Returns what was written; None on a worker other than rank 0, which writes nothing."""
    from demand_forecast.registry import pin_reference, resolve_reference

    # "The champion" is resolved once per run: monitor reads the version pinned here.
    resolved = resolve_reference(settings, model_ref) if ":/" in model_ref else model_ref
    model = load_model(resolved, settings)
    if model is None:
        raise _no_model(model_ref, settings, "; train and register one first")
    if is_partitioned(data):
        scored = score_partitioned(model, data, out, as_of, horizon, settings)
        if scored is None:
            return None
    else:
        scored = _score_whole(model, data, out, as_of, horizon, settings)
    pin_reference(out, model_ref, resolved)
    DataQuality.parse(scored.report, "the score step's data quality report").write(out / DATA_QUALITY_FILE)
    for line in [*scored.lines, *(f"warning: {message}" for message in horizon_warnings(horizon))]:
        (say or print)(line)
    return scored


def _score_whole(
    model: TrainedModel, data: Path, out: Path, as_of: pd.Timestamp | None, horizon: int, settings: Settings
) -> Scored:
    """Score every series of `data` at once (a folder of input files has no partitions)."""
    validation = load_dataset(data, settings)
    tables = validation.tables
    forecasts = forecast(model, tables, as_of, horizon)
    out.mkdir(parents=True, exist_ok=True)
    write_csv_atomic(forecasts, out / "forecasts.csv")
    as_of = default_as_of(tables) if as_of is None else as_of
    notes = scoring_warnings(model, tables, as_of)
    report, lines = scoring_quality(validation, forecasts, as_of, check_covariates(tables, model.spec), notes)
    write_csv_atomic(validation.quarantine, out / "quarantine.csv")
    return Scored(len(forecasts), int(forecasts["week_start"].nunique()), report, lines)


def psi(reference: dict[str, list[float]], values: np.ndarray[Any, Any]) -> float:
    """Population stability index of `values` against the training bins (shares floored at 1e-4)."""
    edges = np.asarray(reference["edges"])
    expected = np.clip(np.asarray(reference["shares"]), 1e-4, None)
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    actual = np.clip(counts / max(len(values), 1), 1e-4, None)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


DEMAND_DRIFT_FEATURES = (
    "level",
    "lag1_vs_level",
    "mean4_vs_level",
    "std13",
    "zero_share13",
    "observed_share13",
    "returns_mean13_log",
)


def drift_tracked(feature: str, model: TrainedModel) -> bool:
    """Inputs an upstream change would move: demand level and shape, the known-in-advance promotion
    columns and store attributes. Calendar, events, weather and history-length features move every
    week by design, so a PSI on them would alert on the season, not on a problem."""
    if feature in DEMAND_DRIFT_FEATURES or feature.startswith("store_"):
        return True
    return any(feature in (column, f"{column}_log_ratio") for column in model.spec.promo_columns)


def model_age_days(info: dict[str, Any], as_of: pd.Timestamp) -> int:
    """How old the model is at `as_of`, on the data's own timeline.

    A model is as current as the later of two moments allows: when it was trained (wall clock) and
    the week after the last week of data it was trained with. In production the two are days apart.
    On historical data (a backfill, the bundled sample) the wall clock lies years after the data,
    and measuring from it would give a negative age; measuring from the data's end does not. Never
    negative: scoring a week the model has already seen makes it current, not younger than new."""
    trained_at = pd.Timestamp(info["trained_at"]).tz_localize(None).normalize()
    data_end = pd.Timestamp(info["holdout"]["end"]) + pd.Timedelta(weeks=1)
    return max(0, int((as_of - min(trained_at, data_end)).days))


def bundle_age_days(model: TrainedModel, as_of: pd.Timestamp) -> int:
    """`model_age_days` of a model; of a bundle (`RoutedModel`), its oldest answering model's: a
    segment kept on a champion model for weeks is forecast by that model, and the staleness alert
    must see it (docs/scale.md, "Per-segment promotion")."""
    answering = model.members.values() if isinstance(model, RoutedModel) else [model]
    return max(model_age_days(member.info, as_of) for member in answering)


def _recent_window(tables: Tables, as_of: pd.Timestamp, weeks: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The latest `weeks` weeks with data before as-of, so a late as-of still has a window."""
    last_data_week = tables.shipments.loc[tables.shipments["week_start"] < as_of, "week_start"].max()
    window_end = min(as_of - pd.Timedelta(weeks=1), last_data_week)
    return window_end - pd.Timedelta(weeks=weeks - 1), window_end


def _drift(model: TrainedModel, tables: Tables, start: pd.Timestamp, end: pd.Timestamp) -> dict[str, float]:
    """PSI of each drift-tracked feature on the rows of [start, end] against the training bins."""
    panel, feats, level, baseline = model.design(tables)
    s_idx, t_idx = observed_rows(panel, level)
    weeks = panel.weeks[t_idx]
    keep = (weeks >= start) & (weeks <= end)
    design = design_rows(panel, feats, level, baseline, s_idx[keep], t_idx[keep])
    drift = {}
    if len(design.rows):
        for j, name in enumerate(design.feature_names):
            if name in model.reference and drift_tracked(name, model):
                drift[name] = round(psi(model.reference[name], design.features[:, j].astype(np.float64)), 6)
    return drift


def _evaluated_forecasts(
    forecasts_file: Path | None, tables: Tables, recent: pd.DataFrame, recent_weeks: int
) -> tuple[pd.DataFrame, str]:
    """Rows with `units` and `ensemble` to measure recent accuracy on, and a sentence saying which."""
    if forecasts_file is None:
        return recent, "one-week-ahead backtest of the recent weeks with actuals"
    try:
        issued = read_text_csv(forecasts_file, ("forecast_units",))
    except OSError as exc:
        raise UsageError(f"cannot read --forecasts {forecasts_file}: {exc.strerror}") from exc
    issued["week_start"] = pd.to_datetime(issued["week_start"])
    actuals = tables.shipments[["week_start", "store_id", "product_id", "units"]]
    joined = issued.merge(actuals, on=["week_start", "store_id", "product_id"], how="inner")
    evaluated = joined.rename(columns={"forecast_units": "ensemble"})
    if evaluated.empty:
        # Fresh forecasts have no actuals yet; the model's recent accuracy is still worth a number.
        return recent, (
            f"no forecast in {forecasts_file.name} has an actual yet; one-week-ahead backtest of the "
            f"last {recent_weeks} weeks with data instead"
        )
    return evaluated, f"forecasts in {forecasts_file.name} joined to the actuals that have arrived"


def _segment_health(evaluated: pd.DataFrame) -> list[SegmentHealth]:
    if not len(evaluated) or "segment" not in evaluated:
        return []
    return [
        SegmentHealth(
            segment=str(segment),
            recent_mape=mape(group["units"].to_numpy(), group["ensemble"].to_numpy()),
            recent_wape=wape(group["units"].to_numpy(), group["ensemble"].to_numpy()),
            recent_bias=bias(group["units"].to_numpy(), group["ensemble"].to_numpy()),
            n=len(group),
        )
        for segment, group in evaluated.groupby("segment", sort=True)
    ]


def run_monitor(
    model_ref: str,
    data: Path,
    out: Path,
    forecasts_file: Path | None,
    as_of: pd.Timestamp | None,
    settings: Settings,
    say: Say | None = None,
) -> Monitoring:
    from demand_forecast.registry import pinned_reference

    # The model score used in this run (its pinned version), not a champion resolved a second time.
    model_ref = pinned_reference(forecasts_file.parent if forecasts_file else None, model_ref)
    model = load_model(model_ref, settings)
    if model is None:
        raise _no_model(model_ref, settings, "")
    validation = load_dataset(data, settings)
    tables = validation.tables
    as_of = default_as_of(tables) if as_of is None else as_of
    monitor = settings.monitor
    age_days = bundle_age_days(model, as_of)
    window_start, window_end = _recent_window(tables, as_of, monitor.recent_weeks)
    recent = backtest(model, tables, window_start, window_end)
    drift = _drift(model, tables, window_start, window_end)
    shift = covariate_shift(model, tables, as_of)
    evaluated, source = _evaluated_forecasts(forecasts_file, tables, recent, monitor.recent_weeks)
    recent_actual = evaluated["units"].to_numpy(dtype=float)
    recent_forecast = evaluated["ensemble"].to_numpy(dtype=float)
    report = Monitoring(
        as_of=as_of.strftime("%Y-%m-%d"),
        model_name=model.info["model_name"],
        model_version=model.info["model_version"],
        trained_at=model.info["trained_at"],
        age_days=age_days,
        stale=age_days > monitor.stale_after_days,
        stale_after_days=monitor.stale_after_days,
        drift=drift,
        covariate_shift=shift,
        # A covariate far outside training's range is an alert too (weather is out of the PSI, which
        # would alert on every season).
        drift_alert=any(value > monitor.psi_alert for value in drift.values())
        or any(share > OUTSIDE_SHARE for share in shift.values()),
        drift_threshold=monitor.psi_alert,
        recent_mape=mape(recent_actual, recent_forecast) if len(evaluated) else None,
        recent_wape=wape(recent_actual, recent_forecast) if len(evaluated) else None,
        recent_bias=bias(recent_actual, recent_forecast) if len(evaluated) else None,
        recent_weeks=int(evaluated["week_start"].nunique()) if len(evaluated) else 0,
        recent_source=source,
        segments=_segment_health(evaluated),
    )
    report.write(out / MONITORING_FILE)
    notes = scoring_warnings(model, tables, as_of)
    quality, lines = scoring_quality(validation, recent, as_of, check_covariates(tables, model.spec), notes)
    write_csv_atomic(validation.quarantine, out / "quarantine.csv")
    DataQuality.parse(quality, "the monitor step's data quality report").write(out / DATA_QUALITY_FILE)
    for line in lines:
        (say or print)(line)
    _write_backtest(evaluated, out)
    return report


def _write_backtest(evaluated: pd.DataFrame, out: Path) -> None:
    """The forecasts (or backtest) of the recent weeks against their actuals, for the reporting database."""
    columns = ("week_start", "store_id", "product_id", "segment", "units", "ensemble", "model_version")
    backtest_columns = [c for c in columns if c in evaluated]
    write_csv_atomic(
        evaluated[backtest_columns].assign(
            week_start=pd.to_datetime(evaluated["week_start"]).dt.strftime("%Y-%m-%d")
        ),
        out / "backtest.csv",
    )
