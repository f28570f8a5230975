"""The weekly Data Factory pipeline as Terraform renders it, judged against Data Factory's own model.

Terraform evaluates the module's locals (`terraform console`, offline: the few resource references
are replaced by stand-in names), so the activities checked are the JSON azurerm receives, not our
reading of the HCL. Then:

- issue 22 item 3 (kind: *an activity property the typed model drops*): azurerm unmarshals
  `activities_json` into go-azure-sdk's typed activity models
  (internal/services/datafactory/data_factory_pipeline_resource.go); a field a model lacks is
  dropped silently. Every activity, nested ones included, must use only the fields of its model
  (tests/infra/adf_activity_models.json, extracted from the vendored go-azure-sdk by
  scripts/extract_provider_validations.py).
- issue 22 item 14: the wait loop ends on every status but the ARM JobStatus values under which a
  job may still finish (azure-ai-ml's own enum), a job that does not complete is cancelled, and
  conditioned/weekly is cleared before the copy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from infra_helpers import Edit, terraform_console

REPO = Path(__file__).resolve().parents[2]
MODELS = json.loads((REPO / "tests/infra/adf_activity_models.json").read_text())["activities"]
RESOURCE_NAME = re.compile(r'azurerm_[a-z0-9_]+\.[a-z0-9_]+(\["([a-z]+)"\])?\.name')
SPLAT_NAME = re.compile(r"azurerm_[a-z0-9_]+\.[a-z0-9_]+\[\*\]\.name")
STAND_INS = """
variable "aml" { type = any }
variable "managed_virtual_network_enabled" { type = bool }
variable "sql" { type = any }
"""
TFVARS = """
managed_virtual_network_enabled = true
sql = { server_id = "/sql", server_fqdn = "sql-fcst.database.windows.net", database_name = "reporting" }
aml = {
  workspace_id        = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/ws"
  training_invoke_uri = "https://train.westeurope.inference.ml.azure.com/jobs"
  scoring_invoke_uri  = "https://score.westeurope.inference.ml.azure.com/jobs"
  input_data_uri      = "azureml://datastores/lake_conditioned/paths/weekly/"
  datastores          = { conditioned = "lake_conditioned_blob", scored = "lake_scored_blob" }
}
"""


def _locals_blocks(text: str) -> str:
    blocks = []
    for start in [m.start() for m in re.finditer(r"(?m)^locals \{", text)]:
        depth = 0
        for index in range(start, len(text)):
            depth += {"{": 1, "}": -1}.get(text[index], 0)
            if depth == 0 and text[index] == "}":
                blocks.append(text[start : index + 1])
                break
    return "\n".join(blocks)


def rendered_activities(tree: Path, work: Path) -> list[dict[str, Any]]:
    """The pipeline's activities as Terraform evaluates them (prod-like: managed VNet on)."""
    source = (tree / "modules/data_factory/main.pipeline.tf").read_text()
    expression = re.search(r"(?ms)^  activities_json = jsonencode\((.*?)\)\n\}", source)
    assert expression, "activities_json = jsonencode(...) not found in main.pipeline.tf"
    text = _locals_blocks(source) + f"\nlocals {{\n  activities = {expression.group(1)}\n}}\n"
    text = SPLAT_NAME.sub('["ir-managed-vnet"]', text)
    text = RESOURCE_NAME.sub(lambda m: f'"ds_{m.group(2) or "x"}"', text)
    ok, output = terraform_console(
        work, {"main.tf": STAND_INS + text, "stack.tfvars": TFVARS}, "jsonencode(local.activities)"
    )
    assert ok, output
    # console prints the string, then possibly CLI warnings: read the first JSON value only.
    encoded, _ = json.JSONDecoder().raw_decode(output)
    return list(json.loads(encoded))


