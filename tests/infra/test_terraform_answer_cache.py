"""Terraform's answers in the config check are kept by content, like the parse (test_parse_cache.py).

The loader (`terraform init`/`validate`/`plan` of a directory) and the stand-in evaluation ask
Terraform once per content: a copy of the tree asks it again only in the directories whose files,
or the files they name (module sources, `file()` paths), changed. Each test breaks what a cached
answer depends on and expects the finding, so a stale answer fails here.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from stackctl.checks import hclmodel
from stackctl.checks.evaluation import check_evaluation
from stackctl.checks.loader import terraform_load
from stackctl.tools import Terraform, ToolResult

CALLER = (
    'module "child" {\n  source = "../child"\n  name   = "qa"\n}\n\n'
    'output "id" {\n  value = module.child.id\n}\n'
)
CHILD = 'variable "name" {\n  type = string\n}\n\noutput "id" {\n  value = "rg-${var.name}"\n}\n'
BROKEN_CHILD = CHILD.replace("var.name", "var.nmae")


@pytest.fixture
def runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[tuple[str, ...]]:
    """Every Terraform command the test ran, with an answer cache of the test's own."""
    monkeypatch.setenv(hclmodel.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(hclmodel, "_PARSED", {})
    seen: list[tuple[str, ...]] = []
    real = Terraform.run

    def counting(self: Terraform, args: Sequence[str], cwd: Path, **kwargs: object) -> ToolResult:
        seen.append(tuple(args[:1]))
        return real(self, args, cwd, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Terraform, "run", counting)
    return seen


def _tree(base: Path, child: str = CHILD) -> tuple[Path, Path, Path]:
    """A root with modules/caller calling modules/child: (root, caller, child)."""
    caller, child_dir = base / "modules" / "caller", base / "modules" / "child"
    caller.mkdir(parents=True)
    child_dir.mkdir(parents=True)
    (caller / "main.tf").write_text(CALLER)
    (child_dir / "main.tf").write_text(child)
    return base, caller, child_dir


def test_a_copy_asks_terraform_nothing_and_a_changed_module_asks_again(
    runs: list[tuple[str, ...]], tmp_path: Path
) -> None:
    root, caller, child = _tree(tmp_path / "a")
    assert terraform_load(root, directories=[caller, child]) == []
    assert runs, "the first load must run Terraform"
    runs.clear()
    copy, copy_caller, copy_child = _tree(tmp_path / "b")
    assert terraform_load(copy, directories=[copy_caller, copy_child]) == []
    assert runs == []
    # The caller's own files are unchanged: only the module it names broke. Its answer is asked again.
    (copy_child / "main.tf").write_text(BROKEN_CHILD)
    found = terraform_load(copy, directories=[copy_caller])
    assert runs
    assert any("nmae" in f.message and f.location.startswith("modules/child/main.tf") for f in found), found


def test_the_stand_in_evaluation_is_asked_again_only_where_a_file_changed(
    runs: list[tuple[str, ...]], tmp_path: Path
) -> None:
    root, caller, child = _tree(tmp_path / "a")
    assert check_evaluation(root, [caller, child]) == []
    assert len(runs) == 2
    runs.clear()
    copy, copy_caller, copy_child = _tree(tmp_path / "b", child=BROKEN_CHILD)
    found = check_evaluation(copy, [copy_caller, copy_child])
    assert runs == [("validate",)]
    assert [f.location for f in found] == ["modules/child/main.tf:6"], found


def test_a_terraform_whose_run_is_replaced_is_never_answered_from_the_cache(
    runs: list[tuple[str, ...]], tmp_path: Path
) -> None:
    class Refusing(Terraform):
        def run(self, args: Sequence[str], cwd: Path, **kwargs: object) -> ToolResult:
            return ToolResult(0, '{"diagnostics": [{"severity": "error", "summary": "refused"}]}', "")

    root, caller, _ = _tree(tmp_path / "a")
    assert check_evaluation(root, [caller]) == []
    (finding,) = check_evaluation(root, [caller], Refusing())
    assert "refused" in finding.message
