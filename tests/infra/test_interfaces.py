"""The modules' AVM interfaces: one template, rendered copies, only what callers pass, fields
documented (stackctl.checks.interfaces; modules/interfaces/README.md says why copies, not a child
module)."""

from __future__ import annotations

import re
from pathlib import Path

from infra_helpers import Edit

from stackctl.checks.docs import check_docs
from stackctl.checks.hclmodel import read_dir
from stackctl.checks.interfaces import check_interfaces, load_spec, write_interfaces

# The AVM interface variables a module may declare (https://azure.github.io/Azure-Verified-Modules/specs/tf/interfaces/).
AVM_INTERFACES = (
    "lock",
    "diagnostic_settings",
    "private_endpoints",
    "role_assignments",
    "managed_identities",
    "customer_managed_key",
)


def test_every_module_copy_is_its_rendering(root: Path) -> None:
    assert check_interfaces(root) == []
    spec = load_spec(root)
    # The six modules whose main resource takes diagnostics or private endpoints; no module locks
    # its resource (the stack's locks are in infra/main.locks.tf, ordered after everything under them).
    assert sorted(spec) == [
        "aml_workspace",
        "data_factory",
        "data_lake",
        "key_vault",
        "network",
        "sql",
    ]
    for module, entry in spec.items():
        text = (root / "modules" / module / "main.interfaces.tf").read_text(encoding="utf-8")
        assert text.startswith("# Generated from modules/interfaces/main.interfaces.tf.j2")
        assert f"{entry.resource}.id" in text


def test_a_hand_edited_copy_is_caught_and_make_fmt_restores_it(tree: Path, edit: Edit) -> None:
    edit(
        "modules/key_vault/main.interfaces.tf",
        "category_group = enabled_log.value",
        'category = "AuditEvent"',
    )
    (finding,) = check_interfaces(tree)
    assert finding.location == "modules/key_vault/main.interfaces.tf"
    assert finding.message == "differs from what modules/interfaces/ renders for it"
    # validate reports it under the docs check (generated text is current).
    assert [f.location for f in check_docs(tree).findings] == ["modules/key_vault/main.interfaces.tf"]
    assert write_interfaces(tree) == [tree / "modules" / "key_vault" / "main.interfaces.tf"]
    assert check_interfaces(tree) == []


def test_a_drifted_interface_variable_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        "modules/sql/variables.tf",
        'log_groups            = optional(set(string), ["allLogs"])',
        "log_groups = optional(set(string), [])",
    )
    (finding,) = check_interfaces(tree)
    assert finding.location == "modules/sql/variables.tf"


def test_the_template_reaches_every_module(tree: Path, edit: Edit) -> None:
    edit(
        "modules/interfaces/main.interfaces.tf.j2",
        '  name                           = coalesce(each.value.name, "diag-${var.name}")',
        '  name                           = coalesce(each.value.name, "diagnostics-${var.name}")',
    )
    locations = {f.location for f in check_interfaces(tree)}
    with_diagnostics = {
        m for m, entry in load_spec(tree).items() if "diagnostic_settings" in entry.interfaces
    }
    assert locations == {f"modules/{m}/main.interfaces.tf" for m in with_diagnostics}
    write_interfaces(tree)
    text = (tree / "modules" / "sql" / "main.interfaces.tf").read_text(encoding="utf-8")
    assert '"diagnostics-${var.name}"' in text


def test_an_interface_declared_outside_the_template_is_caught(tree: Path) -> None:
    variables = tree / "modules" / "aml_compute" / "variables.tf"
    with variables.open("a", encoding="utf-8") as handle:
        handle.write('\nvariable "lock" {\n  type    = object({ kind = string })\n  default = null\n}\n')
    (finding,) = check_interfaces(tree)
    assert finding.location == "modules/aml_compute"
    assert (
        finding.message
        == "declares AVM interfaces (lock) but has no entry in modules/interfaces/modules.yaml"
    )


def _passed_inputs(root: Path) -> dict[str, set[str]]:
    """module directory name => every input some caller (infra/, envs/bootstrap) passes it."""
    passed: dict[str, set[str]] = {}
    for caller in (root / "infra", root / "envs" / "bootstrap"):
        for call in read_dir(caller).module_calls.values():
            child = (caller / call.source).resolve()
            passed.setdefault(child.name, set()).update(call.arguments)
    return passed


def test_no_module_declares_an_interface_no_caller_passes(root: Path) -> None:
    passed = _passed_inputs(root)
    unused = [
        f"modules/{directory.name}: var.{name}"
        for directory in sorted((root / "modules").iterdir())
        if any(directory.glob("*.tf"))
        for name in AVM_INTERFACES
        if name in read_dir(directory).variables and name not in passed.get(directory.name, set())
    ]
    assert unused == [], "remove these interface variables (and what they drive), or pass them from infra/"


def test_role_assignments_have_one_home(root: Path) -> None:
    # infra/main.rbac.tf grants every role (the Power BI group holds none: it reads as a contained
    # database user, and the bootstrap's condition refuses groups).
    holders = sorted(
        str(path.relative_to(root))
        for path in [*(root / "modules").rglob("*.tf"), *(root / "infra").glob("*.tf")]
        if 'resource "azurerm_role_assignment"' in path.read_text(encoding="utf-8")
    )
    assert holders == ["infra/main.rbac.tf"]


_FIELD = re.compile(r"(\w+)\s*=")


def _undocumented_fields(directory: Path) -> list[str]:
    missing = []
    for name, variable in read_dir(directory).variables.items():
        type_text = str(variable.body.get("type", ""))
        if "object(" not in type_text:
            continue
        description = str(variable.body.get("description", ""))
        for field in dict.fromkeys(_FIELD.findall(type_text)):
            if f"`{field}`" not in description:
                missing.append(f"{directory.name}: var.{name}.{field}")
    return missing


def test_every_object_field_is_described(root: Path) -> None:
    # AVM's convention: a heredoc description lists each field as "- `field` - (Required|Optional) ...".
    directories = [p for p in sorted((root / "modules").iterdir()) if any(p.glob("*.tf"))]
    missing = [m for directory in [*directories, root / "infra"] for m in _undocumented_fields(directory)]
    assert missing == []


def test_an_undescribed_field_is_caught(tree: Path, edit: Edit) -> None:
    edit("infra/variables.tf", "- `stale_after_days` - ", "- stale_after_days - ")
    assert _undocumented_fields(tree / "infra") == ["infra: var.monitoring.stale_after_days"]
