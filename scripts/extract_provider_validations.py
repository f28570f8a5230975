"""Extract azurerm's own input validations for every argument our Terraform sets, as data.

The jsii schema (scripts/extract_provider_schema.py) names each argument but not the provider's
`ValidateFunc`: `storage_account_access_type = "identity"` and `sub_resource_target = "sqlServer"`
passed every offline check and stopped both plans (issue 22 item 1). The provider declares each
validation beside its argument in Go, e.g.

    "storage_account_access_type": {
        ValidateFunc: validation.StringInSlice([]string{
            string(workspaces.SystemDatastoresAuthModeAccessKey), ...}, false),

so this script reads hashicorp/terraform-provider-azurerm's source (a local git directory, e.g. the
one the `fetch` tool mirrors) at one commit, finds the file of every resource and data type we
use, and records per argument path (`network_rules.default_action`) the validator and its values:
StringInSlice (values resolved through the vendored go-azure-sdk `constants.go`, with the
ignore-case flag), StringIsNotEmpty, IntBetween/IntAtLeast/IntAtMost/IntInSlice, StringMatch (the
Go regular expression); any other validator is recorded by name only (not judged offline).
The same run extracts the Data Factory activity models of the vendored go-azure-sdk
(datafactory/2018-06-01/pipelines: each activity's JSON fields and its typeProperties' fields),
which azurerm unmarshals `activities_json` into: a field the model lacks is dropped silently
(issue 22 item 3).

Where the readable source is older than the pinned provider (versions.tf), the pinned version's
documentation decides: `DOC_OVERRIDES` below holds such corrections, each with its doc page.

    .venv/bin/python scripts/extract_provider_validations.py \
        --provider-git /work/.mirror/hashicorp+terraform-provider-azurerm/repo
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_OUT = REPO / "tests" / "infra" / "azurerm_validations.json"
DEFAULT_ADF_OUT = REPO / "tests" / "infra" / "adf_activity_models.json"
BLOCK_TYPE_RE = re.compile(r'^\s*(resource|data)\s+"(azurerm_[a-z0-9_]+)"', re.MULTILINE)
ARG_OPEN_RE = re.compile(r'^\s*"([a-z0-9_]+)":\s*(?:\{|[A-Za-z_.]+\(.*\{)\s*$')
IMPORT_RE = re.compile(
    r'^\s*(?:([A-Za-z0-9_]+)\s+)?"(github\.com/(?:hashicorp/go-azure-sdk|jackofallops)/[^"]+)"', re.MULTILINE
)
# Where a vendored SDK package declares its enums: go-azure-sdk constants.go, kermit's (track-1) enums.go,
# giovanni's models.go.
CONSTANT_FILES = ("constants.go", "enums.go", "models.go")
CONST_RE = re.compile(r'^\s*([A-Z][A-Za-z0-9_]*)\s+[A-Z][A-Za-z0-9_]*\s*=\s*"([^"]*)"', re.MULTILINE)
POSSIBLE_RE = re.compile(
    r"func (PossibleValuesFor[A-Za-z0-9_]+)\(\) \[\]string \{\s*return \[\]string\{(.*?)\}", re.S
)
ADF_PIPELINES = "vendor/github.com/hashicorp/go-azure-sdk/resource-manager/datafactory/2018-06-01/pipelines"
ADF_ACTIVITY_TYPES = (
    "WebActivity",
    "Until",
    "IfCondition",
    "Fail",
    "SetVariable",
    "Wait",
    "Copy",
    "Delete",
    "GetMetadata",
)
# The Copy activity's source, sink and their store settings (polymorphic by `type`; the pipeline
# resource unmarshals each into its model, dropping unknown fields like an activity's).
ADF_COPY_PARTS = ("BinarySource", "BinarySink", "AzureBlobFSReadSettings", "AzureBlobFSWriteSettings")

# Corrections from the pinned version's documentation where the source read is older (the readable
# snapshot is v5.2.0-14; versions.tf pins >= 5.10.0): {"resources": {type: {argument: rule}}}, each
# with the 5.10.0 page it comes from (https://registry.terraform.io/providers/hashicorp/azurerm/5.10.0/docs/...).
# Empty: no 5.10.0 page read so far contradicts the source for an argument we set; where the
# registry answers, the terraform-validate check runs 5.10 itself and settles it.
DOC_OVERRIDES: dict[str, dict[str, Any]] = {}


def git(provider: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(provider), *args], check=True, capture_output=True, text=True
    ).stdout


# Types no module uses any more but tests/infra/test_provider_enums.py replays (the reviewed
# outbound rule that fed `sqlServer` through azurerm's resource): kept in the table.
KEPT_RESOURCES = (
    "azurerm_machine_learning_workspace_network_outbound_rule_fqdn",
    "azurerm_machine_learning_workspace_network_outbound_rule_private_endpoint",
)


def used_types(roots: list[Path]) -> tuple[set[str], set[str]]:
    resources: set[str] = set(KEPT_RESOURCES)
    data: set[str] = set()
    for root in roots:
        for tf_file in sorted(root.rglob("*.tf")):
            if ".terraform" in tf_file.parts:
                continue
            for kind, type_name in BLOCK_TYPE_RE.findall(tf_file.read_text(encoding="utf-8")):
                (resources if kind == "resource" else data).add(type_name)
    return resources, data


def source_file(files: list[str], type_name: str, kind: str) -> str | None:
    """internal/services/<svc>/<short>_resource.go (or _data_source.go), the provider's convention."""
    short = type_name.removeprefix("azurerm_")
    suffix = "_resource.go" if kind == "resource" else "_data_source.go"
    candidates = [f for f in files if f.startswith("internal/services/") and f.endswith("/" + short + suffix)]
    return candidates[0] if candidates else None


