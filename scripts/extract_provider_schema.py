"""Extract the azurerm provider schema for the resource and data types we use, for offline validation.

The azurerm schema ships offline inside the `cdktn-provider-azurerm` wheel: its jsii assembly
(`_jsii/provider-azurerm@*.jsii.tgz` -> `package/.jsii`) describes every resource as a `...Config`
struct (one property per argument or nested block, with an `optional` flag) and a resource class
whose getters without a matching config property are the computed-only attributes.

This script reads that assembly and writes a compact JSON (only the types our Terraform uses, found
by scanning modules/ and infra/) to tests/infra/azurerm_schema.json, so tests never need the 45 MB
wheel. Regenerate after adding a resource type:

    .venv/bin/python scripts/extract_provider_schema.py                # downloads the pinned wheel
    .venv/bin/python scripts/extract_provider_schema.py --wheel PATH   # or reads a wheel you have
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
WHEEL_PACKAGE = "cdktn-provider-azurerm"
WHEEL_VERSION = "18.9.0"
DEFAULT_OUT = REPO / "tests" / "infra" / "azurerm_schema.json"
BLOCK_TYPE_RE = re.compile(r'^\s*(resource|data)\s+"(azurerm_[a-z0-9_]+)"', re.MULTILINE)
REGISTRY_LINK_RE = re.compile(r"hashicorp/azurerm/([0-9.]+)/docs/(resources|data-sources)/([a-z0-9_]+)")
ANCHOR_RE = re.compile(r"#([a-z0-9_]+) ")
# Getters every generated class has that are not Terraform attributes.
TERRAFORM_BASES = ("cdktn.TerraformResource", "cdktn.TerraformDataSource")
NOT_ATTRIBUTES = {"internalValue", "fqn", "friendlyUniqueId", "terraformResourceType", "tfResourceType"}

Schema = dict[str, Any]


def used_types(roots: list[Path]) -> tuple[set[str], set[str]]:
    """(resource types, data types) declared in the .tf files under the given directories."""
    resources: set[str] = set()
    data: set[str] = set()
    for root in roots:
        for tf_file in sorted(root.rglob("*.tf")):
            if ".terraform" in tf_file.parts:
                continue
            for kind, type_name in BLOCK_TYPE_RE.findall(tf_file.read_text(encoding="utf-8")):
                (resources if kind == "resource" else data).add(type_name)
    return resources, data


def download_wheel(dest: Path) -> Path:
    print(f"downloading {WHEEL_PACKAGE}=={WHEEL_VERSION} from the package index ...", file=sys.stderr)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            f"{WHEEL_PACKAGE}=={WHEEL_VERSION}",
            "-d",
            str(dest),
        ],
        check=True,
    )
    wheels = sorted(dest.glob("cdktn_provider_azurerm-*.whl"))
    if not wheels:
        raise SystemExit(f"error: pip reported success but left no wheel in {dest}")
    return wheels[0]


def read_assembly(wheel: Path) -> dict[str, Any]:
    with zipfile.ZipFile(wheel) as archive:
        members = [n for n in archive.namelist() if "/_jsii/" in n and n.endswith(".jsii.tgz")]
        if not members:
            raise SystemExit(f"error: {wheel} holds no _jsii/*.jsii.tgz; is it a cdktn provider wheel?")
        tgz = archive.read(members[0])
    with tarfile.open(fileobj=io.BytesIO(tgz), mode="r:gz") as tar:
        member = tar.extractfile("package/.jsii")
        if member is None:
            raise SystemExit(f"error: {members[0]} in {wheel} holds no package/.jsii")
        assembly: dict[str, Any] = json.load(member)
    return assembly


def snake(camel: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", camel).lower()


def terraform_name(prop: dict[str, Any]) -> str:
    """The argument's Terraform name: from the registry link in its docs, else snake_case."""
    docs = prop.get("docs", {})
    text = f"{docs.get('summary', '')} {docs.get('remarks', '')}"
    match = ANCHOR_RE.search(text)
    return match.group(1) if match else snake(prop["name"])