def walk(activities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for activity in activities:
        found.append(activity)
        props = activity.get("typeProperties", {})
        for key in ("activities", "ifTrueActivities", "ifFalseActivities"):
            found.extend(walk(props.get(key, [])))
    return found


def dropped_fields(activities: list[dict[str, Any]]) -> list[str]:
    problems = []
    for activity in walk(activities):
        model = MODELS.get(activity["type"])
        if model is None:
            problems.append(f"{activity['name']}: type {activity['type']} has no extracted model")
            continue
        for key in sorted(set(activity) - set(model["fields"])):
            problems.append(f"{activity['name']}.{key} ({activity['type']} has no such field: dropped)")
        for key in sorted(set(activity.get("typeProperties", {})) - set(model["typeProperties"])):
            problems.append(f"{activity['name']}.typeProperties.{key} (dropped)")
    return problems


@pytest.fixture(scope="module")
def activities(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    return rendered_activities(REPO, tmp_path_factory.mktemp("adf") / "work")


def test_every_activity_uses_only_fields_its_model_has(activities: list[dict[str, Any]]) -> None:
    assert dropped_fields(activities) == []


def test_every_web_activity_runs_on_the_managed_runtime(activities: list[dict[str, Any]]) -> None:
    webs = [a for a in walk(activities) if a["type"] == "WebActivity"]
    assert len(webs) >= 6  # invoke, poll and cancel (twice) for each of training and scoring
    for web in webs:
        assert web["typeProperties"]["connectVia"] == {
            "referenceName": "ir-managed-vnet",
            "type": "IntegrationRuntimeReference",
        }


@pytest.mark.parametrize(
    ("edits", "dropped"),
    [
        # The review's case: connectVia merged into the activity object, not its typeProperties.
        (
            [
                (
                    '      {\n        name      = "invoke_${step}"',
                    '      merge({\n        name      = "invoke_${step}"',
                ),
                (
                    "        typeProperties = merge({\n          url            = uri",
                    "        typeProperties = {\n          url            = uri",
                ),
                (
                    '        }, local.connect_via)\n      },\n      {\n        name      = "wait_',
                    '        }\n      }, local.connect_via),\n      {\n        name      = "wait_',
                ),
            ],
            "invoke_training.connectVia",
        ),
        (
            [
                (
                    "              recursive     = true\n              enableLogging",
                    '              recursive     = true\n              wildcardFileName = "*"\n'
                    "              enableLogging",
                )
            ],
            "clear_conditioned.typeProperties.wildcardFileName",
        ),
        (
            [
                (
                    '              policy    = { timeout = "0.00:05:00", retry = 2',
                    "              retryPolicy = { count = 2 }\n"
                    '              policy    = { timeout = "0.00:05:00", retry = 2',
                )
            ],
            "poll_training.retryPolicy",
        ),
    ],
    ids=["connectVia-top-level", "delete-property-of-another-level", "unknown-activity-field"],
)
def test_a_field_the_model_drops_is_caught(
    tree: Path, edit: Edit, tmp_path: Path, edits: list[tuple[str, str]], dropped: str
) -> None:
    for old, new in edits:
        edit("modules/data_factory/main.pipeline.tf", old, new)
    problems = dropped_fields(rendered_activities(tree, tmp_path / "work"))
    assert any(problem.startswith(dropped) for problem in problems), problems


def _until(activities: list[dict[str, Any]], step: str) -> dict[str, Any]:
    return next(a for a in activities if a["name"] == f"wait_{step}")


def loop_ends(expression: str, status: str) -> bool:
    """Evaluate the Until expression's only form we write: @not(contains(createArray(...), v))."""
    match = re.fullmatch(
        r"@not\(contains\(createArray\(([^)]*)\), variables\('status_[a-z]+'\)\)\)", expression
    )
    assert match, f"the wait loop's expression changed shape: {expression}"
    active = re.findall(r"'([A-Za-z]+)'", match.group(1))
    return status not in active


@pytest.mark.parametrize("step", ["training", "scoring"])
def test_the_wait_ends_on_every_status_a_job_cannot_leave(
    activities: list[dict[str, Any]], step: str
) -> None:
    expression = _until(activities, step)["typeProperties"]["expression"]["value"]
    # Statuses a job can still move on from keep the loop polling; every other one ends it.
    # azure-ai-ml's own enum of ARM job statuses, imported here: collection must not pay azure-ai-ml
    from azure.ai.ml._restclient.arm_ml_service.models import JobStatus

    may_still_finish = {
        "NotStarted",
        "Starting",
        "Provisioning",
        "Preparing",
        "Queued",
        "Running",
        "Finalizing",
        "CancelRequested",
        "NotResponding",
    }
    for status in JobStatus:
        assert loop_ends(expression, status.value) is (status.value not in may_still_finish), status.value
    assert loop_ends(expression, "SomeFutureStatus")


@pytest.mark.parametrize("step", ["training", "scoring"])
def test_a_job_that_does_not_complete_is_cancelled_and_fails_the_run(
    activities: list[dict[str, Any]], step: str
) -> None:
    names = {a["name"]: a for a in walk(activities)}
    for cancel in (f"cancel_{step}", f"cancel_{step}_after_wait"):
        assert names[cancel]["typeProperties"]["method"] == "POST"
        assert names[cancel]["typeProperties"]["url"].endswith(
            f"/jobs/@{{activity('invoke_{step}').output.name}}/cancel?api-version=2024-04-01"
        )
    assert names[f"cancel_{step}_after_wait"]["dependsOn"] == [
        {"activity": f"wait_{step}", "dependencyConditions": ["Failed"]}
    ]
    # A handled failure would report the run Succeeded: a Fail follows each cancel, whatever it did.
    for cancel, fail in (
        (f"cancel_{step}", f"fail_{step}"),
        (f"cancel_{step}_after_wait", f"fail_{step}_wait"),
    ):
        assert names[fail]["type"] == "Fail"
        assert names[fail]["dependsOn"] == [{"activity": cancel, "dependencyConditions": ["Completed"]}]


def test_conditioned_weekly_is_cleared_before_the_copy(activities: list[dict[str, Any]]) -> None:
    names = {a["name"]: a for a in activities}
    branch = names["clear_conditioned_if_exists"]
    (clear,) = branch["typeProperties"]["ifTrueActivities"]
    assert clear["type"] == "Delete"
    assert clear["typeProperties"]["dataset"]["referenceName"] == "ds_conditioned"
    assert {"activity": "clear_conditioned_if_exists", "dependencyConditions": ["Succeeded"]} in names[
        "copy_raw_to_conditioned"
    ]["dependsOn"]


def first_run_findings(activities: list[dict[str, Any]]) -> list[str]:
    """A Delete of a folder that does not exist yet fails the first run: every Delete must sit in an
    IfCondition whose expression reads a Get Metadata `exists` of the same dataset, run before it
    (https://learn.microsoft.com/azure/data-factory/control-flow-get-metadata-activity#metadata-options:
    with `exists` in fieldList a missing folder is not an error)."""
    names = {a["name"]: a for a in activities}
    problems = [
        f"{a['name']}: Delete at the top level runs on a missing folder"
        for a in activities
        if a["type"] == "Delete"
    ]
    for branch in (a for a in walk(activities) if a["type"] == "IfCondition"):
        props = branch["typeProperties"]
        for delete in (d for d in props.get("ifTrueActivities", []) if d["type"] == "Delete"):
            probes = [
                names.get(dep["activity"], {})
                for dep in branch.get("dependsOn", [])
                if "Succeeded" in dep["dependencyConditions"]
            ]
            probe = next((p for p in probes if p.get("type") == "GetMetadata"), None)
            dataset = delete["typeProperties"]["dataset"]["referenceName"]
            if probe is None or "exists" not in probe["typeProperties"].get("fieldList", []):
                problems.append(f"{delete['name']}: no Get Metadata exists check runs before it")
            elif probe["typeProperties"]["dataset"]["referenceName"] != dataset:
                problems.append(f"{delete['name']}: the exists check reads another dataset")
            elif f"activity('{probe['name']}').output.exists" not in str(props.get("expression")):
                problems.append(f"{delete['name']}: the condition does not read the exists check")
    return problems


def test_the_clear_runs_only_when_the_folder_exists(activities: list[dict[str, Any]]) -> None:
    assert first_run_findings(activities) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # the review's case (17:33): the Delete at the top level, run even on the first week
        (
            '      name      = "clear_conditioned_if_exists"\n      type      = "IfCondition"',
            '      name      = "clear_conditioned_if_exists"\n      type      = "Delete"',
            "Delete at the top level",
        ),
        (
            '        fieldList     = ["exists"]',
            '        fieldList     = ["itemName"]',
            "no Get Metadata exists",
        ),
        (
            "@activity('conditioned_exists').output.exists",
            "@equals(1, 1)",
            "does not read the exists check",
        ),
    ],
    ids=["unconditional-delete", "no-exists-field", "condition-ignores-probe"],
)
def test_a_delete_that_fails_the_first_run_is_caught(
    tree: Path, edit: Edit, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    edit("modules/data_factory/main.pipeline.tf", old, new)
    problems = first_run_findings(rendered_activities(tree, tmp_path / "work"))
    assert any(expected in problem for problem in problems), problems


# review-22 N4 (kind: *a copy that parses the week's files instead of moving their bytes*). The
# five input tables differ in columns and the model's contract accepts compressed, parquet and
# UTF-16 files; the local stack hands the model raw's files unchanged (graph: validate reads
# raw_data as it is), so ADF must copy bytes: Binary datasets without compression, a Binary source
# and sink, folders preserved (https://learn.microsoft.com/azure/data-factory/format-binary).
COPY_PARTS = json.loads((REPO / "tests/infra/adf_activity_models.json").read_text())["copy_parts"]
DATASET_BLOCK = re.compile(
    r'(?ms)^resource "azurerm_data_factory_[a-z_]*dataset[a-z_]*" "lake" \{\n(.*?)^\}\n'
)


def rendered_lake_datasets(tree: Path, work: Path) -> dict[str, dict[str, Any]]:
    """The lake datasets' type and typeProperties as Terraform evaluates them, by file system."""
    source = (tree / "modules/data_factory/main.pipeline.tf").read_text()
    block = DATASET_BLOCK.search(source)
    assert block, 'resource "azurerm_data_factory_*dataset*" "lake" not found in main.pipeline.tf'
    body = block.group(1)
    kind = re.search(r'(?m)^  type\s+= "([A-Za-z]+)"', body)
    properties = re.search(r"(?ms)^  type_properties_json = (jsonencode\(.*?\n  \}\))", body)
    if kind is None or properties is None:
        # Any typed dataset resource (delimited_text, parquet, binary ...) is not a custom Binary one.
        return {"raw": {"type": "not a custom dataset: " + body.splitlines()[0]}}
    datasets = {}
    for fs in ("raw", "conditioned"):
        expression = properties.group(1).replace("each.key", f'"{fs}"')
        files = {"main.tf": f"locals {{\n  p = {expression}\n}}\n", "stack.tfvars": ""}
        ok, output = terraform_console(work / fs, files, "local.p")
        assert ok, output
        encoded, _ = json.JSONDecoder().raw_decode(output)
        datasets[fs] = {"type": kind.group(1), "typeProperties": json.loads(encoded)}
    return datasets


def byte_copy_findings(activities: list[dict[str, Any]], datasets: dict[str, dict[str, Any]]) -> list[str]:
    """Why the raw -> conditioned copy would not be a byte copy (empty when it is one)."""
    problems = [
        f"ds_{fs}: type {d['type']} (not Binary)" for fs, d in datasets.items() if d["type"] != "Binary"
    ]
    problems += [
        f"ds_{fs}: compression {d['typeProperties']['compression']} rewrites the bytes"
        for fs, d in datasets.items()
        if d.get("typeProperties", {}).get("compression")
    ]
    copy = next(a for a in activities if a["name"] == "copy_raw_to_conditioned")
    props = copy["typeProperties"]
    for end, expected in (("source", "BinarySource"), ("sink", "BinarySink")):
        part = props[end]
        if part["type"] != expected:
            problems.append(f"copy {end}: {part['type']} (not {expected})")
            continue
        problems += [
            f"copy {end}.{key} (dropped)" for key in sorted(set(part) - set(COPY_PARTS[expected]["fields"]))
        ]
        store = part["storeSettings"]
        problems += [
            f"copy {end}.storeSettings.{key} (dropped)"
            for key in sorted(set(store) - set(COPY_PARTS[store["type"]]["fields"]))
        ]
    if props["source"].get("storeSettings", {}).get("recursive") is not True:
        problems.append("copy source: not recursive (sub-folders of raw/weekly are left behind)")
    behavior = props["sink"].get("storeSettings", {}).get("copyBehavior")
    if behavior != "PreserveHierarchy":
        problems.append(f"copy sink: copyBehavior {behavior} (files renamed or merged)")
    return problems


def test_the_raw_to_conditioned_copy_moves_bytes(tree: Path, tmp_path: Path) -> None:
    activities = rendered_activities(tree, tmp_path / "work")
    datasets = rendered_lake_datasets(tree, tmp_path / "datasets")
    assert byte_copy_findings(activities, datasets) == []
    for fs, dataset in datasets.items():
        # ADLS Gen2's own location (connector-azure-data-lake-storage#dataset-properties), the folder
        # the AML input (raw_data: <conditioned datastore>/paths/weekly/) reads.
        assert dataset["typeProperties"]["location"] == {
            "type": "AzureBlobFSLocation",
            "fileSystem": fs,
            "folderPath": "weekly",
        }
    # Get Metadata, Delete and Copy all read the Binary datasets.
    used = {
        a["typeProperties"]["dataset"]["referenceName"]
        for a in walk(activities)
        if a["type"] in ("GetMetadata", "Delete")
    }
    assert used == {"ds_raw", "ds_conditioned"}


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        # the review's case: main's DelimitedText copy
        (
            [('source = { type = "BinarySource"', 'source = { type = "DelimitedTextSource"')],
            "copy source: DelimitedTextSource",
        ),
        (
            [('  type            = "Binary"\n', '  type            = "DelimitedText"\n')],
            "ds_raw: type DelimitedText",
        ),
        (
            [
                (
                    'folderPath = "weekly" }\n',
                    'folderPath = "weekly" }\n    compression = { type = "gzip" }\n',
                )
            ],
            "compression",
        ),
        (
            [('copyBehavior = "PreserveHierarchy"', 'copyBehavior = "MergeFiles"')],
            "copyBehavior MergeFiles",
        ),
        (
            [
                (
                    'type = "BinarySink", storeSettings = {',
                    'type = "BinarySink", formatSettings = {}, storeSettings = {',
                )
            ],
            "copy sink.formatSettings (dropped)",
        ),
    ],
    ids=[
        "delimited-text-source",
        "delimited-text-dataset",
        "gzip-dataset",
        "merge-files",
        "sink-field-dropped",
    ],
)
def test_a_copy_that_rewrites_the_files_is_caught(
    tree: Path, edit: Edit, tmp_path: Path, edits: list[tuple[str, str]], expected: str
) -> None:
    for old, new in edits:
        edit("modules/data_factory/main.pipeline.tf", old, new)
    problems = byte_copy_findings(
        rendered_activities(tree, tmp_path / "work"), rendered_lake_datasets(tree, tmp_path / "datasets")
    )
    assert any(expected in problem for problem in problems), problems


