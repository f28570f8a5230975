"""Training: segments, per-segment LASSO in a process pool, the embedding network, ensemble weights."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch

from demand_forecast import __version__
from demand_forecast.contracts import MODEL_INFO_FILE, ModelInfo
from demand_forecast.dataset import Tables
from demand_forecast.errors import UsageError
from demand_forecast.features import (
    CATEGORICALS,
    Design,
    FeatureSpec,
    build_panel,
    compute_features,
    design_rows,
    make_spec,
    never_sold,
    observed_rows,
)
from demand_forecast.metrics import mape
from demand_forecast.models import (
    MIN_LASSO_ROWS,
    LinearModel,
    NetworkSpec,
    fit_lasso,
    fit_network,
    predict_network,
)
from demand_forecast.outputs import MARKER, mark_complete, write_atomic, write_csv_atomic, write_text_atomic
from demand_forecast.reading import read_text_csv
from demand_forecast.settings import Settings

MODEL_NAME = "demand-forecast"
POOLED = "__pooled__"
SHARED = "__shared__"
IntVector = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]
Progress = Callable[[str], None]


def segment_label(region: str, store_format: str, velocity: str) -> str:
    return f"{region}|{store_format}|{velocity}"


def velocity_pool(segment: str) -> str:
    """Key of the fast- or slow-mover pool a segment falls back to when it has too little data."""
    return f"__velocity__|{segment.rsplit('|', 1)[-1]}"


def lookup(table: dict[str, Any], segment: str, default: Any) -> Any:
    """The segment's own entry, else its velocity pool's, else the pooled one, else `default`."""
    for key in (segment, velocity_pool(segment), POOLED):
        if key in table:
            return table[key]
    return default


def _slug(segment: str) -> str:
    return hashlib.sha256(segment.encode()).hexdigest()[:16]


def content_hash(tables: Tables) -> str:
    digest = hashlib.sha256()
    for name, frame in tables.items():
        digest.update(name.encode())
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def code_hash() -> str:
    digest = hashlib.sha256()
    package = resources.files("demand_forecast")
    for entry in sorted(package.iterdir(), key=lambda e: e.name):
        if entry.name.endswith((".py", ".yaml")):
            digest.update(entry.name.encode())
            digest.update(entry.read_bytes())
    return digest.hexdigest()


@dataclass
class TrainedModel:
    """Everything `score` needs, in memory; `save`/`load` give the self-contained model folder."""

    info: dict[str, Any]
    settings: Settings
    spec: FeatureSpec
    feature_names: tuple[str, ...]
    vocab: dict[str, list[str]]
    series: pd.DataFrame  # store_id, product_id, region, store_format, velocity, segment
    velocity_threshold: float
    lasso: dict[str, LinearModel]
    network_spec: NetworkSpec
    networks: dict[str, dict[str, torch.Tensor]]
    weights: dict[str, float]  # LASSO weight per segment; the network gets 1 - weight
    offsets: dict[str, dict[str, float]]  # per segment: log-space calibration of "lasso" and "nn"
    reference: dict[str, dict[str, list[float]]]  # per-feature bins of training data (drift)

    @property
    def model_info(self) -> ModelInfo:
        """`info` checked against the `model_info.json` contract."""
        return ModelInfo.parse(self.info, "the model's info")

    # ---- segments and encodings -------------------------------------------------------------
    def segments_for(self, rows: pd.DataFrame) -> npt.NDArray[np.object_]:
        known = self.series.set_index(["store_id", "product_id"])
        keys = pd.MultiIndex.from_frame(rows[["store_id", "product_id"]])
        found = known.reindex(keys)
        segments = found["segment"].to_numpy(dtype=object)
        if {"region", "store_format", "velocity"} <= set(found.columns):
            # A store whose region or format changed since training: the segment of what it is now,
            # with the velocity it trained with (scoring.store_changes warns about it).
            moved = found["segment"].notna().to_numpy() & (
                (found["region"].to_numpy() != rows["region"].to_numpy())
                | (found["store_format"].to_numpy() != rows["store_format"].to_numpy())
            )
            for i in np.flatnonzero(moved):
                segments[i] = segment_label(
                    rows["region"].iloc[i], rows["store_format"].iloc[i], found["velocity"].iloc[i]
                )
        unseen = pd.isna(segments)
        if unseen.any():
            # New series: velocity from the history available before the forecast week.
            velocity = np.where(
                rows["baseline"].fillna(0).to_numpy() >= self.velocity_threshold, "fast", "slow"
            )
            labels = [
                segment_label(r, f, v)
                for r, f, v in zip(rows["region"], rows["store_format"], velocity, strict=True)
            ]
            segments[unseen] = np.asarray(labels, dtype=object)[unseen]
        return np.asarray(segments, dtype=object)

    def encode(self, rows: pd.DataFrame, segments: npt.NDArray[np.object_]) -> IntVector:
        codes = np.zeros((len(rows), len(CATEGORICALS)), dtype=np.int64)
        for j, column in enumerate(CATEGORICALS):
            values = segments if column == "segment" else rows[column].to_numpy()
            index = pd.Index(self.vocab[column])
            codes[:, j] = index.get_indexer(pd.Index(values)) + 1  # -1 (unseen) becomes 0
        return codes

    # ---- prediction ---------------------------------------------------------------------------
    def _residuals(
        self, design: Design, segments: npt.NDArray[np.object_], codes: IntVector
    ) -> tuple[FloatVector, FloatVector, FloatVector, dict[str, FloatVector]]:
        """Per row: the LASSO and network residuals (log units in the model's unit, against the
        level, without offsets), the segment's ensemble weight of the LASSO, and each offset
        (`lasso`, `nn`: MAPE-optimal; `lasso_median`, `nn_median`: median) of the row's segment."""
        rows = design.rows
        lasso_r = np.zeros(len(rows))
        nn_r = np.zeros(len(rows))
        offsets = {key: np.zeros(len(rows)) for key in OFFSET_KEYS}
        weight = np.ones(len(rows))
        nn_settings = self.settings.nn
        for segment in pd.unique(segments):
            mask = segments == segment
            model = self.lasso.get(segment, self.lasso[POOLED])
            lasso_r[mask] = model.predict(design.features[mask])
            offset = lookup(self.offsets, str(segment), {})
            for key in OFFSET_KEYS:
                offsets[key][mask] = offset.get(key, 0.0)
            weight[mask] = lookup(self.weights, str(segment), 0.5 if SHARED in self.networks else 1.0)
            state = self.networks.get(segment)
            if state is not None:
                nn_r[mask] = predict_network(
                    state, self.network_spec, nn_settings, codes[mask], design.features[mask]
                )
        shared = [state for key, state in sorted(self.networks.items()) if key.startswith(SHARED)]
        if shared:
            # Several seeds of the shared network: their mean residual (variance down, bias unchanged).
            nn_r = np.mean(
                [
                    predict_network(state, self.network_spec, nn_settings, codes, design.features)
                    for state in shared
                ],
                axis=0,
            )
        return lasso_r, nn_r, weight, offsets

    def predict(self, design: Design) -> pd.DataFrame:
        """Forecasts in units from every model for the design's rows."""
        rows = design.rows
        if tuple(design.feature_names) != tuple(self.feature_names):
            raise ValueError(
                "feature set differs from training; build the design with this model's FeatureSpec"
            )
        segments = self.segments_for(rows)
        codes = self.encode(rows, segments)
        raw_lasso, raw_nn, weight, offsets = self._residuals(design, segments, codes)
        suffix = "" if self.settings.ensemble.point == "mape" else "_median"
        lasso_r = raw_lasso + offsets[f"lasso{suffix}"]
        nn_r = raw_nn + offsets[f"nn{suffix}"]
        median_r = weight * (raw_lasso + offsets["lasso_median"]) + (1 - weight) * (
            raw_nn + offsets["nn_median"]
        )
        # A series that has never sold is forecast at its level (0 units), not at the models' offset.
        unsold = never_sold(rows)
        lasso_r[unsold] = 0.0
        nn_r[unsold] = 0.0
        median_r[unsold] = 0.0
        level = rows["level"].to_numpy()
        unit = self.spec.unit_scale

        def to_units(residual: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
            return np.asarray(unit * np.clip(np.expm1(level + residual), 0.0, None), dtype=np.float64)

        baseline = rows["baseline"].to_numpy()
        baseline = np.where(np.isnan(baseline), unit * np.expm1(level), baseline)
        lasso_units = to_units(lasso_r)
        nn_units = to_units(nn_r)
        return pd.DataFrame(
            {
                "segment": segments,
                "baseline": baseline,
                "lasso": lasso_units,
                "nn": nn_units,
                "ensemble": to_units(weight * lasso_r + (1 - weight) * nn_r),
                # The median point, whatever `ensemble.point` is: what recursive forecasts feed back
                # as history (feeding back the MAPE point, which sits below the median, would pull
                # every later week's level down, compounding).
                "ensemble_median": to_units(median_r),
            }
        )

    def design(self, tables: Tables, until_week: pd.Timestamp | None = None) -> tuple[Any, Any, Any, Any]:
        panel = build_panel(tables, self.spec, until_week)
        feats, level, baseline = compute_features(panel, self.spec)
        return panel, feats, level, baseline

    # ---- persistence --------------------------------------------------------------------------
    def save(self, folder: Path) -> None:
        """Every file atomically (`demand_forecast.outputs`), the `_SUCCESS` marker last; the CLI
        writes into a staging folder that replaces the previous model only once this is complete."""
        folder.mkdir(parents=True, exist_ok=True)
        (folder / MARKER).unlink(missing_ok=True)
        (folder / "networks").mkdir(exist_ok=True)
        network_files = {}
        for key, state in self.networks.items():
            name = f"{_slug(key)}.pt"
            write_atomic(folder / "networks" / name, partial(_save_state, state))
            network_files[key] = name
        artefacts = {
            "feature_spec": self.spec.to_dict(),
            "feature_names": list(self.feature_names),
            "vocab": self.vocab,
            "velocity_threshold": self.velocity_threshold,
            "lasso": {k: m.to_dict() for k, m in self.lasso.items()},
            "network_spec": {
                "cardinalities": self.network_spec.cardinalities,
                "n_numeric": self.network_spec.n_numeric,
                "level_index": self.network_spec.level_index,
            },
            "network_files": network_files,
            "weights": self.weights,
            "offsets": self.offsets,
            "reference": self.reference,
        }
        write_text_atomic(folder / "model.json", json.dumps(artefacts))
        write_csv_atomic(self.series, folder / "series.csv")
        self.model_info.write(folder / MODEL_INFO_FILE)
        mark_complete(folder)

    @classmethod
    def load(cls, folder: Path) -> TrainedModel:
        info = ModelInfo.read(folder / MODEL_INFO_FILE).to_json()
        artefacts = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        settings = Settings.model_validate(info["config"])
        networks = {
            key: torch.load(folder / "networks" / name, weights_only=True)
            for key, name in artefacts["network_files"].items()
        }
        return cls(
            info=info,
            settings=settings,
            spec=FeatureSpec.from_dict(artefacts["feature_spec"]),
            feature_names=tuple(artefacts["feature_names"]),
            vocab=artefacts["vocab"],
            series=read_text_csv(folder / "series.csv"),
            velocity_threshold=float(artefacts["velocity_threshold"]),
            lasso={k: LinearModel.from_dict(v) for k, v in artefacts["lasso"].items()},
            network_spec=NetworkSpec(**artefacts["network_spec"]),
            networks=networks,
            weights={k: float(v) for k, v in artefacts["weights"].items()},
            offsets=artefacts["offsets"],
            reference=artefacts["reference"],
        )


def _save_state(state: dict[str, torch.Tensor], target: Path) -> None:
    torch.save(state, target)


# ---- training ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentTask:
    segment: str
    seed: int
    fit_x: npt.NDArray[np.float32]
    fit_y: npt.NDArray[np.float64]
    fit_codes: IntVector
    val_x: npt.NDArray[np.float32]
    val_codes: IntVector
    all_x: npt.NDArray[np.float32]
    all_y: npt.NDArray[np.float64]
    all_codes: IntVector
    settings: Settings
    level_index: int
    network_spec: NetworkSpec | None  # set when each segment trains its own network


@dataclass(frozen=True)
class SegmentResult:
    segment: str
    lasso: LinearModel | None
    lasso_val: npt.NDArray[np.float64]
    network: dict[str, torch.Tensor] | None
    network_val: npt.NDArray[np.float64] | None


def _worker_init() -> None:
    # Workers share the cores: one thread each, or they oversubscribe and slow everyone down.
    torch.set_num_threads(1)


def lasso_rows(
    features: npt.NDArray[np.float32], target: npt.NDArray[np.float64], level_index: int, positive_only: bool
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float64]]:
    """The rows LASSO learns from: all, or those with units > 0 (log1p(units) = target + level > 0)."""
    if not positive_only:
        return features, target
    positive = (target + features[:, level_index]) > 1e-9
    return features[positive], target[positive]


