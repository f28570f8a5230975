"""The `demand-forecast` console entry point (placeholder until the model steps land)."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    print("demand-forecast: the model steps are not implemented yet", file=sys.stderr)
    return 3
