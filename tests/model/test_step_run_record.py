"""Every step writes its step_run.json without importing the publish step (issue 27's hot path:
publish's SQLAlchemy and reporting schema cost each step ~0.23 CPU-s for one small JSON file)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from sample_cut import restrict

PROBE = """
import json, sys
from demand_forecast.cli import main
status = main(["validate", "--data", sys.argv[1], "--out", sys.argv[2]])
print(json.dumps({"status": status, "publish": "demand_forecast.publish" in sys.modules}))
"""


def test_a_step_records_its_run_without_importing_publish(tmp_path: Path) -> None:
    data = restrict(tmp_path / "raw", regions=("R000",), stores=2)
    out = tmp_path / "conditioned"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, str(data), str(out)], capture_output=True, text=True, check=True
    )
    probe = json.loads(result.stdout.strip().splitlines()[-1])
    assert probe == {"status": 0, "publish": False}, result.stderr[-2000:]
    record = json.loads((out / "step_run.json").read_text())
    assert record["step"] == "validate"
    assert record["outcome"] == "succeeded"
    assert record["duration_seconds"] > 0
    assert record["started_at"].endswith("+00:00")