# review-23 B6 (kind: *training starts on a week with no input*): a missing raw/weekly folder and an
# empty one each fail the run, naming the folder, before any AML job is invoked.
def no_input_findings(activities: list[dict[str, Any]]) -> list[str]:
    names = {a["name"]: a for a in activities}
    problems = []
    probe = names.get("raw_exists", {})
    if probe.get("type") != "GetMetadata" or probe["typeProperties"]["dataset"]["referenceName"] != "ds_raw":
        problems.append("no Get Metadata of ds_raw")
    elif "exists" not in probe["typeProperties"].get("fieldList", []):
        problems.append("raw_exists does not ask for exists")
    guard = names.get("check_raw_exists", {})
    if "activity('raw_exists').output.exists" not in str(guard.get("typeProperties", {}).get("expression")):
        problems.append("check_raw_exists does not read the probe")
    if {"activity": "check_raw_exists", "dependencyConditions": ["Succeeded"]} not in names[
        "copy_raw_to_conditioned"
    ]["dependsOn"]:
        problems.append("the copy does not wait for check_raw_exists")
    copied = names.get("check_input_copied", {})
    expression = str(copied.get("typeProperties", {}).get("expression"))
    if "activity('copy_raw_to_conditioned').output?.filesWritten" not in expression:
        # `?.`: a copy that read nothing may leave filesWritten out, and a missing property fails
        # the expression (review-runtimefix F2)
        problems.append("check_input_copied does not read filesWritten null-safely (output?.filesWritten)")
    for guard_name in ("check_raw_exists", "check_input_copied"):
        branch = names.get(guard_name, {}).get("typeProperties", {}).get("ifTrueActivities", [])
        if not any(a["type"] == "Fail" and "raw/weekly" in a["typeProperties"]["message"] for a in branch):
            problems.append(f"{guard_name}: no Fail naming raw/weekly")
    if names["invoke_training"]["dependsOn"] != [
        {"activity": "check_input_copied", "dependencyConditions": ["Succeeded"]}
    ]:
        problems.append("invoke_training does not wait for check_input_copied")
    return problems


