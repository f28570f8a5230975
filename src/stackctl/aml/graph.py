"""The training and scoring pipelines, described once as data.

Two executors read this module and nothing else to learn the step list:

* `stackctl.aml.specs` turns each step into an azure-ai-ml command component and each pipeline into a
  `dsl.pipeline` pipeline component (published as a batch endpoint deployment);
* `stackctl.local.runner` runs the same steps in order as `python -m demand_forecast ...` subprocesses.

A step's command line is a list of `Arg`s: a literal token, a reference to one of the step's inputs or
outputs, or an optional flag that is left out when its input has no value (AML's `$[[...]]`). This
module imports nothing from Azure, so the local stack stays fast to start.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

InputKind = Literal["uri_folder", "string", "integer", "number"]
Compute = Literal["cpu", "gpu"]
LakeFileSystem = Literal["raw", "conditioned", "scored"]

MODEL_NAME = "demand-forecast"
CHAMPION_URI = f"models:/{MODEL_NAME}@champion"


@dataclass(frozen=True)
class StepInput:
    kind: InputKind
    description: str
    default: str | int | float | None = None
    optional: bool = False


@dataclass(frozen=True)
class StepOutput:
    description: str
    # The data lake file system the output belongs in (AML: that datastore; local: that folder).
    lake: LakeFileSystem | None = None


@dataclass(frozen=True)
class Arg:
    """One token of a step's command line.

    `literal` is passed as is; `ref` names an input or output of the step, optionally followed by a
    path inside that folder (`suffix`, e.g. "/metrics.json"); `flag` + `ref` of an optional input is
    the pair `--flag value`, dropped when the input is unset.
    """

    literal: str | None = None
    ref: str | None = None
    suffix: str = ""
    flag: str | None = None


def lit(token: str) -> Arg:
    return Arg(literal=token)


def ref(name: str, suffix: str = "") -> Arg:
    return Arg(ref=name, suffix=suffix)


def opt(flag: str, name: str) -> Arg:
    return Arg(flag=flag, ref=name)


@dataclass(frozen=True)
class Step:
    name: str
    cli_step: str
    description: str
    inputs: dict[str, StepInput]
    outputs: dict[str, StepOutput]
    args: tuple[Arg, ...]
    compute: Compute = "cpu"

    def __post_init__(self) -> None:
        known = set(self.inputs) | set(self.outputs)
        for arg in self.args:
            if arg.ref is not None and arg.ref not in known:
                raise ValueError(f"step {self.name}: argument refers to unknown input/output {arg.ref!r}")
            if arg.flag is not None and (arg.ref not in self.inputs or not self.inputs[arg.ref].optional):
                raise ValueError(f"step {self.name}: optional flag {arg.flag} needs an optional input")


@dataclass(frozen=True)
class Binding:
    """Where a step input's value comes from: a pipeline input or an earlier step's output."""

    pipeline_input: str | None = None
    step: str | None = None
    output: str | None = None


def from_pipeline(name: str) -> Binding:
    return Binding(pipeline_input=name)


def from_step(step: str, output: str) -> Binding:
    return Binding(step=step, output=output)


@dataclass(frozen=True)
class Node:
    step: Step
    bindings: dict[str, Binding] = field(default_factory=dict)


@dataclass(frozen=True)
class Pipeline:
    name: str
    description: str
    inputs: dict[str, StepInput]
    nodes: tuple[Node, ...]
    # Pipeline outputs: name -> (node, output) promoted to the pipeline's interface.
    outputs: dict[str, tuple[str, str]]

    def __post_init__(self) -> None:
        seen: dict[str, Step] = {}
        for node in self.nodes:
            for input_name, binding in node.bindings.items():
                if input_name not in node.step.inputs:
                    raise ValueError(f"{self.name}.{node.step.name}: binds unknown input {input_name!r}")
                if binding.pipeline_input is not None and binding.pipeline_input not in self.inputs:
                    raise ValueError(
                        f"{self.name}.{node.step.name}: no pipeline input {binding.pipeline_input!r}"
                    )
                if binding.step is not None:
                    upstream = seen.get(binding.step)
                    # Steps are listed in execution order, so an edge must point backwards.
                    if upstream is None or binding.output not in upstream.outputs:
                        edge = f"{binding.step}.{binding.output}"
                        raise ValueError(f"{self.name}.{node.step.name}: {edge} is not an earlier output")
            for input_name, spec in node.step.inputs.items():
                if input_name not in node.bindings and spec.default is None and not spec.optional:
                    raise ValueError(
                        f"{self.name}.{node.step.name}: required input {input_name!r} is unbound"
                    )
            seen[node.step.name] = node.step
        for out_name, (step_name, output) in self.outputs.items():
            if step_name not in seen or output not in seen[step_name].outputs:
                raise ValueError(f"{self.name}: output {out_name!r} points at unknown {step_name}.{output}")

    def node(self, name: str) -> Node:
        for node in self.nodes:
            if node.step.name == name:
                return node
        raise KeyError(name)


_DATA = StepInput("uri_folder", "raw or conditioned data folder (the input contract's CSV files)")
_MODEL_DIR = StepInput("uri_folder", "a trained model folder (model_info.json and the segment models)")
_MODEL_URI = StepInput("string", "model folder or MLflow URI to score with", default=CHAMPION_URI)

VALIDATE = Step(
    name="validate",
    cli_step="validate",
    description="validate and condition the raw data; quarantine bad rows",
    inputs={"raw_data": StepInput("uri_folder", "raw data folder (the data lake's raw file system)")},
    outputs={
        "conditioned": StepOutput(
            "conditioned dataset, quarantine.csv, data_quality.json", lake="conditioned"
        )
    },
    args=(lit("validate"), lit("--data"), ref("raw_data"), lit("--out"), ref("conditioned")),
)

TRAIN = Step(
    name="train",
    cli_step="train",
    description="train the baseline, LASSO and embedding-network models of every segment",
    inputs={
        "data": _DATA,
        "seed": StepInput("integer", "random seed", default=42),
        "epochs": StepInput("integer", "training epochs of the neural network", optional=True),
    },
    outputs={"model": StepOutput("self-contained model folder")},
    args=(
        lit("train"),
        lit("--data"),
        ref("data"),
        lit("--out"),
        ref("model"),
        lit("--seed"),
        ref("seed"),
        opt("--epochs", "epochs"),
    ),
    compute="gpu",
)

EVALUATE = Step(
    name="evaluate",
    cli_step="evaluate",
    description="holdout metrics against the baseline and the current champion",
    inputs={
        "model": _MODEL_DIR,
        "data": _DATA,
        "champion": StepInput("string", "the champion to compare with", default=CHAMPION_URI),
    },
    outputs={"evaluation": StepOutput("metrics.json")},
    args=(
        lit("evaluate"),
        lit("--model"),
        ref("model"),
        lit("--data"),
        ref("data"),
        lit("--out"),
        ref("evaluation"),
        lit("--champion"),
        ref("champion"),
    ),
)

REGISTER = Step(
    name="register",
    cli_step="register",
    description="register the model; promote it to champion only if it beats the champion by the margin",
    inputs={
        "model": _MODEL_DIR,
        "evaluation": StepInput("uri_folder", "the evaluate step's output folder"),
        "margin": StepInput(
            "number",
            "relative MAPE improvement needed to promote (unset: the model's default)",
            optional=True,
        ),
    },
    outputs={"decision": StepOutput("decision.json")},
    args=(
        lit("register"),
        lit("--model"),
        ref("model"),
        lit("--metrics"),
        ref("evaluation", "/metrics.json"),
        lit("--out"),
        ref("decision"),
        opt("--margin", "margin"),
    ),
)

SCORE = Step(
    name="score",
    cli_step="score",
    description="batch forecasts for the next weeks",
    inputs={
        "model": _MODEL_URI,
        "data": _DATA,
        "as_of": StepInput("string", "score as of this week (YYYY-MM-DD)", optional=True),
        "horizon": StepInput("integer", "weeks to forecast", optional=True),
    },
    outputs={"scored": StepOutput("forecasts.csv", lake="scored")},
    args=(
        lit("score"),
        lit("--model"),
        ref("model"),
        lit("--data"),
        ref("data"),
        lit("--out"),
        ref("scored"),
        opt("--as-of", "as_of"),
        opt("--horizon", "horizon"),
    ),
)

MONITOR = Step(
    name="monitor",
    cli_step="monitor",
    description="recent accuracy, staleness and drift of the model in use",
    inputs={
        "model": _MODEL_URI,
        "data": _DATA,
        "scored": StepInput("uri_folder", "the score step's output folder"),
        "as_of": StepInput("string", "monitor as of this week (YYYY-MM-DD)", optional=True),
    },
    outputs={"monitoring": StepOutput("monitoring.json", lake="scored")},
    args=(
        lit("monitor"),
        lit("--model"),
        ref("model"),
        lit("--data"),
        ref("data"),
        lit("--out"),
        ref("monitoring"),
        lit("--forecasts"),
        ref("scored", "/forecasts.csv"),
        opt("--as-of", "as_of"),
    ),
)

_REPORTING_DATABASE = StepInput(
    "string",
    "the reporting database: sqlite:///<file> locally, mssql://<server>/<database> in Azure "
    "(the job's Entra identity signs in; no password); deploy sets it from the stack, unset: "
    "$REPORTING_DATABASE_URL",
    optional=True,
)
_RUN_ID = StepInput(
    "string", "the pipeline run the rows belong to (unset in AML: the pipeline job)", optional=True
)


def _publish_step(pipeline: str, folders: dict[str, str]) -> Step:
    """The last step of `pipeline`: its results into the reporting database (demand_forecast.publish)."""
    args: list[Arg] = [
        lit("publish"),
        lit("--pipeline"),
        lit(pipeline),
        opt("--database", "reporting_database"),
    ]
    for name in folders:
        args += [lit(f"--{name}"), ref(name)]
    args += [opt("--run-id", "run_id"), lit("--out"), ref("published")]
    return Step(
        name=f"publish_{pipeline}",
        cli_step="publish",
        description=f"write the {pipeline} run's results into the reporting tables Power BI reads",
        inputs={
            **{name: StepInput("uri_folder", description) for name, description in folders.items()},
            "reporting_database": _REPORTING_DATABASE,
            "run_id": _RUN_ID,
        },
        outputs={"published": StepOutput("publish.json: the rows written per table")},
        args=tuple(args),
    )


PUBLISH_TRAINING = _publish_step(
    "training",
    {
        "conditioned": "the validate step's output (data_quality.json)",
        "model": "the train step's output (its step record)",
        "evaluation": "the evaluate step's output (metrics.json, holdout_predictions.csv)",
        "decision": "the register step's output (decision.json)",
    },
)
PUBLISH_SCORING = _publish_step(
    "scoring",
    {
        "conditioned": "the validate step's output (data_quality.json)",
        "scored": "the score step's output (forecasts.csv)",
        "monitoring": "the monitor step's output (monitoring.json, backtest.csv)",
    },
)

STEPS: tuple[Step, ...] = (
    VALIDATE,
    TRAIN,
    EVALUATE,
    REGISTER,
    SCORE,
    MONITOR,
    PUBLISH_TRAINING,
    PUBLISH_SCORING,
)

TRAINING = Pipeline(
    name="training",
    description=(
        "weekly training: validate -> train -> evaluate -> register (with the promotion gate) -> publish"
    ),
    inputs={
        "raw_data": VALIDATE.inputs["raw_data"],
        "seed": TRAIN.inputs["seed"],
        "epochs": TRAIN.inputs["epochs"],
        "margin": REGISTER.inputs["margin"],
        "reporting_database": _REPORTING_DATABASE,
        "run_id": _RUN_ID,
    },
    nodes=(
        Node(VALIDATE, {"raw_data": from_pipeline("raw_data")}),
        Node(
            TRAIN,
            {
                "data": from_step("validate", "conditioned"),
                "seed": from_pipeline("seed"),
                "epochs": from_pipeline("epochs"),
            },
        ),
        Node(EVALUATE, {"model": from_step("train", "model"), "data": from_step("validate", "conditioned")}),
        Node(
            REGISTER,
            {
                "model": from_step("train", "model"),
                "evaluation": from_step("evaluate", "evaluation"),
                "margin": from_pipeline("margin"),
            },
        ),
        Node(
            PUBLISH_TRAINING,
            {
                "conditioned": from_step("validate", "conditioned"),
                "model": from_step("train", "model"),
                "evaluation": from_step("evaluate", "evaluation"),
                "decision": from_step("register", "decision"),
                "reporting_database": from_pipeline("reporting_database"),
                "run_id": from_pipeline("run_id"),
            },
        ),
    ),
    outputs={
        "model": ("train", "model"),
        "evaluation": ("evaluate", "evaluation"),
        "decision": ("register", "decision"),
    },
)

SCORING = Pipeline(
    name="scoring",
    description="weekly scoring: validate -> score with the champion -> monitor -> publish",
    inputs={
        "raw_data": VALIDATE.inputs["raw_data"],
        "model": SCORE.inputs["model"],
        "as_of": SCORE.inputs["as_of"],
        "horizon": SCORE.inputs["horizon"],
        "reporting_database": _REPORTING_DATABASE,
        "run_id": _RUN_ID,
    },
    nodes=(
        Node(VALIDATE, {"raw_data": from_pipeline("raw_data")}),
        Node(
            SCORE,
            {
                "model": from_pipeline("model"),
                "data": from_step("validate", "conditioned"),
                "as_of": from_pipeline("as_of"),
                "horizon": from_pipeline("horizon"),
            },
        ),
        Node(
            MONITOR,
            {
                "model": from_pipeline("model"),
                "data": from_step("validate", "conditioned"),
                "scored": from_step("score", "scored"),
                "as_of": from_pipeline("as_of"),
            },
        ),
        Node(
            PUBLISH_SCORING,
            {
                "conditioned": from_step("validate", "conditioned"),
                "scored": from_step("score", "scored"),
                "monitoring": from_step("monitor", "monitoring"),
                "reporting_database": from_pipeline("reporting_database"),
                "run_id": from_pipeline("run_id"),
            },
        ),
    ),
    outputs={
        "conditioned": ("validate", "conditioned"),
        "scored": ("score", "scored"),
        "monitoring": ("monitor", "monitoring"),
    },
)

PIPELINES: tuple[Pipeline, ...] = (TRAINING, SCORING)


def render_args(step: Step, values: dict[str, str | None]) -> list[str]:
    """The step's command line with concrete values (local executor). Unset optional flags drop out."""
    tokens: list[str] = []
    for arg in step.args:
        if arg.literal is not None:
            tokens.append(arg.literal)
            continue
        assert arg.ref is not None
        value = values.get(arg.ref)
        if arg.flag is not None:
            if value is not None:
                tokens.extend([arg.flag, value + arg.suffix])
            continue
        if value is None:
            raise ValueError(f"step {step.name}: no value for {arg.ref!r}")
        tokens.append(value + arg.suffix)
    return tokens


def aml_command(step: Step, entry: str = "python -m demand_forecast") -> str:
    """The step's command line in AML's placeholder syntax (`${{inputs.x}}`, `$[[--flag ...]]`)."""
    parts: list[str] = [entry]
    for arg in step.args:
        if arg.literal is not None:
            parts.append(arg.literal)
            continue
        assert arg.ref is not None
        side = "inputs" if arg.ref in step.inputs else "outputs"
        placeholder = "${{" + side + "." + arg.ref + "}}" + arg.suffix
        parts.append(f"$[[{arg.flag} {placeholder}]]" if arg.flag else placeholder)
    return " ".join(parts)
