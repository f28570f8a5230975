"""Small functions: none in src/ longer than scripts/code_size.py's limit without a written reason."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[2]


def _code_size() -> ModuleType:
    spec = importlib.util.spec_from_file_location("code_size", ROOT / "scripts" / "code_size.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_no_function_in_src_runs_past_the_limit_without_a_reason() -> None:
    code_size = _code_size()
    assert [f"{f.key} ({f.lines} lines)" for f in code_size.violations()] == []


def test_every_pending_exception_still_names_a_long_function() -> None:
    code_size = _code_size()
    long_ones = {f.key for f in code_size.functions() if f.lines > code_size.MAX_LINES}
    assert set(code_size.PENDING) <= long_ones, "remove PENDING entries of functions that are short now"


def test_the_rule_fails_on_a_copy_with_a_long_function(tmp_path: Path) -> None:
    code_size = _code_size()
    shutil.copytree(
        ROOT / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    body = "".join(f"    x{i} = {i}\n" for i in range(code_size.MAX_LINES))
    (tmp_path / "src" / "stackctl" / "long.py").write_text(f"def long():\n{body}", encoding="utf-8")
    assert [f.key for f in code_size.violations(tmp_path)] == ["src/stackctl/long.py:long"]
    reason = f'    """{code_size.REASON_MARK} it is a table."""\n'
    (tmp_path / "src" / "stackctl" / "long.py").write_text(f"def long():\n{reason}{body}", encoding="utf-8")
    assert code_size.violations(tmp_path) == []
