"""Collecting the suite imports no heavy package: `pytest -k one_test` stays a few seconds.

A test module that needs torch, azure-ai-ml, MLflow, scikit-learn, plotly or checkov imports it in
the test or fixture that uses it; importing it at module level makes every run of any one test pay
for it (issue 27: 22 s of collection). The collection runs in a subprocess with a plugin that
attributes each heavy package to the file whose import pulled it in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


@pytest.mark.slow
def test_collecting_the_suite_imports_no_heavy_package(tmp_path: Path) -> None:
    out = tmp_path / "imports.tsv"
    env = {
        **os.environ,
        "COLLECTION_IMPORTS_OUT": str(out),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--collect-only",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:xdist",
            "-p",
            "collection_imports_plugin",
            "-k",
            "no_test_has_this_name",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.exists(), result.stdout[-2000:] + result.stderr[-2000:]
    offenders = out.read_text(encoding="utf-8").splitlines()
    assert offenders == [], "imported at collection (move the import into the test):\n" + "\n".join(offenders)
