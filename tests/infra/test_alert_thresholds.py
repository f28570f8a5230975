"""The alert thresholds (MAPE target, staleness limit) have one source: the model's settings
(`evaluate.target_mape`, `monitor.stale_after_days` in src/model/demand_forecast/defaults.yaml, read
through `demand_forecast.settings.alert_thresholds`). The local stack reads them from there; every
Terraform copy the Azure alert rules use is checked against them here, with Terraform itself judging
the `optional(number, ...)` defaults of the variables' types.

Was: 0.45 and 60 written in eight places (defaults.yaml, the local settings and their model, the
dashboard, modules/monitoring, infra/variables.tf, both tfvars), free to disagree.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import hcl2
import pytest
from demand_forecast.settings import AlertThresholds, alert_thresholds
from infra_helpers import terraform_console

ROOT = Path(__file__).resolve().parents[2]
_OPTIONS = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
# (file, variable, the value the variable needs to be valid, its keys for the MAPE and the age limit)
VARIABLE_DEFAULTS = [
    ("modules/monitoring/variables.tf", "alerts", "{}", ("mape_threshold", "stale_after_days")),
    (
        "infra/variables.tf",
        "monitoring",
        "{ retention_in_days = 30 }",
        ("mape_threshold", "stale_after_days"),
    ),
]
TFVARS = ["envs/dev/terraform.tfvars", "envs/prod/terraform.tfvars"]
FIX = (
    "write the model's value (src/model/demand_forecast/defaults.yaml: evaluate.target_mape, "
    "monitor.stale_after_days), the one source"
)


def source() -> AlertThresholds:
    return alert_thresholds()


def variable_type(tree: Path, file: str, name: str) -> str:
    with (tree / file).open(encoding="utf-8") as handle:
        document = hcl2.load(handle, serialization_options=_OPTIONS)
    for block in document.get("variable", []):
        if name in block:
            text = str(block[name]["type"])
            return text[2:-1] if text.startswith("${") else text
    raise AssertionError(f"{file}: no variable {name!r}")


def default_findings(tree: Path, work: Path, expected: AlertThresholds) -> list[str]:
    """Each variable default that is not the source's value, as Terraform evaluates it."""
    findings = []
    for index, (file, name, value, (mape_key, age_key)) in enumerate(VARIABLE_DEFAULTS):
        files = {
            "variables.tf": f'variable "{name}" {{\n  type = {variable_type(tree, file, name)}\n}}\n',
            "stack.tfvars": f"{name} = {value}\n",
        }
        ok, out = terraform_console(
            work / str(index), files, f"jsonencode([var.{name}.{mape_key}, var.{name}.{age_key}])"
        )
        assert ok, out
        mape, age = (float(part) for part in out.split('"')[1].strip("[]").split(","))
        if (mape, age) != (expected.target_mape, expected.stale_after_days):
            findings.append(f"{file}: {name}.{mape_key}/{age_key} default to {mape:g}/{age:g}; {FIX}")
    return findings


def tfvars_findings(tree: Path, expected: AlertThresholds) -> list[str]:
    findings = []
    for file in TFVARS:
        with (tree / file).open(encoding="utf-8") as handle:
            monitoring = hcl2.load(handle, serialization_options=_OPTIONS).get("monitoring", {})
        for key, want in (
            ("mape_threshold", expected.target_mape),
            ("stale_after_days", expected.stale_after_days),
        ):
            if key in monitoring and float(monitoring[key]) != want:
                findings.append(
                    f"{file}: monitoring.{key} = {monitoring[key]}, the model's is {want:g}; {FIX}"
                )
    return findings


def test_every_terraform_copy_of_the_thresholds_is_the_models(tmp_path: Path) -> None:
    expected = source()
    assert default_findings(ROOT, tmp_path, expected) + tfvars_findings(ROOT, expected) == []


@pytest.mark.parametrize(
    ("file", "old", "new"),
    [
        (
            "modules/monitoring/variables.tf",
            "mape_threshold   = optional(number, 0.45)",
            "mape_threshold   = optional(number, 0.5)",
        ),
        (
            "infra/variables.tf",
            "stale_after_days      = optional(number, 60)",
            "stale_after_days      = optional(number, 90)",
        ),
        ("envs/prod/terraform.tfvars", "mape_threshold        = 0.45", "mape_threshold        = 0.4"),
        ("envs/dev/terraform.tfvars", "stale_after_days      = 60", "stale_after_days      = 61"),
    ],
)
def test_a_copy_that_drifts_is_named_with_the_fix(file: str, old: str, new: str, tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for part in ("modules/monitoring", "infra", "envs/dev", "envs/prod"):
        (tree / part).mkdir(parents=True)
    for path in [entry[0] for entry in VARIABLE_DEFAULTS] + TFVARS:
        shutil.copy(ROOT / path, tree / path)
    text = (tree / file).read_text(encoding="utf-8")
    assert old in text, f"{file} no longer holds {old!r}: update this test's broken copy"
    (tree / file).write_text(text.replace(old, new), encoding="utf-8")
    expected = source()
    findings = default_findings(tree, tmp_path / "work", expected) + tfvars_findings(tree, expected)
    assert len(findings) == 1
    assert findings[0].startswith(file)
    assert "defaults.yaml" in findings[0]


def test_the_local_stack_reads_the_models_thresholds(tmp_path: Path) -> None:
    from stackctl.local.settings import LocalSettings

    overlay = tmp_path / "model.yaml"
    overlay.write_text("evaluate:\n  target_mape: 0.3\nmonitor:\n  stale_after_days: 30\n", encoding="utf-8")
    settings = LocalSettings(model_config=Path("model.yaml"))
    assert settings.alert_thresholds(tmp_path) == AlertThresholds(0.3, 30)
    assert LocalSettings().alert_thresholds(tmp_path) == source()
