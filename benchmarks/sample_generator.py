"""`scripts/generate_sample_data.py`, the synthetic panel generator, loaded as a module.

The benchmarks make panels of any size with it (`generate(...)`); it is a script, not part of either
package, so it is loaded from its file. One loader for every benchmark that needs it.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "generate_sample_data.py"


def load() -> ModuleType:
    """The generator module (registered as `generate_sample_data`, so its dataclasses resolve)."""
    loaded = sys.modules.get("generate_sample_data")
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location("generate_sample_data", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate_sample_data"] = module
    spec.loader.exec_module(module)
    return module