def _strip_strings(line: str) -> str:
    return re.sub(r'"(?:\\.|[^"\\])*"|`[^`]*`', '""', line)


def argument_bodies(text: str) -> dict[str, str]:
    """Argument path -> the Go text directly inside its schema entry (nested arguments excluded)."""
    bodies: dict[str, str] = {}
    stack: list[tuple[str, int, list[str]]] = []
    depth = 0
    for line in text.splitlines():
        opened = ARG_OPEN_RE.match(line)
        if opened:
            path = ".".join([frame[0] for frame in stack] + [opened.group(1)])
            stack.append((path.split(".")[-1], depth, []))
            bodies.setdefault(path, "")
        elif stack:
            stack[-1][2].append(line)
        stripped = _strip_strings(line)
        depth += stripped.count("{") - stripped.count("}")
        while stack and depth <= stack[-1][1]:
            name, _, lines = stack.pop()
            path = ".".join([frame[0] for frame in stack] + [name])
            bodies[path] = bodies.get(path, "") + "\n".join(lines)
    return bodies


def constants(provider: Path, commit: str, text: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """`alias.Const` -> value, `alias.PossibleValuesForX` -> values, of the vendored SDK packages imported."""
    values: dict[str, str] = {}
    possible: dict[str, list[str]] = {}
    for alias, path in IMPORT_RE.findall(text):
        alias = alias or path.rsplit("/", 1)[-1]
        go = ""
        for name in CONSTANT_FILES:
            try:
                go += git(provider, "show", f"{commit}:vendor/{path}/{name}")
            except subprocess.CalledProcessError:
                continue
        for name, value in CONST_RE.findall(go):
            values[f"{alias}.{name}"] = value
        for func, body in POSSIBLE_RE.findall(go):
            possible[f"{alias}.{func}"] = [
                values.get(f"{alias}.{n}", n) for n in re.findall(r"string\(([A-Za-z0-9_]+)\)", body)
            ]
    return values, possible


def _call_args(text: str, start: int) -> str:
    """The text between the parenthesis at `start` and its match."""
    depth = 0
    for index in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return text[start + 1 : index]
    return text[start + 1 :]


def validation_of(body: str, values: dict[str, str], possible: dict[str, list[str]]) -> dict[str, Any] | None:
    found = re.search(r"ValidateFunc:\s*([A-Za-z0-9_.]+)", body)
    if not found:
        return None
    func = found.group(1)
    paren = found.end()
    args = _call_args(body, paren) if paren < len(body) and body[paren] == "(" else ""
    short = func.removeprefix("validation.")
    if short == "StringInSlice":
        items: list[str] = []
        pv = re.match(r"\s*([A-Za-z0-9_]+\.PossibleValuesFor[A-Za-z0-9_]+|[A-Za-z0-9_]+)(?:\(\))?\s*,", args)
        if pv:
            items = list(possible.get(pv.group(1), []))
        else:
            for literal, const in re.findall(r'"([^"]*)"|string\(([A-Za-z0-9_.]+)\)', args.rsplit(",", 1)[0]):
                items.append(literal if not const else values.get(const, "\0" + const))
        if not items or any(item.startswith("\0") for item in items):
            return {"validator": func, "judged": False}
        return {"validator": "StringInSlice", "values": items, "ignore_case": args.strip().endswith("true")}
    if short in ("IntBetween", "IntAtLeast", "IntAtMost", "IntInSlice"):
        numbers = [int(n) for n in re.findall(r"-?\d+", args)]
        return {"validator": short, "values": numbers}
    if short == "StringIsNotEmpty":
        return {"validator": short}
    if short == "StringMatch":
        pattern = re.search(r"MustCompile\(\s*(`[^`]*`|\"(?:\\.|[^\"\\])*\")", args)
        if pattern:
            raw = pattern.group(1)
            regex = raw[1:-1] if raw.startswith("`") else json.loads(raw)
            return {"validator": short, "pattern": regex}
    return {"validator": func, "judged": False}


def package_names(
    provider: Path, commit: str, path: str, files: list[str]
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Constants and `[]string{...}` variables declared anywhere in the resource's own Go package."""
    directory = path.rsplit("/", 1)[0] + "/"
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for name in files:
        if (
            name.startswith(directory)
            and "/" not in name[len(directory) :]
            and name.endswith(".go")
            and not name.endswith("_test.go")
        ):
            go = strip_comments(git(provider, "show", f"{commit}:{name}"))
            values.update(
                re.findall(
                    r'^\s*([A-Za-z][A-Za-z0-9_]*)(?:\s+[A-Z][A-Za-z0-9_.]*)?\s*=\s*"([^"]*)"',
                    go,
                    re.MULTILINE,
                )
            )
            for var, body in re.findall(
                r"(?:var\s+)?([a-zA-Z][A-Za-z0-9_]*)\s*=\s*\[\]string\{(.*?)\}", go, re.S
            ):
                lists[var] = re.findall(r'"([^"]*)"', body)
    return values, lists


def strip_comments(text: str) -> str:
    """Go text without `//` comments (kept inside string literals)."""
    return "\n".join(
        re.sub(r'^((?:[^"`/]|"(?:\\.|[^"\\])*"|`[^`]*`|/(?!/))*)//.*$', r"\1", line)
        for line in text.splitlines()
    )


def extract_type(provider: Path, commit: str, path: str, files: list[str]) -> dict[str, Any]:
    text = strip_comments(git(provider, "show", f"{commit}:{path}"))
    values, possible = constants(provider, commit, text)
    local_values, local_lists = package_names(provider, commit, path, files)
    values.update(local_values)
    possible.update(local_lists)
    arguments: dict[str, Any] = {}
    for arg_path, body in argument_bodies(text).items():
        rule = validation_of(body, values, possible)
        if rule is not None:
            arguments[arg_path] = rule
    return {"source": path, "arguments": dict(sorted(arguments.items()))}


def adf_models(provider: Path, commit: str) -> dict[str, Any]:
    """Each activity type's JSON fields (top level and typeProperties) in the go-azure-sdk model."""
    models: dict[str, Any] = {}
    for activity in ADF_ACTIVITY_TYPES:
        name = {
            "Until": "UntilActivity",
            "IfCondition": "IfConditionActivity",
            "Fail": "FailActivity",
            "SetVariable": "SetVariableActivity",
            "Wait": "WaitActivity",
            "Copy": "CopyActivity",
            "Delete": "DeleteActivity",
            "GetMetadata": "GetMetadataActivity",
        }.get(activity, activity)
        model = f"{ADF_PIPELINES}/model_{name.lower()}.go"
        props = f"{ADF_PIPELINES}/model_{name.lower()}typeproperties.go"
        fields = re.findall(r'json:"([A-Za-z0-9_]+)', git(provider, "show", f"{commit}:{model}"))
        type_fields = re.findall(r'json:"([A-Za-z0-9_]+)', git(provider, "show", f"{commit}:{props}"))
        models[activity] = {
            "model": model,
            "fields": sorted(set(fields)),
            "typeProperties": sorted(set(type_fields)),
        }
    return models


def adf_copy_parts(provider: Path, commit: str) -> dict[str, Any]:
    """Each Copy source/sink/store-settings type's JSON fields in its go-azure-sdk model."""
    parts: dict[str, Any] = {}
    for name in ADF_COPY_PARTS:
        model = f"{ADF_PIPELINES}/model_{name.lower()}.go"
        fields = re.findall(r'json:"([A-Za-z0-9_]+)', git(provider, "show", f"{commit}:{model}"))
        parts[name] = {"model": model, "fields": sorted(set(fields))}
    return parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--provider-git",
        type=Path,
        required=True,
        help="a git directory of hashicorp/terraform-provider-azurerm",
    )
    parser.add_argument("--commit", default="HEAD")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--adf-out", type=Path, default=DEFAULT_ADF_OUT)
    args = parser.parse_args(argv)
    commit = git(args.provider_git, "rev-parse", args.commit).strip()
    described = git(args.provider_git, "describe", "--tags", commit).strip()
    files = git(args.provider_git, "ls-tree", "-r", "--name-only", commit).splitlines()
    resources, data = used_types([REPO / "modules", REPO / "infra", REPO / "envs"])
    out: dict[str, Any] = {
        "provider_source": {
            "repository": "hashicorp/terraform-provider-azurerm",
            "commit": commit,
            "describe": described,
        },
        "doc_overrides": DOC_OVERRIDES,
        "resources": {},
        "data_sources": {},
        "not_found": [],
    }
    for kind, names, table in (("resource", resources, "resources"), ("data", data, "data_sources")):
        for type_name in sorted(names):
            path = source_file(files, type_name, kind)
            if path is None:
                out["not_found"].append(f"{kind}.{type_name}")
                continue
            out[table][type_name] = extract_type(args.provider_git, commit, path, files)
    args.out.write_text(json.dumps(out, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    adf = {
        "provider_source": out["provider_source"],
        "activities": adf_models(args.provider_git, commit),
        "copy_parts": adf_copy_parts(args.provider_git, commit),
    }
    args.adf_out.write_text(json.dumps(adf, indent=1) + "\n", encoding="utf-8")
    print(
        f"wrote {args.out} and {args.adf_out} from {described} ({commit[:12]}); "
        f"not found: {out['not_found']}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
