"""The step contract, declared once: each step's command-line options and what each one carries.

`demand_forecast.cli` builds its argument parser from this table, and stackctl's pipeline graph
(`stackctl.graph`) builds every AML command component and the local executor's command lines
from it, so the two cannot disagree on a flag, a port name or a description.

An `Option` with a `port` is part of the pipeline interface: the graph exposes it as an input
(`kind` is its AML input type, https://learn.microsoft.com/azure/machine-learning/reference-yaml-component-command)
or, when `output` is set, as an output folder. `file` names a file inside the port's folder that
the CLI receives instead of the folder itself (`--metrics <evaluation>/metrics.json`). Options
without a port are for people running the CLI by hand.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from demand_forecast.contracts import DECISION_FILE, METRICS_FILE, MONITORING_FILE

PortKind = Literal["uri_folder", "string", "integer", "number"]
# How the CLI parses the value: a path, an MLflow model reference or a folder, a Monday, a number.
ValueType = Literal["path", "model", "week", "int", "float", "text", "flag"]


@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    value: ValueType = "path"
    required: bool = False
    default: int | float | str | None = None  # the CLI's default when the option is not given
    port: str | None = None  # the pipeline port it binds to (None: CLI only)
    kind: PortKind = "uri_folder"
    output: bool = False
    file: str = ""  # e.g. "/metrics.json": a file inside the port's folder
    choices: tuple[str, ...] = ()  # the values the CLI accepts (empty: any)


@dataclass(frozen=True)
class StepSpec:
    name: str
    help: str
    options: tuple[Option, ...]


def _out(help_text: str, port: str) -> Option:
    return Option("--out", help_text, required=True, port=port, output=True)


# Every step takes the pipeline's reporting database: publish writes the run's rows there, and any
# other step records its pipeline run there as failed when it fails (demand_forecast.publish
# .record_failed_step). A pipeline input, not a job environment variable fixed at deploy time, so a
# release-validation run that points the pipeline at its own schema is never recorded in the tables
# Power BI reads (issue 22, review finding "a failed validation step writes into Power BI's tables").
_REPORTING_DATABASE = Option(
    "--reporting-database",
    "the reporting database: sqlite:///path/reporting.db or mssql://<server>/<database>; publish writes "
    "the run there, any other step records its pipeline run there as failed if it fails "
    "(default: $REPORTING_DATABASE_URL)",
    value="text",
    port="reporting_database",
    kind="string",
)

_DATA = "raw or conditioned data folder (the input contract's CSV files)"
_MODEL_DIR = "a trained model folder (model_info.json and the segment models)"
_MODEL_REF = "model folder or MLflow URI to score with"

VALIDATE = StepSpec(
    "validate",
    "validate and condition the raw data; quarantine bad rows",
    (
        Option("--data", "raw data folder (the data lake's raw file system)", required=True, port="raw_data"),
        _out("conditioned dataset, quarantine.csv, data_quality.json", "conditioned"),
        _REPORTING_DATABASE,
    ),
)

TRAIN = StepSpec(
    "train",
    "train the baseline, LASSO and embedding-network models of every segment",
    (
        Option("--data", _DATA, required=True, port="data"),
        _out("self-contained model folder", "model"),
        Option("--seed", "random seed", value="int", port="seed", kind="integer"),
        Option(
            "--epochs", "training epochs of the neural network", value="int", port="epochs", kind="integer"
        ),
        Option("--no-tracking", "do not record the run in MLflow", value="flag"),
        _REPORTING_DATABASE,
    ),
)

EVALUATE = StepSpec(
    "evaluate",
    "holdout metrics against the baseline and the current champion",
    (
        Option("--model", _MODEL_DIR, value="model", required=True, port="model"),
        Option("--data", _DATA, required=True, port="data"),
        _out(METRICS_FILE, "evaluation"),
        Option(
            "--champion",
            "the champion to compare with",
            value="model",
            port="champion",
            kind="string",
        ),
        _REPORTING_DATABASE,
    ),
)

REGISTER = StepSpec(
    "register",
    "register the model; promote it to champion only if it beats the champion by the margin",
    (
        Option("--model", _MODEL_DIR, required=True, port="model"),
        Option(
            "--metrics",
            f"{METRICS_FILE} written by evaluate (in the pipeline: inside the evaluate step's output folder)",
            required=True,
            port="evaluation",
            file=f"/{METRICS_FILE}",
        ),
        _out(DECISION_FILE, "decision"),
        Option(
            "--name",
            "registered model name (default: register.model_name; release validation registers "
            "under its own name, so the production champion never moves)",
            value="text",
            port="registered_model",
            kind="string",
        ),
        Option(
            "--margin",
            "relative MAPE improvement needed to promote (unset: the model's default)",
            value="float",
            port="margin",
            kind="number",
        ),
        _REPORTING_DATABASE,
    ),
)

SCORE = StepSpec(
    "score",
    "batch forecasts for the next weeks",
    (
        Option("--model", _MODEL_REF, value="model", required=True, port="model", kind="string"),
        Option("--data", _DATA, required=True, port="data"),
        _out("forecasts.csv", "scored"),
        Option(
            "--as-of",
            "score as of this week (YYYY-MM-DD)",
            value="week",
            port="as_of",
            kind="string",
        ),
        Option("--horizon", "weeks to forecast", value="int", default=1, port="horizon", kind="integer"),
        _REPORTING_DATABASE,
    ),
)

MONITOR = StepSpec(
    "monitor",
    "recent accuracy, staleness and drift of the model in use",
    (
        Option("--model", _MODEL_REF, value="model", required=True, port="model", kind="string"),
        Option("--data", _DATA, required=True, port="data"),
        _out(MONITORING_FILE, "monitoring"),
        Option(
            "--forecasts",
            "forecasts.csv written by score (in the pipeline: inside the score step's output folder)",
            port="scored",
            file="/forecasts.csv",
        ),
        Option(
            "--as-of",
            "monitor as of this week (YYYY-MM-DD)",
            value="week",
            port="as_of",
            kind="string",
        ),
        _REPORTING_DATABASE,
    ),
)

# The folders the publish step reads, by the step output that holds them (`stackctl.graph` binds
# each pipeline's subset: training conditioned/model/evaluation/decision, scoring
# conditioned/scored/monitoring).
PUBLISH_FOLDERS = ("conditioned", "model", "evaluation", "decision", "scored", "monitoring")

PUBLISH = StepSpec(
    "publish",
    "write a pipeline run's results into the reporting database (replacing its rows)",
    (
        Option(
            "--pipeline",
            "the pipeline the run belongs to",
            value="text",
            required=True,
            choices=("training", "scoring"),
        ),
        Option(
            "--run-id",
            "the pipeline run; in AML: the pipeline job (default)",
            value="text",
            port="run_id",
            kind="string",
        ),
        _REPORTING_DATABASE,
        *(
            Option(f"--{folder}", f"the {folder} output folder of this run", port=folder)
            for folder in PUBLISH_FOLDERS
        ),
        Option(
            "--status",
            "how the run ended",
            value="text",
            default="succeeded",
            choices=("succeeded", "failed"),
        ),
        Option("--detail", "what went wrong (with --status failed)", value="text"),
        _out("publish.json: the rows written per table", "published"),
    ),
)

STEPS: dict[str, StepSpec] = {
    spec.name: spec for spec in (VALIDATE, TRAIN, EVALUATE, REGISTER, SCORE, MONITOR, PUBLISH)
}