def test_a_week_with_no_input_fails_before_training(activities: list[dict[str, Any]]) -> None:
    assert no_input_findings(activities) == []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        # main's pipeline: training invoked right after the copy, whatever it copied
        (
            'step == "training" ? "check_input_copied"',
            'step == "training" ? "copy_raw_to_conditioned"',
            "invoke_training",
        ),
        ("output?.filesWritten, 0), 0)", "output?.rowsCopied, 0), 0)", "filesWritten"),
        ("output?.filesWritten, 0), 0)", "output.filesWritten, 0), 0)", "null-safely"),
        (
            '        { activity = "check_raw_exists", dependencyConditions = ["Succeeded"] },\n',
            "",
            "does not wait",
        ),
        (
            'message   = "the lake has no raw/weekly folder',
            'message   = "no input',
            "check_raw_exists: no Fail",
        ),
    ],
    ids=[
        "training-right-after-copy",
        "wrong-output-field",
        "output-field-not-null-safe",
        "copy-ignores-probe",
        "fail-does-not-name-folder",
    ],
)
def test_a_missing_input_guard_is_caught(
    tree: Path, edit: Edit, tmp_path: Path, old: str, new: str, expected: str
) -> None:
    edit("modules/data_factory/main.pipeline.tf", old, new)
    problems = no_input_findings(rendered_activities(tree, tmp_path / "work"))
    assert any(expected in problem for problem in problems), problems


def test_the_binary_datasets_do_not_reuse_the_delimited_text_datasets_names() -> None:
    """Final tffix2 review, MAJOR-1: an applied stack holds DelimitedText datasets ds_raw and
    ds_conditioned that its pipeline references; a Binary dataset under the same name can be neither
    created beside them nor swapped in by delete-then-create. New names let Terraform create, update
    the pipeline, then delete."""
    source = (REPO / "modules" / "data_factory" / "main.pipeline.tf").read_text(encoding="utf-8")
    block = re.search(r'(?s)resource "azurerm_data_factory_custom_dataset" "lake" \{.*?\n\}', source)
    assert block, "the Binary datasets' resource moved"
    name = re.search(r'\n  name\s+= "([^"]+)"', block.group(0))
    assert name, "no name in the Binary datasets' resource"
    for key in ("raw", "conditioned"):
        assert name.group(1).replace("${each.key}", key) != f"ds_{key}", name.group(1)
