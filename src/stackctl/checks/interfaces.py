"""The modules' AVM interfaces, generated from one template and checked.

Every module that has a lock, diagnostic settings or private endpoints on its main resource holds
them in `main.interfaces.tf`, rendered from `modules/interfaces/main.interfaces.tf.j2` with the
module's entry in `modules/interfaces/modules.yaml`, and declares the interface variables exactly
as `modules/interfaces/variables.tf.j2` does. `make fmt` writes both (`write_interfaces`);
validate's docs check fails when a module's copy differs (`check_interfaces`).

Why generated copies and not a shared child module (Azure/avm-utl-interfaces/azure's way): checkov
judges "this vault has a private endpoint" and "this database sends diagnostics" (CKV2_FS_1,
CKV2_FS_2, CKV2_AZURE_32/33/45) by a direct reference from one resource to the other, and it does
not follow a reference through a child module's variable; with the resources in a child module
those checks fail on every module. So each module keeps the resources beside its main resource,
and one template keeps the copies identical.

    for finding in check_interfaces(Path(".")):
        print(finding.render())
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Literal

import jinja2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stackctl.checks.findings import Finding, relative
from stackctl.errors import StackctlError
from stackctl.tools import Terraform

CHECK = "docs"
TEMPLATE_DIR = Path("modules") / "interfaces"
TARGET = "main.interfaces.tf"
Interface = Literal["lock", "diagnostic_settings", "private_endpoints"]
INTERFACES: tuple[Interface, ...] = ("lock", "diagnostic_settings", "private_endpoints")
FIX = "run `make fmt` (it renders modules/interfaces/ into every module); edit the template, not the copy"
# `terraform fmt` starts every top-level block at column 0 and closes it with `}` at column 0.
_VARIABLE_BLOCK = r'^variable "{name}" \{{\n.*?^\}}\n'


class ModuleInterfaces(BaseModel):
    """One module's entry in modules/interfaces/modules.yaml."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource: str = Field(pattern=r"^azurerm_\w+\.\w+$")
    diagnostic_settings_target: str | None = None
    # What the target reads back (issue 22 item 11): metric categories when `AllMetrics` is read back
    # as its parts (storage services: Capacity, Transaction), and whether Azure echoes
    # logAnalyticsDestinationType; either drift makes every plan show a change.
    diagnostic_metric_categories: tuple[str, ...] | None = None
    diagnostic_destination_type_echoed: bool = True
    interfaces: tuple[Interface, ...] = Field(min_length=1)
    notes: tuple[str, ...] = ()


def load_spec(root: Path) -> dict[str, ModuleInterfaces]:
    """modules/interfaces/modules.yaml as module name => its entry; StackctlError when malformed."""
    path = root / TEMPLATE_DIR / "modules.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        if not isinstance(raw, dict):
            raise TypeError("the file must map module names to entries")
        return {str(name): ModuleInterfaces.model_validate(entry) for name, entry in raw.items()}
    except (OSError, TypeError, yaml.YAMLError, ValidationError) as exc:
        raise StackctlError(
            f"cannot read {relative(path, root)}: {exc}",
            where=str(path),
            fix="give each module resource, interfaces and optional diagnostic_settings_target, notes",
        ) from exc


