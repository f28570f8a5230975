"""The training and scoring pipelines, described once as data.

Two executors read this module and nothing else to learn the step list:

* `stackctl.aml.specs` turns each step into an azure-ai-ml command component and each pipeline into a
  `dsl.pipeline` pipeline component (published as a batch endpoint deployment);
* `stackctl.local.executor` runs the same steps in order as `python -m demand_forecast ...` subprocesses
  (a distributed step with several workers under `python -m torch.distributed.run`).

Each step's ports, flags and descriptions are the model's step contract (`demand_forecast.steps`),
read here rather than spelled a second time; the graph adds the wiring, defaults and compute.

A step's command line is a list of `Arg`s: a literal token, a reference to one of the step's inputs or
outputs, or an optional flag that is left out when its input has no value (AML's `$[[...]]`). This
module imports nothing from Azure, so the local stack stays fast to start.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from demand_forecast import steps
from demand_forecast.registry import champion_uri
from demand_forecast.steps import PortKind, StepSpec

InputKind = PortKind
Compute = Literal["cpu", "gpu"]
LakeFileSystem = Literal["raw", "conditioned", "scored"]

MODEL_NAME = "demand-forecast"
CHAMPION_URI = champion_uri(MODEL_NAME)
# Release validation trains, registers and scores under a registered model of its own, so a release
# never moves the production champion (issue 22 item 8); its first model becomes its own champion,
# so validation also runs in a fresh subscription where production has no champion yet.
VALIDATION_MODEL_NAME = f"{MODEL_NAME}-validation"


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
    # The cluster the step runs on; for a distributed step the stack's setting overrides it
    # (Terraform `aml.<step>_compute`, stackctl.aml.specs.distributed_run) and this is the default.
    compute: Compute = "cpu"
    # A distributed step runs as one torch.distributed job of several worker processes running the
    # same command line: in AML a PyTorch distribution over `instance_count` nodes with
    # `process_count_per_instance` processes each (sized by the stack); locally
    # `python -m torch.distributed.run --standalone --nproc-per-node N` (the model's
    # `distributed.workers`). With one process it is the plain command (docs/scale.md, "Engine decision").
    distributed: bool = False

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


def step_from_contract(
    spec: StepSpec,
    *,
    defaults: Mapping[str, str | int | float] | None = None,
    required: frozenset[str] = frozenset(),
    lake: Mapping[str, LakeFileSystem] | None = None,
    compute: Compute = "cpu",
    distributed: bool = False,
) -> Step:
    """The graph's `Step` for one step of the model's contract (`demand_forecast.steps`).

    Ports, kinds, descriptions and flags come from the contract; the graph adds only what is about
    the pipelines: an input's default value, inputs the pipeline always binds although the CLI may
    go without them (`required`), the data lake file system of an output, the compute and whether
    the step runs as a distributed job.
    An input is optional (an AML `$[[...]]` group) unless the CLI requires it, it has a default
    or it is listed in `required`."""
    defaults, lake = defaults or {}, lake or {}
    inputs: dict[str, StepInput] = {}
    outputs: dict[str, StepOutput] = {}
    args: list[Arg] = [lit(spec.name)]
    for option in spec.options:
        if option.port is None:
            continue
        if option.output:
            outputs[option.port] = StepOutput(option.help, lake=lake.get(option.port))
            args += [lit(option.flag), ref(option.port, option.file)]
            continue
        optional = not (option.required or option.port in defaults or option.port in required)
        inputs[option.port] = StepInput(
            option.kind, option.help, default=defaults.get(option.port), optional=optional
        )
        args += (
            [opt(option.flag, option.port)] if optional else [lit(option.flag), ref(option.port, option.file)]
        )
    return Step(
        name=spec.name,
        cli_step=spec.name,
        description=spec.help,
        inputs=inputs,
        outputs=outputs,
        args=tuple(args),
        compute=compute,
        distributed=distributed,
    )


VALIDATE = step_from_contract(steps.VALIDATE, lake={"conditioned": "conditioned"})
# train is distributed: its workers split the regions and train the shared network data-parallel
# (issue 20). Without a stack setting it keeps its place on the GPU cluster, as before.
TRAIN = step_from_contract(steps.TRAIN, defaults={"seed": 42}, compute="gpu", distributed=True)
EVALUATE = step_from_contract(steps.EVALUATE, defaults={"champion": CHAMPION_URI})
REGISTER = step_from_contract(steps.REGISTER, defaults={"registered_model": MODEL_NAME})
# score is distributed too: each worker scores its regions, rank 0 merges the parts into forecasts.csv
# (demand_forecast.partitioned_scoring); on one node of the CPU cluster (stack output
# `aml.distributed.score`).
SCORE = step_from_contract(
    steps.SCORE, defaults={"model": CHAMPION_URI}, lake={"scored": "scored"}, distributed=True
)
MONITOR = step_from_contract(
    steps.MONITOR,
    defaults={"model": CHAMPION_URI},
    required=frozenset({"scored"}),
    lake={"monitoring": "scored"},
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


# Every step before publish records its pipeline run as failed, if it fails, in the pipeline's own
# reporting database (demand_forecast.steps._REPORTING_DATABASE says why it is an input).
_RECORDS_FAILURES = {"reporting_database": from_pipeline("reporting_database")}


def _publish_step(pipeline: str, folders: dict[str, str]) -> Step:
    """The last step of `pipeline`: its results into the reporting database (demand_forecast.publish).

    One CLI step (`demand_forecast.steps.PUBLISH`) bound twice: `--pipeline` is fixed per pipeline and
    only that pipeline's folders are ports, so it is built here from the contract's flags rather than
    by `step_from_contract`."""
    spec = steps.PUBLISH
    port = {option.port: option for option in spec.options if option.port is not None}
    args: list[Arg] = [
        lit(spec.name),
        lit("--pipeline"),
        lit(pipeline),
        opt(port["reporting_database"].flag, "reporting_database"),
    ]
    for name in folders:
        args += [lit(port[name].flag), ref(name)]
    args += [opt(port["run_id"].flag, "run_id"), lit(port["published"].flag), ref("published")]
    return Step(
        name=f"publish_{pipeline}",
        cli_step=spec.name,
        description=f"write the {pipeline} run's results into the reporting tables Power BI reads",
        inputs={
            **{name: StepInput("uri_folder", description) for name, description in folders.items()},
            "reporting_database": _REPORTING_DATABASE,
            "run_id": _RUN_ID,
        },
        outputs={"published": StepOutput(port["published"].help)},
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
        "registered_model": REGISTER.inputs["registered_model"],
        "champion": EVALUATE.inputs["champion"],
        "reporting_database": _REPORTING_DATABASE,
        "run_id": _RUN_ID,
    },
    nodes=(
        Node(VALIDATE, {"raw_data": from_pipeline("raw_data"), **_RECORDS_FAILURES}),
        Node(
            TRAIN,
            {
                "data": from_step("validate", "conditioned"),
                "seed": from_pipeline("seed"),
                "epochs": from_pipeline("epochs"),
                **_RECORDS_FAILURES,
            },
        ),
        Node(
            EVALUATE,
            {
                "model": from_step("train", "model"),
                "data": from_step("validate", "conditioned"),
                "champion": from_pipeline("champion"),
                **_RECORDS_FAILURES,
            },
        ),
        Node(
            REGISTER,
            {
                "model": from_step("train", "model"),
                "evaluation": from_step("evaluate", "evaluation"),
                "margin": from_pipeline("margin"),
                "registered_model": from_pipeline("registered_model"),
                **_RECORDS_FAILURES,
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
        Node(VALIDATE, {"raw_data": from_pipeline("raw_data"), **_RECORDS_FAILURES}),
        Node(
            SCORE,
            {
                "model": from_pipeline("model"),
                "data": from_step("validate", "conditioned"),
                "as_of": from_pipeline("as_of"),
                "horizon": from_pipeline("horizon"),
                **_RECORDS_FAILURES,
            },
        ),
        Node(
            MONITOR,
            {
                "model": from_pipeline("model"),
                "data": from_step("validate", "conditioned"),
                "scored": from_step("score", "scored"),
                "as_of": from_pipeline("as_of"),
                **_RECORDS_FAILURES,
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