def struct_fqn(type_ref: dict[str, Any]) -> tuple[str | None, bool]:
    """(fqn of the nested-block struct, is it a list) when the property is a nested block."""
    if "fqn" in type_ref and not type_ref["fqn"].startswith("cdktn."):
        return type_ref["fqn"], False
    if "collection" in type_ref:
        inner, _ = struct_fqn(type_ref["collection"]["elementtype"])
        return inner, True
    if "union" in type_ref:
        for option in type_ref["union"]["types"]:
            inner, is_list = struct_fqn(option)
            if inner:
                return inner, is_list
    return None, False


class Extractor:
    def __init__(self, assembly: dict[str, Any]):
        self.types: dict[str, Any] = assembly["types"]
        self.by_terraform_type: dict[tuple[str, str], str] = {}
        self.provider_version = "unknown"
        for fqn, decl in self.types.items():
            if decl.get("kind") != "class" or decl.get("base") not in TERRAFORM_BASES:
                continue
            match = REGISTRY_LINK_RE.search(decl.get("docs", {}).get("summary", ""))
            if match:
                self.provider_version = match.group(1)
                kind = "resource" if match.group(2) == "resources" else "data"
                self.by_terraform_type[(kind, f"azurerm_{match.group(3)}")] = fqn

    def getters(self, fqn: str) -> dict[str, dict[str, Any]]:
        decl = self.types.get(fqn, {})
        return {
            p["name"]: p
            for p in decl.get("properties", [])
            if not p.get("static") and not p["name"].endswith("Input") and p["name"] not in NOT_ATTRIBUTES
        }

    def block(self, struct: str, reader: str | None, seen: frozenset[str] = frozenset()) -> Schema:
        """Schema of one block: the struct lists settable arguments; the reader class's getters
        that the struct does not list are computed-only."""
        attributes: dict[str, Any] = {}
        blocks: dict[str, Any] = {}
        props = self.types[struct].get("properties", [])
        config_names = set()
        for prop in props:
            name = terraform_name(prop)
            config_names.add(prop["name"])
            required = not prop.get("optional", False)
            nested, is_list = struct_fqn(prop["type"])
            if nested and nested not in seen and nested in self.types:
                nested_reader = self.reader_for(nested, is_list)
                blocks[name] = {
                    "required": required,
                    "list": is_list,
                    "block": self.block(nested, nested_reader, seen | {struct}),
                }
            else:
                attributes[name] = {"required": required}
        computed = sorted(
            terraform_name(p)
            for n, p in (self.getters(reader).items() if reader else [])
            if n not in config_names and not n.startswith("_")
        )
        out: Schema = {"attributes": dict(sorted(attributes.items())), "computed": computed}
        if blocks:
            out["blocks"] = dict(sorted(blocks.items()))
        return out

    def reader_for(self, struct: str, is_list: bool) -> str | None:
        candidate = f"{struct}OutputReference"
        return candidate if candidate in self.types else None

    def extract(self, kind: str, terraform_type: str) -> Schema:
        fqn = self.by_terraform_type.get((kind, terraform_type))
        if fqn is None:
            raise SystemExit(
                f"error: {kind} type {terraform_type!r} is not in azurerm {self.provider_version}; "
                "fix the type name in the .tf file, or use a wheel with a newer provider"
            )
        return self.block(f"{fqn}Config", fqn)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="a cdktn-provider-azurerm wheel (default: pip download)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output (default {DEFAULT_OUT})")
    args = parser.parse_args(argv)

    resources, data = used_types([REPO / "modules", REPO / "infra", REPO / "envs"])
    with tempfile.TemporaryDirectory(prefix="cdktn-") as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        extractor = Extractor(read_assembly(wheel))
    schema = {
        "provider": "registry.terraform.io/hashicorp/azurerm",
        "provider_version": extractor.provider_version,
        "extracted_from": f"{WHEEL_PACKAGE}=={WHEEL_VERSION}",
        "regenerate": ".venv/bin/python scripts/extract_provider_schema.py",
        "resources": {t: extractor.extract("resource", t) for t in sorted(resources)},
        "data_sources": {t: extractor.extract("data", t) for t in sorted(data)},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(schema, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(
        f"wrote {args.out} (azurerm {extractor.provider_version}: "
        f"{len(resources)} resource types, {len(data)} data types)",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
