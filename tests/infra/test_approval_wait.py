"""The factory's managed-private-endpoint approvals wait for the endpoint to reach its target
(issue 10 fault 9, the approval race): the read of the target's connections depends on a wait that
follows each endpoint, never on the endpoint's PUT alone (modules/data_factory/main.tf says why)."""

from __future__ import annotations

from pathlib import Path

import hcl2
from infra_helpers import Edit

_OPTIONS = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
MAIN = "modules/data_factory/main.tf"


def approval_race_findings(tree: Path) -> list[str]:
    with (tree / MAIN).open(encoding="utf-8") as handle:
        document = hcl2.load(handle, serialization_options=_OPTIONS)
    sleeps = {
        name: body
        for entry in document.get("resource", [])
        for name, body in entry.get("time_sleep", {}).items()
    }
    reads = [
        body
        for entry in document.get("data", [])
        for name, body in entry.get("azapi_resource", {}).items()
        if name == "managed_private_endpoint_target"
    ]
    if not reads:
        return ["no read of the targets' connections"]
    waits = [str(d).strip("${}") for d in reads[0].get("depends_on", [])]
    findings = []
    waited = [w.split(".")[1] for w in waits if w.startswith("time_sleep.")]
    if not waited:
        findings.append(
            f"the targets' connections are read right after the endpoints' PUT (depends_on = {waits})"
        )
    for name in waited:
        triggers = str(sleeps.get(name, {}).get("triggers", ""))
        if "azurerm_data_factory_managed_private_endpoint.this" not in triggers:
            findings.append(
                f"time_sleep.{name} does not follow the endpoints (a recreated one would not wait)"
            )
    return findings


def test_the_approval_waits_for_each_endpoint(root: Path) -> None:
    assert approval_race_findings(root) == []


def test_an_approval_read_right_after_the_put_is_caught(tree: Path, edit: Edit) -> None:
    edit(
        MAIN,
        "depends_on = [time_sleep.managed_private_endpoint_provisioning]",
        "depends_on = [azurerm_data_factory_managed_private_endpoint.this]",
    )
    (finding,) = approval_race_findings(tree)
    assert "right after the endpoints' PUT" in finding
