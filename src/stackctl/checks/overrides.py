"""checkov on the configuration Terraform builds: override files merged into their blocks first.

Terraform merges `override.tf` and `*_override.tf` into the blocks of the same type and name in
the other files (https://developer.hashicorp.com/terraform/language/files/override#merging-behavior);
checkov reads each file on its own, so an override is judged as a second resource with only its
few arguments (issue 26, case v02: 59 mostly false findings), and the merged resource never.
When the tree holds override files, checkov scans a scratch copy in which each override block is
merged into its base block (python-hcl2 reads both and writes the merged block; the base block's
`#checkov:skip` comments are kept) and the override files are gone. Findings name the repository
paths; lines after a merged block in the same file may shift by the merged block's growth.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import hcl2
from hcl2.rules.base import BlockRule

from stackctl.checks.findings import CheckReport
from stackctl.checks.hclmodel import configuration_files

SCANNED_PARTS = ("modules", "infra", "envs")
_SKIP_COMMENT = re.compile(r"^\s*#\s*checkov:skip=.*$", re.MULTILINE)


def override_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for part in SCANNED_PARTS:
        for directory in sorted(
            p for p in (root / part).rglob("*") if p.is_dir() and ".terraform" not in p.parts
        ):
            found.extend(configuration_files(directory)[1])
    return [f for f in found if f.suffix == ".tf"]


def merged_copy(root: Path, scratch: Path) -> None:
    """Copy the scanned parts of `root` to `scratch` with every HCL override merged into its base."""
    for part in SCANNED_PARTS:
        if (root / part).is_dir():
            shutil.copytree(
                root / part, scratch / part, symlinks=False, ignore=shutil.ignore_patterns(".terraform")
            )
    for override in override_files(scratch):
        primary, _ = configuration_files(override.parent)
        for kind, labels, body in _blocks(override.read_text(encoding="utf-8")):
            for base in primary:
                if base.suffix == ".tf" and _merge_into(base, kind, labels, body):
                    break
        override.unlink()


def _blocks(text: str) -> list[tuple[str, tuple[str, ...], dict[str, Any]]]:
    """(kind, labels, body) of each resource and data block of an HCL file, quotes kept."""
    data = hcl2.loads(text)
    found: list[tuple[str, tuple[str, ...], dict[str, Any]]] = []
    for kind in ("resource", "data"):
        for entry in data.get(kind, []):
            for type_name, named in entry.items():
                for name, body in named.items():
                    found.append((kind, (type_name.strip('"'), name.strip('"')), body))
    return found


def _merge_into(base: Path, kind: str, labels: tuple[str, ...], override: dict[str, Any]) -> bool:
    text = base.read_text(encoding="utf-8")
    tree = hcl2.parses(text)
    for node in getattr(tree.children[0], "children", []):
        if not isinstance(node, BlockRule) or str(node.children[0].serialize()) != kind:
            continue
        if tuple(str(c.serialize()).strip('"') for c in node.children[1:3]) != labels:
            continue
        lines = text.splitlines()
        first, last = int(node._meta.line), int(node._meta.end_line)
        original = "\n".join(lines[first - 1 : last])
        (original_body,) = [b for k, lab, b in _blocks(original) if k == kind and lab == labels]
        merged = {**original_body, **override}
        if "lifecycle" in override and "lifecycle" in original_body:
            merged["lifecycle"] = [{**original_body["lifecycle"][0], **override["lifecycle"][0]}]
        rendered = (
            hcl2.dumps({kind: [{f'"{labels[0]}"': {f'"{labels[1]}"': merged}}]}).rstrip("\n").splitlines()
        )
        skips = _SKIP_COMMENT.findall(original)
        block = [rendered[0], *skips, *rendered[1:]]
        block += [""] * max(0, (last - first + 1) - len(block))
        base.write_text("\n".join([*lines[: first - 1], *block, *lines[last:]]) + "\n", encoding="utf-8")
        return True
    return False


def check_checkov_merged(root: Path) -> CheckReport:
    """checkov (stackctl.checks.checkov.check_checkov) on the configuration Terraform builds."""
    from stackctl.checks.checkov import check_checkov

    if not override_files(root):
        return check_checkov(root)
    with tempfile.TemporaryDirectory(prefix="stackctl-merged-") as scratch:
        scratch_root = Path(scratch)
        merged_copy(root, scratch_root)
        if (root / "tests" / "infra").is_dir():
            (scratch_root / "tests").mkdir()
        report = check_checkov(scratch_root)
        report.notes.append(
            f"checkov read {len(override_files(root))} override file(s) merged into their blocks, "
            "as Terraform merges them"
        )
        built = scratch_root / "build" / "checkov"
        if built.is_dir():
            shutil.copytree(built, root / "build" / "checkov", dirs_exist_ok=True)
    return report