def _fit_segment(task: SegmentTask) -> SegmentResult:
    settings = task.settings
    lasso: LinearModel | None = None
    lasso_val = np.zeros(len(task.val_x))
    positive_only = settings.lasso.positive_rows_only
    fit_x, fit_y = lasso_rows(task.fit_x, task.fit_y, task.level_index, positive_only)
    if len(fit_y) >= MIN_LASSO_ROWS:
        lasso = fit_lasso(fit_x, fit_y, settings.lasso, task.seed)
        lasso_val = lasso.predict(task.val_x)
        all_x, all_y = lasso_rows(task.all_x, task.all_y, task.level_index, positive_only)
        if settings.ensemble.refit and len(all_y) > len(fit_y):
            lasso = fit_lasso(all_x, all_y, settings.lasso, task.seed)
    network = None
    network_val = None
    if task.network_spec is not None and len(task.fit_y) >= MIN_LASSO_ROWS:
        state = fit_network(task.fit_codes, task.fit_x, task.fit_y, task.network_spec, settings.nn, task.seed)
        network_val = predict_network(state, task.network_spec, settings.nn, task.val_codes, task.val_x)
        if settings.ensemble.refit and len(task.all_y) > len(task.fit_y):
            state = fit_network(
                task.all_codes, task.all_x, task.all_y, task.network_spec, settings.nn, task.seed
            )
        network = state
    return SegmentResult(task.segment, lasso, lasso_val, network, network_val)


