"""The local stack's side of the reporting database.

Nothing here writes reporting rows itself: the pipelines' own `publish` step does (see
`demand_forecast.publish`), exactly as in Azure. When a pipeline stops before its publish step, the
failing step records the run as failed (`demand_forecast.publish.record_failed_step`), in both
executors, so the failure reaches `v_pipeline_runs`. The dashboard reads the database back here.
"""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import pandas as pd
import sqlalchemy as sa
from demand_forecast.contracts import PUBLISHED_FILE, Contract, ContractError, Published

from stackctl.errors import StackctlError
from stackctl.local.layout import LocalLayout

C = TypeVar("C", bound=Contract)


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


def read_view(engine: sa.Engine, view: str, order_by: str | None = None) -> pd.DataFrame:
    """One reporting view as a DataFrame (what a BI tool reads); empty when the view has no rows."""
    query = f"SELECT * FROM {view}"  # noqa: S608 - view names come from the schema, not from input
    if order_by:
        query += f" ORDER BY {order_by}"
    with engine.connect() as conn:
        return pd.read_sql_query(sa.text(query), conn)
