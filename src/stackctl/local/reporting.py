"""The local stack's side of the reporting database.

Nothing here writes reporting rows itself: the pipelines' own `publish` step does (see
`demand_forecast.publish`), exactly as in Azure. When a pipeline stops before its publish step, the
local stack runs that same step with `--status failed`, so the failure reaches `v_pipeline_runs`
(in Azure, Data Factory's failed-run alert covers it). The dashboard reads the database back here.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import TypeVar

import pandas as pd
import sqlalchemy as sa
from demand_forecast.contracts import PUBLISHED_FILE, Contract, ContractError, Published

from stackctl.aml.graph import Pipeline
from stackctl.errors import StackctlError
from stackctl.local.executor import LocalRunner
from stackctl.local.layout import LocalLayout

C = TypeVar("C", bound=Contract)

# The publish step's flags that name an earlier step's output folder (the output names themselves).
_FOLDER_FLAGS = ("conditioned", "model", "evaluation", "decision", "scored", "monitoring")


def database_url(layout: LocalLayout) -> str:
    return f"sqlite:///{layout.reporting_db.as_posix()}"


def read_publish_summary(folder: Path) -> Published:
    """The publish step's `publish.json` in `folder`, through its contract."""
    return read_output(Published, folder / PUBLISHED_FILE)


def read_output(contract: type[C], path: Path) -> C:
    """A step's output file read through its contract; StackctlError when missing or malformed."""
    try:
        return contract.read(path)
    except ContractError as exc:
        raise StackctlError(
            f"a pipeline step did not write the file its contract promises: {exc}",
            where=str(path),
            fix="check the step's log next to it under .local/runs/; this is a bug in the model CLI",
        ) from exc


def publish_failed_run(
    runner: LocalRunner, pipeline: Pipeline, run_id: str, layout: LocalLayout, detail: str
) -> None:
    """Record a run that stopped early: the publish step with --status failed and the folders that exist.

    A failure to record it is reported, never raised over the step failure that caused it.
    """
    argv = [*runner.command, "publish", "--pipeline", pipeline.name, "--run-id", run_id]
    argv += ["--database", database_url(layout), "--status", "failed", "--detail", detail[:2000]]
    for node in pipeline.nodes:
        for output, spec in node.step.outputs.items():
            if output not in _FOLDER_FLAGS:
                continue
            folder = (
                runner.lake / spec.lake / run_id / f"{node.step.name}.{output}"
                if spec.lake is not None
                else runner.runs / run_id / node.step.name / output
            )
            if folder.is_dir():
                argv += [f"--{output}", str(folder)]
    out = runner.runs / run_id / "publish_failed"
    argv += ["--out", str(out)]
    env = {**os.environ, **runner.env}
    proc = subprocess.run(argv, cwd=runner.cwd, env=env, capture_output=True, text=True, check=False)
    log = runner.runs / run_id / "publish_failed.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text(f"$ {' '.join(argv)}\n{proc.stdout}\n{proc.stderr}", encoding="utf-8")


def read_view(engine: sa.Engine, view: str, order_by: str | None = None) -> pd.DataFrame:
    """One reporting view as a DataFrame (what a BI tool reads); empty when the view has no rows."""
    query = f"SELECT * FROM {view}"  # noqa: S608 - view names come from the schema, not from input
    if order_by:
        query += f" ORDER BY {order_by}"
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(query), conn)
