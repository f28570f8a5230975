"""Review-23 B4 (kind: *an `azure` test that cannot even start*): the release pipeline's smoke and
validation steps run only the `azure`-marked tests, which every offline run skips, so an import
inside one of them (they import inside the test: collection must stay light) can point at a deleted
module or name for weeks unnoticed. Offline, each such import must resolve: the module exists
(`importlib.util.find_spec`, with the test's own folder on the path as pytest's rootdir-relative
`prepend` import mode puts it) and, for this repository's own modules, the imported names exist."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
OUR_PACKAGES = ("stackctl", "demand_forecast")


def _is_azure_mark(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute) and node.attr == "azure" and ast.unparse(node).endswith("mark.azure")
    )


def azure_imports(source: str) -> list[tuple[int, str, list[str]]]:
    """(line, module, names) of each import inside an `azure`-marked test (a marked function, or any
    function of a module whose `pytestmark` includes the mark)."""
    tree = ast.parse(source)
    module_marked = any(
        isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)
        and any(_is_azure_mark(n) for n in ast.walk(node.value) if isinstance(n, ast.expr))
        for node in tree.body
    )
    found = []
    for function in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
        if not (module_marked or any(_is_azure_mark(d) for d in function.decorator_list)):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import):
                found += [(node.lineno, alias.name, []) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.append((node.lineno, node.module, [alias.name for alias in node.names]))
    return found


def unresolved(source: str, test_dir: Path, where: str) -> list[str]:
    """The imports of `azure` tests in `source` that would fail: `where:line module[.name]`."""
    problems = []
    sys.path.insert(0, str(test_dir))
    try:
        for line, module, names in azure_imports(source):
            try:
                spec = importlib.util.find_spec(module)
            except ModuleNotFoundError:  # a missing parent package
                spec = None
            if spec is None:
                problems.append(f"{where}:{line} {module}: no such module")
                continue
            local = spec.origin is not None and Path(spec.origin).is_relative_to(REPO)
            if names and (module.split(".")[0] in OUR_PACKAGES or local):
                imported = importlib.import_module(module)
                problems += [
                    f"{where}:{line} {module}.{n}: no such name" for n in names if not hasattr(imported, n)
                ]
    finally:
        sys.path.remove(str(test_dir))
    return problems


def test_every_azure_test_import_resolves() -> None:
    problems: list[str] = []
    checked = 0
    for path in sorted((REPO / "tests").rglob("test_*.py")):
        source = path.read_text(encoding="utf-8")
        if "azure" not in source:
            continue
        checked += len(azure_imports(source))
        problems += unresolved(source, path.parent, path.relative_to(REPO).as_posix())
    assert checked >= 5, "found almost no imports in azure tests: has the mark's spelling changed?"
    assert problems == [], "azure tests the release pipeline runs would fail to start: " + "; ".join(problems)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # the review's case: a helper module deleted while two tests still import it
        (
            "import pytest\n@pytest.mark.azure\ndef test_x():\n    from test_aml_smoke import target_env\n",
            "test_aml_smoke: no such module",
        ),
        (
            "import pytest\n@pytest.mark.azure\ndef test_x():\n    import stackctl.aml.no_such_module\n",
            "stackctl.aml.no_such_module: no such module",
        ),
        (
            "import pytest\n@pytest.mark.azure\ndef test_x():\n"
            "    from stackctl.cloud_stack import read_stackk\n",
            "stackctl.cloud_stack.read_stackk: no such name",
        ),
        (
            "import pytest\npytestmark = [pytest.mark.azure]\ndef test_x():\n"
            "    from azure_target import no_such_helper\n",
            "azure_target.no_such_helper: no such name",
        ),
    ],
    ids=["deleted-helper-module", "deleted-package-module", "renamed-function", "module-level-mark"],
)
def test_a_broken_import_in_an_azure_test_is_found(source: str, expected: str) -> None:
    problems = unresolved(source, REPO / "tests" / "stackctl", "case.py")
    assert any(expected in problem for problem in problems), problems


def test_an_unmarked_test_is_not_checked() -> None:
    source = "def test_x():\n    from test_aml_smoke import target_env\n"
    assert azure_imports(source) == []
