"""A registered bundle in memory: the bundle's own model plus the champion models its routing table
names, each series answered by the model of its segment (docs/scale.md, "Per-segment promotion").

`RoutedModel` is a `TrainedModel` (its own model's parts: feature spec, series, drift reference, info)
so every reader of a model keeps working; `answer` is where forecasts and backtests are routed: each
model produces its rows with its own feature spec and history (models of different weeks may differ
in spec), then every row takes the answer of the model its segment routes to, the segment being the
bundle's own model's label (the one the routing was decided on). A row the routed model did not
produce keeps the bundle's own model's answer and names that model, so forecasts stay complete and
every row names the model version that made it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from demand_forecast.contracts import ROUTING_FILE, Routing
from demand_forecast.routing import MEMBERS_DIR
from demand_forecast.training.model import TrainedModel

ROW_KEYS = ["week_start", "store_id", "product_id"]


@dataclass
class RoutedModel(TrainedModel):
    """The bundle's own model (the fields of `TrainedModel`), `members` (model version -> model, its
    own version included) and the `routing` table."""

    members: dict[str, TrainedModel]
    routing: Routing

    @staticmethod
    def is_bundle(folder: Path) -> bool:
        """Whether `folder` is a registered bundle (it holds `routing.json`), not a plain model folder."""
        return (folder / ROUTING_FILE).is_file()

    @classmethod
    def load_bundle(cls, folder: Path, read: Callable[[Path], TrainedModel]) -> RoutedModel:
        """The bundle in `folder` (its completeness already verified); `read` reads each member folder
        (`loading.read_model_folder`: verified against its own marker)."""
        own = TrainedModel.load(folder)
        routing = Routing.read(folder / ROUTING_FILE)
        version = str(own.info["model_version"])
        members = {v: read(folder / MEMBERS_DIR / v) for v in sorted(routing.versions() - {version})}
        members[version] = own
        values = {f.name: getattr(own, f.name) for f in fields(TrainedModel)}
        return cls(**values, members=members, routing=routing)

    def version_of(self, segments: pd.Series) -> npt.NDArray[np.object_]:
        """The model version that answers each segment (the bundle's own for an unlisted segment)."""
        own = str(self.info["model_version"])
        table = {segment: route.model_version for segment, route in self.routing.segments.items()}
        return np.asarray([table.get(str(s), own) for s in segments], dtype=object)

    def answer(
        self, produce: Callable[[TrainedModel], pd.DataFrame], columns: Sequence[str]
    ) -> tuple[pd.DataFrame, npt.NDArray[np.object_]]:
        """`produce(model)` of the bundle's own model with `columns` of each routed row replaced by
        the routed model's, matched on week, store and product; and the version that made each row.

        `produce` returns rows with ROW_KEYS and `segment` (a forecast or backtest frame)."""
        own = str(self.info["model_version"])
        out = produce(self.members[own]).reset_index(drop=True)
        routed = self.version_of(out["segment"])
        made_by = np.full(len(out), own, dtype=object)
        for version in sorted(set(routed) - {own}):
            chosen = np.flatnonzero(routed == version)
            theirs = produce(self.members[version]).drop_duplicates(ROW_KEYS).set_index(ROW_KEYS)
            found = theirs[list(columns)].reindex(pd.MultiIndex.from_frame(out.loc[chosen, ROW_KEYS]))
            present = found.notna().all(axis=1).to_numpy()
            rows = chosen[present]
            for column in columns:
                out.loc[rows, column] = found[column].to_numpy()[present]
            made_by[rows] = version
        return out, made_by