def _template(root: Path, name: str) -> jinja2.Template:
    # Terraform text, not HTML: nothing to escape; a missing value must fail, not render empty.
    environment = jinja2.Environment(  # noqa: S701
        loader=jinja2.FileSystemLoader(root / TEMPLATE_DIR),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    return environment.get_template(name)


def _terraform_fmt(text: str, terraform: Terraform) -> str:
    """The text as `terraform fmt` writes it (alignment depends on which arguments are rendered)."""
    with tempfile.TemporaryDirectory(prefix="stackctl-interfaces-") as scratch:
        file = Path(scratch) / TARGET
        file.write_text(text, encoding="utf-8")
        result = terraform.run(["fmt", "-no-color", file.name], Path(scratch))
        if result.returncode != 0:
            raise StackctlError(
                f"the rendered {TARGET} is not valid HCL: {' '.join(result.stderr.split())[:300]}",
                where=str(TEMPLATE_DIR / "main.interfaces.tf.j2"),
                fix="fix the template or the entry in modules.yaml",
            )
        return file.read_text(encoding="utf-8")


def render_interfaces(root: Path, module: str, entry: ModuleInterfaces, terraform: Terraform) -> str:
    """What modules/<module>/main.interfaces.tf must hold."""
    text = _template(root, "main.interfaces.tf.j2").render(
        module=module,
        resource=entry.resource,
        diagnostic_settings_target=entry.diagnostic_settings_target,
        diagnostic_metric_categories=entry.diagnostic_metric_categories,
        diagnostic_destination_type_echoed=entry.diagnostic_destination_type_echoed,
        interfaces=list(entry.interfaces),
        notes=list(entry.notes),
    )
    return _terraform_fmt(text.lstrip("\n"), terraform)


def interface_variables(root: Path) -> dict[str, str]:
    """The canonical declaration of each interface variable, as text, by name."""
    text = _template(root, "variables.tf.j2").render()
    blocks: dict[str, str] = {}
    for name in INTERFACES:
        match = re.search(_VARIABLE_BLOCK.format(name=name), text, re.MULTILINE | re.DOTALL)
        if match is None:
            raise StackctlError(
                f'{TEMPLATE_DIR}/variables.tf.j2 declares no variable "{name}"',
                fix="declare every interface variable there",
            )
        blocks[name] = match.group(0)
    return blocks


def render_variables(current: str, entry: ModuleInterfaces, canonical: dict[str, str]) -> str:
    """A module's variables.tf with its interface variables as the template declares them: the
    ones it uses replaced by the canonical text (appended when missing), the others removed."""
    text = current
    for name in INTERFACES:
        pattern = re.compile(_VARIABLE_BLOCK.format(name=name) + r"\n?", re.MULTILINE | re.DOTALL)
        match = pattern.search(text)
        if name in entry.interfaces:
            if match is None:
                text = text.rstrip("\n") + "\n\n" + canonical[name]
            else:
                text = text[: match.start()] + canonical[name] + "\n" + text[match.end() :]
        elif match is not None:
            text = text[: match.start()] + text[match.end() :]
    return text.rstrip("\n") + "\n"


def _expected(root: Path, terraform: Terraform) -> dict[Path, str]:
    spec = load_spec(root)
    canonical = interface_variables(root)
    expected: dict[Path, str] = {}
    for module, entry in spec.items():
        directory = root / "modules" / module
        if not directory.is_dir():
            raise StackctlError(
                f"{TEMPLATE_DIR}/modules.yaml names module {module!r}, which does not exist",
                fix="remove its entry or fix the name",
            )
        expected[directory / TARGET] = render_interfaces(root, module, entry, terraform)
        variables = directory / "variables.tf"
        expected[variables] = render_variables(variables.read_text(encoding="utf-8"), entry, canonical)
    return expected


def write_interfaces(root: Path, terraform: Terraform | None = None) -> list[Path]:
    """Render every module's main.interfaces.tf and interface variables; returns the changed files."""
    changed = []
    for path, text in _expected(root, terraform or Terraform()).items():
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def check_interfaces(root: Path, terraform: Terraform | None = None) -> list[Finding]:
    """A finding for each module copy that differs from its rendering, and for each module that
    holds a main.interfaces.tf or an interface variable without an entry in modules.yaml."""
    expected = _expected(root, terraform or Terraform())
    findings = [
        Finding(CHECK, relative(path, root), "differs from what modules/interfaces/ renders for it", FIX)
        for path, text in expected.items()
        if not path.is_file() or path.read_text(encoding="utf-8") != text
    ]
    listed = {path.parent.name for path in expected}
    for directory in sorted(p for p in (root / "modules").iterdir() if p.is_dir() and p.name not in listed):
        variables = directory / "variables.tf"
        declared = variables.read_text(encoding="utf-8") if variables.is_file() else ""
        stray = [
            name
            for name in INTERFACES
            if re.search(_VARIABLE_BLOCK.format(name=name), declared, re.MULTILINE | re.DOTALL)
        ]
        if (directory / TARGET).exists() or stray:
            findings.append(
                Finding(
                    CHECK,
                    relative(directory, root),
                    "declares AVM interfaces ("
                    + ", ".join(stray or [TARGET])
                    + ") but has no entry in modules/interfaces/modules.yaml",
                    "add the module to modules/interfaces/modules.yaml and run `make fmt`",
                )
            )
    return findings