def _segment_seed(seed: int, segment: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{segment}".encode()).digest()[:4], "little")


def fit_weight(
    actual: npt.NDArray[np.float64],
    level: npt.NDArray[np.float64],
    lasso_r: npt.NDArray[np.float64],
    nn_r: npt.NDArray[np.float64],
    step: float,
) -> float:
    """LASSO weight in [0, 1] that minimises validation MAPE of the log-space blend."""
    best_weight, best_score = 0.5, float("inf")
    for weight in np.round(np.arange(0.0, 1.0 + 1e-9, step), 6):
        forecast = np.clip(np.expm1(level + weight * lasso_r + (1 - weight) * nn_r), 0, None)
        score = mape(actual, forecast)
        # Prefer the equal blend on ties: it is the more robust choice on a short window.
        if score is not None and (
            score < best_score - 1e-9 or (abs(score - best_score) <= 1e-9 and weight == 0.5)
        ):
            best_weight, best_score = float(weight), score
    return best_weight


OFFSET_GRID = np.round(np.arange(-1.0, 0.5001, 0.05), 4)
OFFSET_KEYS = ("lasso", "nn", "lasso_median", "nn_median")


def median_offset(
    actual: npt.NDArray[np.float64], level: npt.NDArray[np.float64], residual: npt.NDArray[np.float64]
) -> float:
    """Log-space shift that makes the forecast the median of the actuals around it: the median of
    log1p(actual) - (level + residual) over every row (zeros included); 0 with no rows."""
    if not len(actual):
        return 0.0
    return float(np.median(np.log1p(actual) - (level + residual)))


def best_offset(
    actual: npt.NDArray[np.float64], level: npt.NDArray[np.float64], residual: npt.NDArray[np.float64]
) -> float:
    """Log-space shift of a model's forecasts that minimises MAPE (ties go to the smaller shift)."""
    best, best_score = 0.0, float("inf")
    for offset in sorted(OFFSET_GRID, key=abs):
        score = mape(actual, np.clip(np.expm1(level + residual + offset), 0, None))
        if score is not None and score < best_score - 1e-9:
            best, best_score = float(offset), score
    return best


def calibrate_offsets(
    segments: npt.NDArray[np.object_],
    actual: npt.NDArray[np.float64],
    level: npt.NDArray[np.float64],
    lasso_r: npt.NDArray[np.float64],
    nn_r: npt.NDArray[np.float64],
    min_rows: int,
) -> dict[str, dict[str, float]]:
    """Offsets for all rows, for each velocity pool, and for each segment, where the group has
    `min_rows` non-zero validation actuals (smaller groups fall back to the next larger one)."""

    def fitted(mask: npt.NDArray[np.bool_]) -> dict[str, float]:
        a, lv, lr, nr = actual[mask], level[mask], lasso_r[mask], nn_r[mask]
        return {
            "lasso": best_offset(a, lv, lr),
            "nn": best_offset(a, lv, nr),
            "lasso_median": median_offset(a, lv, lr),
            "nn_median": median_offset(a, lv, nr),
        }

    offsets = {POOLED: fitted(np.ones(len(actual), dtype=bool))}
    pools = np.array([velocity_pool(str(segment)) for segment in segments], dtype=object)
    for group_keys in (pools, segments):
        for key in pd.unique(group_keys):
            mask = group_keys == key
            if int((actual[mask] > 0).sum()) >= min_rows:
                offsets[str(key)] = fitted(mask)
    return offsets


def reference_bins(
    features: npt.NDArray[np.float32], names: tuple[str, ...], bins: int
) -> dict[str, dict[str, list[float]]]:
    """Quantile bin edges and shares of each feature on training rows: the baseline for drift (PSI)."""
    reference: dict[str, dict[str, list[float]]] = {}
    for j, name in enumerate(names):
        column = features[:, j].astype(np.float64)
        edges = np.unique(np.quantile(column, np.linspace(0, 1, bins + 1)[1:-1]))
        counts = np.bincount(np.searchsorted(edges, column, side="right"), minlength=len(edges) + 1)
        reference[name] = {"edges": edges.tolist(), "shares": (counts / max(len(column), 1)).tolist()}
    return reference


def split_weeks(last_week: pd.Timestamp, settings: Settings) -> tuple[pd.Timestamp, pd.Timestamp]:
    holdout_start = last_week - pd.Timedelta(weeks=settings.train.holdout_weeks - 1)
    validation_start = holdout_start - pd.Timedelta(weeks=settings.train.validation_weeks)
    return validation_start, holdout_start


@dataclass(frozen=True)
class TrainingRows:
    """The observed (series, week) rows before the holdout, time-ordered, with their design.

    `target` is log1p(units) - level (the residual every model learns); `is_fit` marks the rows
    before the validation window (the rest fit the ensemble weights and offsets)."""

    design: Design
    rows: pd.DataFrame  # design.rows plus `segment`
    target: npt.NDArray[np.float64]
    is_fit: npt.NDArray[np.bool_]
    codes: IntVector


def check_history(weeks: int, validation_idx: int, settings: Settings) -> None:
    """UsageError when the panel is too short for holdout + validation + minimum history."""
    if validation_idx < settings.train.min_history_weeks + 1:
        raise UsageError(
            f"only {weeks} weeks of shipments: need more than "
            f"holdout ({settings.train.holdout_weeks}) "
            f"+ validation ({settings.train.validation_weeks}) + {settings.train.min_history_weeks} weeks; "
            "supply more history or lower train.holdout_weeks / train.validation_weeks with --config"
        )


def assign_segments(panel: Any, holdout_idx: int, settings: Settings) -> tuple[pd.DataFrame, float]:
    """Each series' velocity (fast/slow) and segment label, and the velocity threshold in units/week.

    Velocity comes from training history only: mean weekly units over observed weeks before the holdout."""
    train_units = panel.units[:, :holdout_idx]
    with np.errstate(invalid="ignore"):
        series_mean = np.nanmean(
            np.where(np.isnan(train_units).all(axis=1, keepdims=True), 0.0, train_units), axis=1
        )
    threshold = (
        float(settings.segments.velocity_threshold)
        if settings.segments.velocity_threshold is not None
        else float(np.quantile(series_mean, settings.segments.velocity_quantile))
    )
    series = panel.series.copy()
    series["velocity"] = np.where(series_mean >= threshold, "fast", "slow")
    series["segment"] = [
        segment_label(r, f, v)
        for r, f, v in zip(series["region"], series["store_format"], series["velocity"], strict=True)
    ]
    return series, threshold


def training_design(
    panel: Any,
    feats: Any,
    level: Any,
    baseline: Any,
    series: pd.DataFrame,
    holdout_idx: int,
    settings: Settings,
    unit: float,
) -> tuple[Design, pd.DataFrame, npt.NDArray[np.float64], IntVector]:
    """Design rows of every observed week before the holdout with enough history, time-ordered."""
    s_idx, t_idx = observed_rows(panel, level)
    history_count = np.cumsum(~np.isnan(panel.units), axis=1)
    enough_history = history_count[s_idx, np.maximum(t_idx - 1, 0)] >= settings.train.min_history_weeks
    keep = (t_idx < holdout_idx) & enough_history
    s_idx, t_idx = s_idx[keep], t_idx[keep]
    order = np.argsort(t_idx, kind="stable")  # time-ordered rows for time-series CV
    s_idx, t_idx = s_idx[order], t_idx[order]
    design = design_rows(panel, feats, level, baseline, s_idx, t_idx)
    rows = design.rows
    rows["segment"] = series["segment"].to_numpy()[s_idx]
    target = np.log1p(rows["units"].to_numpy() / unit) - rows["level"].to_numpy()
    return design, rows, target, t_idx


def new_model(
    settings: Settings, spec: FeatureSpec, design: Design, series: pd.DataFrame, threshold: float
) -> TrainedModel:
    """An untrained model: vocabularies, network shape and the drift reference bins of training rows."""
    vocab = {
        column: sorted(map(str, pd.unique(series[column] if column != "segment" else series["segment"])))
        for column in CATEGORICALS
    }
    return TrainedModel(
        info={},
        settings=settings,
        spec=spec,
        feature_names=design.feature_names,
        vocab=vocab,
        series=series,
        velocity_threshold=threshold,
        lasso={},
        network_spec=NetworkSpec(
            [len(vocab[c]) for c in CATEGORICALS],
            len(design.feature_names),
            design.feature_names.index("level"),
        ),
        networks={},
        weights={},
        offsets={},
        reference=reference_bins(design.features, design.feature_names, settings.monitor.psi_bins),
    )


def segment_tasks(model: TrainedModel, data: TrainingRows, segments: list[str]) -> list[SegmentTask]:
    """One task per segment: its fit, validation and all rows, with a seed derived from the segment."""
    settings = model.settings
    per_segment_nn = settings.nn.sharing == "per_segment"
    design, rows, target, is_fit, codes = data.design, data.rows, data.target, data.is_fit, data.codes
    tasks = []
    for segment in segments:
        mask = (rows["segment"] == segment).to_numpy()
        fit, val = mask & is_fit, mask & ~is_fit
        tasks.append(
            SegmentTask(
                segment,
                _segment_seed(settings.train.seed, segment),
                design.features[fit],
                target[fit],
                codes[fit],
                design.features[val],
                codes[val],
                design.features[mask],
                target[mask],
                codes[mask],
                settings,
                model.network_spec.level_index,
                model.network_spec if per_segment_nn else None,
            )
        )
    return tasks


def fit_segments(
    tasks: list[SegmentTask], settings: Settings, rows: int, say: Progress
) -> list[SegmentResult]:
    """Fit every segment's LASSO (and network, with per-segment sharing), in a process pool."""
    per_segment_nn = settings.nn.sharing == "per_segment"
    n_jobs = settings.train.n_jobs or os.cpu_count() or 1
    say(f"training {len(tasks)} segments on {rows} rows with {n_jobs} worker(s)")
    results: list[SegmentResult] = []
    if n_jobs > 1 and len(tasks) > 1:
        # fork is cheap and safe while the parent has not run torch yet; with per-segment networks the
        # parent may have, so spawn clean workers instead.
        method = "spawn" if per_segment_nn else "fork"
        with ProcessPoolExecutor(
            n_jobs, mp_context=multiprocessing.get_context(method), initializer=_worker_init
        ) as pool:
            for result in pool.map(_fit_segment, tasks, chunksize=max(1, len(tasks) // (4 * n_jobs))):
                results.append(result)
                say(f"segment {result.segment} done")
    else:
        for task in tasks:
            results.append(_fit_segment(task))
            say(f"segment {task.segment} done")
    return results


def collect_segment_models(
    model: TrainedModel, data: TrainingRows, results: list[SegmentResult]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Store the pooled and per-segment models; return validation residuals of LASSO and network."""
    settings = model.settings
    design, target, is_fit = data.design, data.target, data.is_fit
    level_index = model.network_spec.level_index
    positive_only = settings.lasso.positive_rows_only
    fit_px, fit_py = lasso_rows(design.features[is_fit], target[is_fit], level_index, positive_only)
    pooled_before_refit = fit_lasso(fit_px, fit_py, settings.lasso, settings.train.seed)
    if settings.ensemble.refit:
        model.lasso[POOLED] = fit_lasso(
            *lasso_rows(design.features, target, level_index, positive_only),
            settings.lasso,
            settings.train.seed,
        )
    else:
        model.lasso[POOLED] = pooled_before_refit
    for result in results:
        if result.lasso is not None:
            model.lasso[result.segment] = result.lasso
        if result.network is not None:
            model.networks[result.segment] = result.network

    val_lasso = np.zeros(int((~is_fit).sum()))
    val_nn = np.zeros(int((~is_fit).sum()))
    val_rows = data.rows[~is_fit].reset_index(drop=True)
    for result in results:
        seg_mask = (val_rows["segment"] == result.segment).to_numpy()
        val_lasso[seg_mask] = (
            result.lasso_val
            if result.lasso is not None
            else pooled_before_refit.predict(design.features[~is_fit][seg_mask])
        )
        if result.network_val is not None:
            val_nn[seg_mask] = result.network_val
    return val_lasso, val_nn


def fit_shared_networks(model: TrainedModel, data: TrainingRows, say: Progress) -> npt.NDArray[np.float64]:
    """Train `nn.seeds` shared embedding networks; return their mean validation residual."""
    settings = model.settings
    design, target, is_fit, codes = data.design, data.target, data.is_fit, data.codes
    torch.set_num_threads(settings.nn.threads)
    members = []
    for member in range(settings.nn.seeds):
        say(
            f"training shared embedding network {member + 1}/{settings.nn.seeds} "
            f"({settings.nn.epochs} epochs)"
        )
        member_seed = settings.train.seed + 1000 * member
        state = fit_network(
            codes[is_fit],
            design.features[is_fit],
            target[is_fit],
            model.network_spec,
            settings.nn,
            member_seed,
        )
        members.append(
            predict_network(state, model.network_spec, settings.nn, codes[~is_fit], design.features[~is_fit])
        )
        if settings.ensemble.refit:
            say("refitting the shared network on train + validation")
            state = fit_network(codes, design.features, target, model.network_spec, settings.nn, member_seed)
        model.networks[SHARED if member == 0 else f"{SHARED}{member}"] = state
    return np.asarray(np.mean(members, axis=0), dtype=np.float64)


def segment_weight(
    model: TrainedModel,
    segment: str,
    seg_mask: npt.NDArray[np.bool_],
    validation: tuple[npt.NDArray[np.float64], ...],
    pooled_weight: float,
) -> float:
    """A segment's LASSO weight: equal, its pool's (too few validation actuals) or its own fitted one."""
    settings = model.settings
    val_actual, val_level, val_lasso, val_nn = validation
    has_nn = settings.nn.sharing != "per_segment" or segment in model.networks
    if not has_nn:
        return 1.0
    if settings.ensemble.weights == "equal" or not seg_mask.any():
        return 0.5
    if int((val_actual[seg_mask] > 0).sum()) < settings.ensemble.min_segment_rows:
        # Too few validation weeks to trust a segment's own weight: use its pool's.
        return float(lookup(model.weights, segment, pooled_weight))
    return fit_weight(
        val_actual[seg_mask],
        val_level[seg_mask],
        val_lasso[seg_mask],
        val_nn[seg_mask],
        settings.ensemble.weight_grid_step,
    )


def fit_ensemble(
    model: TrainedModel,
    val_rows: pd.DataFrame,
    val_lasso: npt.NDArray[np.float64],
    val_nn: npt.NDArray[np.float64],
    segments: list[str],
) -> dict[str, float | None]:
    """Offsets and LASSO weights (pooled, per velocity pool, per segment) fitted on the validation
    window; returns the validation MAPE of each model (`validation_mape_<model>`)."""
    settings = model.settings
    # In the model's unit, as its forecasts expm1(level + r) are (MAPE is the same in any unit).
    val_actual = val_rows["units"].to_numpy() / model.spec.unit_scale
    val_level = val_rows["level"].to_numpy()
    val_segments = val_rows["segment"].to_numpy()
    if settings.ensemble.calibrate:
        model.offsets = calibrate_offsets(
            val_segments, val_actual, val_level, val_lasso, val_nn, settings.ensemble.min_segment_rows
        )
        for segment in pd.unique(val_segments):
            mask = val_segments == segment
            offset = lookup(model.offsets, str(segment), {})
            suffix = "" if settings.ensemble.point == "mape" else "_median"
            val_lasso[mask] += offset.get(f"lasso{suffix}", 0.0)
            val_nn[mask] += offset.get(f"nn{suffix}", 0.0)
    step = settings.ensemble.weight_grid_step
    pooled_weight = fit_weight(val_actual, val_level, val_lasso, val_nn, step) if len(val_actual) else 0.5
    model.weights[POOLED] = pooled_weight
    val_pools = np.array([velocity_pool(str(segment)) for segment in val_segments], dtype=object)
    for pool in pd.unique(val_pools):
        mask = val_pools == pool
        if int((val_actual[mask] > 0).sum()) >= settings.ensemble.min_segment_rows:
            model.weights[str(pool)] = fit_weight(
                val_actual[mask], val_level[mask], val_lasso[mask], val_nn[mask], step
            )
    validation_arrays = (val_actual, val_level, val_lasso, val_nn)
    for segment in segments:
        seg_mask = (val_rows["segment"] == segment).to_numpy()
        model.weights[segment] = segment_weight(model, segment, seg_mask, validation_arrays, pooled_weight)
    blend_weight = np.array([model.weights[s] for s in val_rows["segment"]])
    validation: dict[str, float | None] = {}
    for name, residual in (
        ("lasso", val_lasso),
        ("nn", val_nn),
        ("ensemble", blend_weight * val_lasso + (1 - blend_weight) * val_nn),
    ):
        validation[f"validation_mape_{name}"] = mape(
            val_actual, np.clip(np.expm1(val_level + residual), 0, None)
        )
    validation["validation_mape_baseline"] = mape(
        val_rows["units"].to_numpy(), val_rows["baseline"].to_numpy()
    )
    return validation


def describe(
    model: TrainedModel,
    panel: Any,
    data: TrainingRows,
    segments: list[str],
    validation: dict[str, float | None],
) -> dict[str, Any]:
    """The model's `model_info.json` content (`model_version` is set by the train step)."""
    settings = model.settings
    validation_start, holdout_start = split_weeks(panel.weeks[-1], settings)
    train_weeks = panel.weeks[panel.weeks < holdout_start]
    series, rows = model.series, data.rows
    return {
        "model_name": MODEL_NAME,
        "model_version": "",
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "train_first_week": train_weeks[0].strftime("%Y-%m-%d"),
        "train_last_week": train_weeks[-1].strftime("%Y-%m-%d"),
        "holdout": {
            "start": holdout_start.strftime("%Y-%m-%d"),
            "end": panel.weeks[-1].strftime("%Y-%m-%d"),
            "weeks": settings.train.holdout_weeks,
        },
        "validation": {
            "start": validation_start.strftime("%Y-%m-%d"),
            "weeks": settings.train.validation_weeks,
        },
        "segments": [
            {
                "segment": segment,
                "series": int((series["segment"] == segment).sum()),
                "rows": int((rows["segment"] == segment).sum()),
                "lasso_weight": model.weights[segment],
                "lasso": "segment" if segment in model.lasso else "pooled",
            }
            for segment in segments
        ],
        "velocity_threshold_units": model.velocity_threshold,
        "nn_sharing": settings.nn.sharing,
        "feature_count": len(model.feature_names),
        "training_rows": len(rows),
        "series": len(series),
        "metrics": validation,
        "package_version": __version__,
        "config": settings.as_dict(),
    }


def train_model(tables: Tables, settings: Settings, progress: Progress | None = None) -> TrainedModel:
    """Fit every segment's models on the weeks before the holdout; return the model in memory.

    Steps: segments (velocity from training history), per-segment fitting in a process pool, the
    shared embedding networks, ensemble offsets and weights on the validation window, description."""
    say = progress or (lambda message: None)
    spec = make_spec(tables, settings.features.max_event_features)
    panel = build_panel(tables, spec)
    feats, level, baseline = compute_features(panel, spec)
    validation_start, holdout_start = split_weeks(panel.weeks[-1], settings)
    holdout_idx = panel.week_index(holdout_start)
    validation_idx = panel.week_index(validation_start)
    check_history(len(panel.weeks), validation_idx, settings)
    series, threshold = assign_segments(panel, holdout_idx, settings)
    design, rows, target, t_idx = training_design(
        panel, feats, level, baseline, series, holdout_idx, settings, spec.unit_scale
    )
    model = new_model(settings, spec, design, series, threshold)
    codes = model.encode(rows, rows["segment"].to_numpy(dtype=object))
    data = TrainingRows(design, rows, target, t_idx < validation_idx, codes)
    segments = sorted(pd.unique(rows["segment"]))
    results = fit_segments(segment_tasks(model, data, segments), settings, len(rows), say)
    val_lasso, val_nn = collect_segment_models(model, data, results)
    if settings.nn.sharing != "per_segment":
        val_nn = fit_shared_networks(model, data, say)
    val_rows = rows[~data.is_fit].reset_index(drop=True)
    validation = fit_ensemble(model, val_rows, val_lasso, val_nn, segments)
    model.info = describe(model, panel, data, segments, validation)
    return model
