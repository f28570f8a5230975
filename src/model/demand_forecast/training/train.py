"""`train_model`: the training steps in order, from tables to a model in memory."""

from __future__ import annotations

import pandas as pd

from demand_forecast.dataset import Tables
from demand_forecast.features import (
    CATEGORICALS,
    Design,
    FeatureSpec,
    build_panel,
    compute_features,
    make_spec,
)
from demand_forecast.models import (
    NetworkSpec,
)
from demand_forecast.settings import Settings
from demand_forecast.training.description import describe
from demand_forecast.training.design import TrainingRows, reference_bins, training_design
from demand_forecast.training.ensemble import fit_ensemble
from demand_forecast.training.model import TrainedModel
from demand_forecast.training.segment_models import (
    Progress,
    collect_segment_models,
    fit_segments,
    segment_tasks,
)
from demand_forecast.training.segments import assign_segments, check_history, split_weeks
from demand_forecast.training.shared_network import fit_shared_networks


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
