"""The files the steps hand to each other and to stackctl, as pydantic models (the typed seams).

Each step writes its result through one of these models and every reader (the next step, stackctl's
local stack, reporting and dashboard, the tests' fake CLI) reads it back through the same model, so
a renamed or missing field fails where it is written or read, naming the file and the field, instead
of surfacing later as a `KeyError` or a silent default.

| file                | written by          | model         |
| ------------------- | ------------------- | ------------- |
| `data_quality.json` | validate, train     | `DataQuality` |
| `model_info.json`   | train (model folder)| `ModelInfo`   |
| `partitions.json`   | train (model folder)| `Partitions`  |
| `metrics.json`      | evaluate            | `Metrics`     |
| `decision.json`     | register            | `Decision`    |
| `routing.json`      | register (bundle)   | `Routing`     |
| `monitoring.json`   | monitor             | `Monitoring`  |
| `publish.json`      | publish             | `Published`   |

Dates are ISO `YYYY-MM-DD` strings, instants ISO 8601 UTC (`...Z`), MAPE a fraction (0.45 = 45 %),
RMSE in units. Unknown keys are errors (`extra="forbid"`); NaN and infinity are refused
(`allow_inf_nan=False`): a number that is not finite is written as null or not at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from demand_forecast.errors import UsageError
from demand_forecast.outputs import write_text_atomic

MODEL_INFO_FILE = "model_info.json"
# The model folder inside a registered MLflow model (the pyfunc's artifact key).
MODEL_ARTIFACT = "model_dir"
METRICS_FILE = "metrics.json"
DECISION_FILE = "decision.json"
MONITORING_FILE = "monitoring.json"
DATA_QUALITY_FILE = "data_quality.json"
PUBLISHED_FILE = "publish.json"
PARTITIONS_FILE = "partitions.json"


class ContractError(UsageError):
    """A step's file does not match its contract: names the file and every field that is wrong."""


class Contract(BaseModel):
    """Base of every file contract: frozen, unknown keys refused, no NaN or infinity."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    @classmethod
    def parse(cls, data: Any, where: str) -> Self:
        """Validate `data` (a decoded JSON object); ContractError names `where` and each bad field."""
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or '(top)'}: {error['msg']}"
                for error in exc.errors()
            )
            raise ContractError(f"{where} does not match the {cls.__name__} contract: {problems}") from exc

    @classmethod
    def read(cls, path: Path) -> Self:
        """The contract read from `path`; ContractError when missing, not JSON or not matching."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ContractError(f"{path} is missing: the step that writes it did not run or failed") from exc
        except (OSError, json.JSONDecodeError) as exc:
            raise ContractError(f"cannot read {path}: {exc}") from exc
        return cls.parse(data, str(path))

    def to_json(self) -> dict[str, Any]:
        """The JSON object of this contract (fields left unset when it was built are left out)."""
        return self.model_dump(mode="json", exclude_unset=True)

    def write(self, path: Path) -> Path:
        """Write the contract as indented JSON to `path` (parents created), atomically
        (`demand_forecast.outputs.write_atomic`); returns `path`."""
        return write_text_atomic(path, json.dumps(self.to_json(), indent=2) + "\n")


# ---- data_quality.json ------------------------------------------------------------------------


class FileCounts(Contract):
    """Rows of one input file: read, kept after validation, quarantined.

    `read_as`: how the file was read (encoding, delimiter, decimal... or `{"encoding": "parquet"}`,
    `demand_forecast.reading`); `outside_run`: rows of an optional table for stores/regions not in
    stores.csv (ignored); `unmatched`: kept rows that match no shipment series or region (unused)."""

    rows_in: int = Field(ge=0)
    rows_out: int = Field(ge=0)
    quarantined: int = Field(ge=0)
    read_as: dict[str, Any] | None = None
    outside_run: int | None = Field(default=None, ge=0)
    unmatched: int | None = Field(default=None, ge=0)


class SeriesWithoutForecast(Contract):
    """An active series (store_id, product_id) that score/monitor left out, and why."""

    store_id: str
    product_id: str
    rows: int = Field(ge=0)
    reasons: str


class ScoringQuality(Contract):
    """The `scoring` section a score/monitor run adds (`demand_forecast.scoring.scoring_quality`)."""

    as_of: str
    series_forecast: int = Field(ge=0)
    series_without_forecast: int = Field(ge=0)
    without_forecast: list[SeriesWithoutForecast]
    assumed_inputs: list[str]


