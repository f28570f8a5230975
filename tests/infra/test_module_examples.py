"""Each module ships a runnable example (`modules/<name>/examples/<example>/`, as Azure Verified Modules
and terraform-aws-modules do) that `make validate` checks like the stacks' roots, and its README's usage
block is generated from it (`make fmt` writes it, the docs check fails when it is out of date)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from stackctl.checks.docs import USAGE_BEGIN, check_docs, render_usage, write_docs
from stackctl.checks.hclmodel import read_dir
from stackctl.checks.layout import example_dirs, module_dirs, terraform_dirs
from stackctl.checks.loader import terraform_load
from stackctl.checks.references import check_references
from stackctl.checks.version_pins import check_version_pins

REPO = Path(__file__).resolve().parents[2]


def _copy(tmp_path: Path) -> Path:
    """A scratch root holding a copy of modules/ (all the docs and reference checks read)."""
    root = tmp_path / "root"
    shutil.copytree(REPO / "modules", root / "modules", ignore=shutil.ignore_patterns(".terraform*"))
    return root


def test_every_module_has_an_example_that_calls_it_as_its_users_do() -> None:
    modules = module_dirs(REPO)
    assert len(modules) >= 11
    for module in modules:
        examples = example_dirs(REPO, module)
        assert examples, f"{module.name} has no examples/<name>/"
        for example in examples:
            calls = read_dir(example).module_calls.values()
            assert any((example / call.source).resolve() == module.resolve() for call in calls), example
    assert set(example_dirs(REPO)) <= set(terraform_dirs(REPO))  # validated like the roots


def test_the_examples_pass_the_reference_and_pin_checks_and_the_readmes_show_them() -> None:
    examples = example_dirs(REPO)
    assert check_references(REPO, examples) == []
    assert [f for f in check_version_pins(REPO) if "/examples/" in f.location] == []
    report = check_docs(REPO)
    assert report.findings == [], [f.render() for f in report.findings]
    for module in module_dirs(REPO):
        text = (module / "README.md").read_text(encoding="utf-8")
        assert render_usage(module) in text
        assert text.index(USAGE_BEGIN) < text.index("<!-- BEGIN_TF_DOCS -->")


def test_a_stale_or_missing_usage_block_fails_the_docs_check_and_make_fmt_writes_it(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    example = root / "modules" / "key_vault" / "examples" / "basic" / "main.tf"
    example.write_text(example.read_text(encoding="utf-8").replace("kv-fcst-example-x01", "kv-other-x02"))
    readme = root / "modules" / "sql" / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(USAGE_BEGIN), text.index("<!-- END_EXAMPLES -->") + len("<!-- END_EXAMPLES -->")
    readme.write_text(text[:start] + text[end:], encoding="utf-8")
    shutil.rmtree(root / "modules" / "network" / "examples")
    messages = {f.location: f.message for f in check_docs(root).findings}
    assert messages["modules/key_vault/README.md"] == "usage block differs from examples/*/main.tf"
    assert messages["modules/sql/README.md"].startswith(f"no {USAGE_BEGIN}")
    assert messages["modules/network"].startswith("module has no runnable example")
    written = write_docs(root)
    assert {p.parent.name for p in written} == {"key_vault", "sql"}
    assert "kv-other-x02" in (root / "modules" / "key_vault" / "README.md").read_text(encoding="utf-8")
    assert [f.location for f in check_docs(root).findings] == ["modules/network"]


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda t: t.replace("  tenant_id ", "  tenant ", 1), "tenant"),  # an argument the module lacks
        (
            lambda t: t.replace('  name                = "kv-fcst-example-x01"\n', ""),
            "name",
        ),  # a required one
        (
            lambda t: t.replace('source = "../.."', 'source = "../../../key_vaults"'),
            "key_vaults",
        ),  # no module
    ],
)
def test_an_example_that_misuses_its_module_is_a_finding(tmp_path: Path, edit: object, expected: str) -> None:
    root = _copy(tmp_path)
    example = root / "modules" / "key_vault" / "examples" / "basic"
    main = example / "main.tf"
    assert callable(edit)
    changed = edit(main.read_text(encoding="utf-8"))
    assert changed != main.read_text(encoding="utf-8")
    main.write_text(changed, encoding="utf-8")
    findings = check_references(root, [example])
    assert any(expected in f.message for f in findings), [f.render() for f in findings]


@pytest.mark.slow
def test_the_provider_free_example_is_planned_by_terraform_offline(tmp_path: Path) -> None:
    """modules/naming needs no provider, so its example is init'ed, validated and planned for real;
    a broken copy (an argument the module has not) fails there."""
    example = REPO / "modules" / "naming" / "examples" / "basic"
    notes: list[str] = []
    assert terraform_load(REPO, directories=[example], notes=notes) == []
    assert not any("examples/basic" in note for note in notes), notes
    root = _copy(tmp_path)
    broken = root / "modules" / "naming" / "examples" / "basic"
    main = broken / "main.tf"
    main.write_text(
        main.read_text(encoding="utf-8").replace('  workload       = "fcst"', '  workloads = "fcst"')
    )
    findings = terraform_load(root, directories=[broken])
    assert any("workload" in f.message for f in findings), [f.render() for f in findings]
