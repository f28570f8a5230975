"""Model validation CD: training, then scoring, on the deployed stack; each waited for; a failure stops
the release. Offline with a stand-in for MLClient's batch_endpoints/jobs; against Azure (marked
`azure`) on the stack that FORECAST_STACK_ENV names, as the release pipeline runs it."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stackctl.aml.model_validation import run_model_validation, wait_for_job
from stackctl.aml.stack_output import parse_stack_output
from stackctl.errors import StackctlError

DATA = Path(__file__).parent / "data"
REPO = Path(__file__).resolve().parents[2]


def stack() -> Any:
    outputs = json.loads((DATA / "stack_output_dev.json").read_text(encoding="utf-8"))
    return parse_stack_output(outputs, where="stack_output_dev.json")


@dataclass
class _Job:
    name: str
    status: str = "Queued"


@dataclass
class FakeAml:
    """batch_endpoints.invoke starts a job; jobs.get walks it through `statuses[endpoint]`."""

    statuses: dict[str, list[str]]
    invoked: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    polls: dict[str, list[str]] = field(default_factory=dict)

    @property
    def batch_endpoints(self) -> FakeAml:
        return self

    @property
    def jobs(self) -> FakeAml:
        return self

    def invoke(self, *, endpoint_name: str, inputs: dict[str, Any], experiment_name: str) -> _Job:
        self.invoked.append((endpoint_name, inputs))
        name = f"job-{endpoint_name}"
        self.polls[name] = list(self.statuses[endpoint_name])
        return _Job(name)

    def get(self, name: str) -> _Job:
        queue = self.polls[name]
        return _Job(name, queue.pop(0) if len(queue) > 1 else queue[0])


def _no_wait(seconds: float) -> None:
    return None


def test_training_then_scoring_each_waited_for() -> None:
    target = stack()
    training, scoring = target.endpoints.training.name, target.endpoints.scoring.name
    client = FakeAml({training: ["Queued", "Running", "Completed"], scoring: ["Running", "Completed"]})
    log: list[str] = []
    runs = run_model_validation(client, target, log=log.append, sleep=_no_wait)
    assert [endpoint for endpoint, _ in client.invoked] == [training, scoring]
    assert [run.status for run in runs] == ["Completed", "Completed"]
    raw = client.invoked[0][1]["raw_data"]
    assert raw.path == f"azureml://datastores/{target.aml.datastores.raw}/paths/weekly/"
    assert "training: Running" in log
    assert log.index("training: Completed") < next(
        i for i, line in enumerate(log) if line.startswith("scoring")
    )


def test_a_failed_training_stops_the_release_before_scoring() -> None:
    target = stack()
    training, scoring = target.endpoints.training.name, target.endpoints.scoring.name
    client = FakeAml({training: ["Running", "Failed"], scoring: ["Completed"]})
    with pytest.raises(StackctlError, match=r"the training pipeline job job-.* ended Failed") as caught:
        run_model_validation(client, target, log=lambda line: None, sleep=_no_wait)
    assert [endpoint for endpoint, _ in client.invoked] == [training]
    assert "release stops here" in str(caught.value.fix)


def test_a_failed_scoring_fails_the_release() -> None:
    target = stack()
    client = FakeAml(
        {target.endpoints.training.name: ["Completed"], target.endpoints.scoring.name: ["Canceled"]}
    )
    with pytest.raises(StackctlError, match=r"scoring pipeline .* ended Canceled"):
        run_model_validation(client, target, log=lambda line: None, sleep=_no_wait)


def test_a_job_that_never_ends_times_out_with_its_last_status() -> None:
    ticks = iter(range(0, 10_000, 60))
    client = FakeAml({"e": ["Running"]})
    client.invoke(endpoint_name="e", inputs={}, experiment_name="x")
    with pytest.raises(StackctlError, match=r"did not finish within 5 minutes \(last status Running\)"):
        wait_for_job(client, "job-e", timeout_s=300, sleep=_no_wait, clock=lambda: float(next(ticks)))


def target_environment() -> str:
    """The stack the release job deployed: FORECAST_STACK_ENV, set by the pipeline per environment.
    No default: a smoke test of the wrong stack would pass for the wrong reason."""
    env = os.environ.get("FORECAST_STACK_ENV")
    if env not in ("dev", "prod"):
        pytest.fail(f"FORECAST_STACK_ENV must name the deployed stack (dev or prod), got {env!r}")
    return env


@pytest.mark.azure
def test_model_validation_trains_then_scores_on_the_deployed_stack() -> None:
    """Release pipeline, after apply: the published pipelines run on the target stack's own data."""
    from rich.console import Console

    from stackctl.aml.azure import azure_credential, ml_client
    from stackctl.cloud_stack import read_stack

    env = target_environment()
    stack_output = read_stack(env, REPO, Console())
    client = ml_client(stack_output, azure_credential())
    runs = run_model_validation(client, stack_output)
    assert [run.status for run in runs] == ["Completed", "Completed"]