class DataQuality(Contract):
    """`data_quality.json`: what validation read, kept and quarantined (per file and per reason)."""

    files: dict[str, FileCounts]
    quarantined_by_reason: dict[str, int]
    series: int = Field(ge=0)
    weeks: int = Field(ge=0)
    first_week: str
    last_week: str
    gaps: int = Field(ge=0)
    zero_unit_rows: int = Field(ge=0)
    feature_columns: dict[str, list[str]]
    # table -> column -> why it is not a feature (issue 13: nothing is dropped silently)
    ignored_columns: dict[str, dict[str, str]]
    gap_policy: str
    warnings: list[str] = Field(default_factory=list)
    scoring: ScoringQuality | None = None

    @property
    def rows_in(self) -> int:
        return sum(counts.rows_in for counts in self.files.values())

    @property
    def quarantined(self) -> int:
        return sum(counts.quarantined for counts in self.files.values())


class DataQualitySummary(Contract):
    """The part of `DataQuality` a model folder keeps about the data it was trained on."""

    series: int
    weeks: int
    gaps: int
    quarantined_by_reason: dict[str, int]


# ---- model_info.json --------------------------------------------------------------------------


class Holdout(Contract):
    """The last weeks of the data, kept out of training for `evaluate` (start/end inclusive)."""

    start: str
    end: str
    weeks: int = Field(ge=1)


class ValidationWindow(Contract):
    """The weeks before the holdout that fit the ensemble weights and offsets."""

    start: str
    weeks: int = Field(ge=1)


class SegmentInfo(Contract):
    """One segment (region|store_format|velocity) of a trained model."""

    segment: str
    series: int = Field(ge=0)
    rows: int = Field(ge=0)
    lasso_weight: float = Field(ge=0.0, le=1.0)
    lasso: Literal["segment", "pooled"]


class ModelInfo(Contract):
    """`model_info.json` of a model folder: identity, training window, segments, validation MAPE.

    `model_version` is a content hash of data, code and settings (empty until `train` sets it);
    `config` is the model's `Settings.as_dict()` (validated by `Settings` when the model loads);
    `metrics` maps `validation_mape_<model>` to a MAPE, null when every validation actual is zero.
    """

    model_name: str
    model_version: str
    trained_at: str
    train_first_week: str
    train_last_week: str
    holdout: Holdout
    validation: ValidationWindow
    segments: list[SegmentInfo]
    velocity_threshold_units: float
    nn_sharing: Literal["global", "per_segment"]
    feature_count: int = Field(ge=0)
    training_rows: int = Field(ge=0)
    series: int = Field(ge=0)
    metrics: dict[str, float | None]
    package_version: str
    config: dict[str, Any]
    data_quality: DataQualitySummary | None = None
    mlflow_run_id: str | None = None


# ---- metrics.json -----------------------------------------------------------------------------


class Partition(Contract):
    """One region of a distributed training run: the worker that trained it and how it ended; a failed
    region's segments are absent from the model (docs/scale.md, contract 2)."""

    rank: int = Field(ge=0)
    status: Literal["trained", "failed"]
    error: str | None
    segments: list[str]


class Partitions(Contract):
    """`partitions.json` in the model folder: every region of the run (docs/scale.md, contract 2)."""

    version: Literal[1] = 1
    world_size: int = Field(ge=1)
    partitions: dict[str, Partition]

    def failed(self) -> dict[str, str | None]:
        """Failed regions and their errors."""
        return {region: p.error for region, p in self.partitions.items() if p.status == "failed"}


class Scores(Contract):
    """Quality of one model on a set of rows (`demand_forecast.metrics.scores`).

    `mape` is over non-zero actuals (null when all are zero), `wape` (sum |error| / sum actual) and
    `bias` (sum forecast / sum actual - 1) over all `n` rows (null when the actuals sum to 0; null
    too in files written before they existed), `rmse_zero_actual` over zero actuals (null when there
    is none), `rmse` over all `n` rows (`demand_forecast.metrics`)."""

    mape: float | None
    wape: float | None = None
    bias: float | None = None
    rmse: float
    rmse_zero_actual: float | None
    n: int = Field(ge=0)
    n_zero_actual: int = Field(ge=0)


class SegmentScores(Scores):
    """`Scores` of one model on one segment's holdout rows."""

    segment: str
    model: str


class OverallScores(Contract):
    """Holdout `Scores` of each model over every row; `champion` is null without a usable champion."""

    baseline: Scores
    lasso: Scores
    nn: Scores
    ensemble: Scores
    champion: Scores | None = None

    def by_model(self) -> dict[str, Scores | None]:
        """Model name -> scores, in the order baseline, lasso, nn, ensemble, champion."""
        return {
            "baseline": self.baseline,
            "lasso": self.lasso,
            "nn": self.nn,
            "ensemble": self.ensemble,
            "champion": self.champion,
        }


