"""Release-pipeline smoke test of a deployed stack: the published pipelines run in the real workspace.

Marked `azure`: it needs the stack applied and a login (OIDC in CI). It targets the stack named by
FORECAST_STACK_ENV (dev or prod; the release pipeline sets it for the stage it runs in) and never
falls back to one. Steps: deploy (creates the environments; AML builds each image on its first job),
invoke the training endpoint and wait, then the scoring endpoint and wait, then download the scoring
job's `scored` output and check forecasts landed. Invocation and download follow
https://learn.microsoft.com/azure/machine-learning/how-to-use-batch-pipeline-deployments
(`batch_endpoints.invoke`, `jobs.stream`, `jobs.download(output_name=...)`).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

REPO = Path(__file__).resolve().parents[2]
ENV_VARIABLE = "FORECAST_STACK_ENV"


def target_env() -> str:
    """The stack under test, from the environment the test runs in; an error when unset."""
    env = os.environ.get(ENV_VARIABLE, "")
    if env not in ("dev", "prod"):
        pytest.fail(f"{ENV_VARIABLE}={env!r}: set it to the stack this stage deployed (dev or prod)")
    return env


def _run_endpoint(client: Any, endpoint: str, inputs: dict[str, Any], experiment: str) -> Any:
    job = client.batch_endpoints.invoke(endpoint_name=endpoint, inputs=inputs, experiment_name=experiment)
    client.jobs.stream(name=job.name)  # returns when the job ends; raises when it failed
    finished = client.jobs.get(name=job.name)
    assert finished.status == "Completed", f"{endpoint}: job {job.name} ended {finished.status}"
    return finished


@pytest.mark.azure
def test_training_then_scoring_endpoint_of_the_target_stack_lands_forecasts(tmp_path: Path) -> None:
    from azure.ai.ml import Input

    from stackctl.aml.azure import azure_credential, ml_client
    from stackctl.cloud_stack import deploy_assets, read_stack

    env = target_env()
    console = Console()
    stack = read_stack(env, REPO, console)
    assert stack.environment == env
    credential = azure_credential()
    client = ml_client(stack, credential)
    deploy_assets(stack, env, REPO, console, client=client, credential=credential, skip_sql=True)

    weekly = Input(type="uri_folder", path=f"azureml://datastores/{stack.aml.datastores.raw}/paths/weekly/")
    _run_endpoint(client, stack.endpoints.training.name, {"raw_data": weekly}, "smoke-training")
    scoring = _run_endpoint(client, stack.endpoints.scoring.name, {"raw_data": weekly}, "smoke-scoring")

    client.jobs.download(name=scoring.name, output_name="scored", download_path=str(tmp_path))
    forecasts = sorted(tmp_path.rglob("forecasts.csv"))
    assert forecasts, f"scoring job {scoring.name} wrote no forecasts.csv"
    with forecasts[0].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows, f"{forecasts[0]} is empty"
    assert all(float(row["forecast_units"]) >= 0 for row in rows)
