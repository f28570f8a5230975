"""AutoETS and AutoTheta one week ahead over a holdout, run inside `build/bench-peers` (statsforecast
pins pandas < 3; the project runs pandas 3), called by bench_accuracy.py.

    python statsforecast_peers.py IN.parquet OUT.parquet HOLDOUT_WEEKS

IN: unique_id, ds (weekly dates, no gaps: the caller fills them), y (log1p units). Each model is
fitted once per series on the weeks before the holdout and run forward over the holdout without
refitting (`cross_validation(h=1, refit=False)`), so the forecast of week w uses y strictly before w.
OUT: unique_id, ds, AutoETS, AutoTheta (log1p units).
"""

from __future__ import annotations

import sys

import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import AutoETS, AutoTheta, Naive


def main(argv: list[str]) -> int:
    source, target, holdout_weeks = argv[0], argv[1], int(argv[2])
    frame = pd.read_parquet(source)
    models = [AutoETS(season_length=52), AutoTheta(season_length=52)]
    engine = StatsForecast(models=models, freq="7D", n_jobs=1, fallback_model=Naive())
    result = engine.cross_validation(df=frame, h=1, n_windows=holdout_weeks, step_size=1, refit=False)
    result.reset_index()[["unique_id", "ds", "AutoETS", "AutoTheta"]].to_parquet(target)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