class Metrics(Contract):
    """`metrics.json` of `evaluate`: holdout scores overall and per segment against the target."""

    model_name: str
    model_version: str
    holdout: Holdout
    target_mape: float = Field(gt=0.0)
    overall: OverallScores
    segments: list[SegmentScores]
    champion_version: str | None = None
    segments_meeting_target: int = Field(ge=0)
    segments_total: int = Field(ge=0)


# ---- routing.json (issue 20, contract 3) ------------------------------------------------------

# In a registered bundle, beside the bundle's own model files (demand_forecast.routing).
ROUTING_FILE = "routing.json"


class HoldoutMape(Contract):
    """A segment's holdout MAPE of the candidate and of the champion on the same holdout rows (null:
    no figure: every actual zero, no rows, or no champion)."""

    candidate: float | None
    champion: float | None


class Route(Contract):
    """Which model answers one segment: `source` candidate (this run's model) or champion (a model
    copied from the champion's bundle), `model_version` the content hash of that model (the
    `model_version` its forecast rows carry); `failed` marks a segment of a failed partition."""

    source: Literal["candidate", "champion"]
    model_version: str = Field(min_length=1)
    holdout_mape: HoldoutMape
    failed: bool = False
    error: str | None = None


class Routing(Contract):
    """`routing.json` of a registered bundle: segment id -> `Route` (docs/scale.md, "Per-segment
    promotion"). A segment missing from the table is answered by the bundle's own model."""

    version: Literal[1]
    segments: dict[str, Route]

    def versions(self) -> set[str]:
        """Every model version some segment routes to."""
        return {route.model_version for route in self.segments.values()}

    def routed(self, source: Literal["candidate", "champion"]) -> list[str]:
        """The segments whose `source` is `source`, sorted."""
        return sorted(segment for segment, route in self.segments.items() if route.source == source)


# ---- decision.json ----------------------------------------------------------------------------


class Decision(Contract):
    """`decision.json` of `register`: the registered version and whether it became champion."""

    model_name: str
    model_version: str
    registered_version: str
    promoted: bool
    reason: str
    candidate_mape: float | None
    champion_mape: float | None
    champion_version: str | None
    margin: float = Field(ge=0.0, lt=1.0)
    candidate_wape: float | None = None
    candidate_bias: float | None = None
    champion_wape: float | None = None
    champion_bias: float | None = None
    max_abs_bias: float | None = Field(default=None, gt=0.0)
    # Per-segment promotion (issue 20): the segments routed to the candidate and those that keep the
    # champion's model, the failed partitions (region -> error), and the routed bundle's holdout MAPE.
    routed_segments: list[str] = Field(default_factory=list)
    champion_segments: list[str] = Field(default_factory=list)
    failed_partitions: dict[str, str] = Field(default_factory=dict)
    routed_mape: float | None = None


# ---- monitoring.json --------------------------------------------------------------------------


class SegmentHealth(Contract):
    """Recent MAPE, WAPE and bias of one segment over `n` rows."""

    segment: str
    recent_mape: float | None
    recent_wape: float | None = None
    recent_bias: float | None = None
    n: int = Field(ge=0)


class Monitoring(Contract):
    """`monitoring.json` of `monitor`: age and staleness, input drift (PSI per feature), recent MAPE."""

    as_of: str
    model_name: str
    model_version: str
    trained_at: str
    age_days: int = Field(ge=0)
    stale: bool
    stale_after_days: int = Field(ge=1)
    drift: dict[str, float]
    # "file:column" -> share of its recent values far outside training's range (scoring.covariate_shift)
    covariate_shift: dict[str, float] = Field(default_factory=dict)
    drift_alert: bool
    drift_threshold: float
    recent_mape: float | None
    recent_weeks: int = Field(ge=0)
    recent_source: str
    recent_wape: float | None = None
    recent_bias: float | None = None
    segments: list[SegmentHealth]

    @property
    def max_psi(self) -> float | None:
        return max(self.drift.values(), default=None)


# ---- publish.json -----------------------------------------------------------------------------


class Published(Contract):
    """`publish.json` of `publish`: which run went into the reporting database, and the rows written
    per table (`demand_forecast.reporting.schema.RUN_TABLES`)."""

    run_id: str
    pipeline: Literal["training", "scoring"]
    status: Literal["succeeded", "failed"]
    rows: dict[str, int]
