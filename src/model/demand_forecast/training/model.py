"""The trained model: its parts, its forecasts, and its self-contained folder (`save`/`load`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import torch

from demand_forecast.contracts import MODEL_INFO_FILE, ModelInfo
from demand_forecast.dataset import Tables
from demand_forecast.features import (
    CATEGORICALS,
    Design,
    FeatureSpec,
    FloatArray,
    Panel,
    build_panel,
    compute_features,
    never_sold,
)
from demand_forecast.models import (
    LinearModel,
    NetworkSpec,
    predict_network,
)
from demand_forecast.outputs import MARKER, mark_complete, write_atomic, write_csv_atomic, write_text_atomic
from demand_forecast.reading import read_text_csv
from demand_forecast.settings import Settings
from demand_forecast.training.segments import POOLED, SHARED, lookup, segment_label

IntVector = npt.NDArray[np.int64]
FloatVector = npt.NDArray[np.float64]
# The calibration offsets stored per segment (demand_forecast.training.ensemble fits them).
OFFSET_KEYS = ("lasso", "nn", "lasso_median", "nn_median")


def _slug(segment: str) -> str:
    return hashlib.sha256(segment.encode()).hexdigest()[:16]


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

    def design(
        self, tables: Tables, until_week: pd.Timestamp | None = None
    ) -> tuple[Panel, dict[str, npt.NDArray[np.float32]], FloatArray, FloatArray]:
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
