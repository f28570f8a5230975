"""The `stack` description of an environment before it exists: names from the naming convention.

`make pipelines ENV=dev` shows what deploy would create before the first `terraform apply`. What the
AML assets need (workspace, clusters, datastores, endpoints, schedules) are names the naming
convention makes from terraform.tfvars, so Terraform itself evaluates them: `terraform console` over
a scratch copy of infra/naming.tf, infra/variables.tf and modules/naming with the env's tfvars
(no providers, no state, no network). Values only Azure knows (subscription, tenant, principal
ids) are placeholders that say so; `stackctl pipelines dump` prints that the description was derived.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import hcl2

from stackctl.aml.stack_output import StackOutput, parse_stack_output
from stackctl.errors import StackctlError

UNKNOWN = "(known after apply)"
# infra/main.tf: the cluster of each purpose is "<compute_prefix>-<purpose>" (modules/aml_compute),
# the datastores are "lake_<file system>" (Gen2, inputs) and "lake_<file system>_blob" (AzureBlob,
# outputs), endpoints are invoked at the regional inference host.
FILE_SYSTEMS = ("raw", "conditioned", "scored")
EXPRESSION = (
    "jsonencode({names = local.names, environment = var.environment, location = var.location, "
    "schedules = var.schedules, powerbi = var.powerbi, aml = var.aml})"
)


def _terraform_values(root: Path, env: str) -> dict[str, Any]:
    tfvars = root / "envs" / env / "terraform.tfvars"
    terraform = shutil.which("terraform")
    if terraform is None:
        raise StackctlError(
            "terraform is not on PATH, so the names cannot be derived from the naming convention",
            where="PATH",
            fix="install Terraform >= 1.9, or pass --stack-json with a saved `terraform output -json`",
        )
    with tempfile.TemporaryDirectory(prefix="naming-") as scratch:
        # infra/naming.tf calls the provider-free ../modules/naming: keep that relative layout, and
        # `init` installs the local module (no provider, no registry, no network).
        work = Path(scratch) / "infra"
        work.mkdir()
        for name in ("naming.tf", "variables.tf"):
            shutil.copy2(root / "infra" / name, work / name)
        shutil.copytree(root / "modules" / "naming", Path(scratch) / "modules" / "naming")
        proc = subprocess.run(
            [terraform, "init", "-backend=false", "-input=false", "-no-color"],
            cwd=work,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if proc.returncode == 0:
            proc = subprocess.run(
                [terraform, "console", "-no-color", f"-var-file={tfvars}"],
                input=EXPRESSION,
                cwd=work,
                capture_output=True,
                text=True,
                check=False,
                timeout=120,
            )
    # `terraform console` exits 0 when a variable fails its validation: it prints the error on stderr
    # and evaluates on ("Due to the problems above, some expressions may produce unexpected results";
    # Terraform 1.11), so the error text decides, not the exit status.
    if proc.returncode != 0 or "Error: " in proc.stderr:
        raise StackctlError(
            f"terraform console could not evaluate the naming convention: {proc.stderr.strip()[-1500:]}",
            where=str(tfvars),
            fix="fix the tfvars (`make validate ENV=<env>` names the problem)",
        )
    # console prints the HCL string literal of the JSON: one more JSON decode unquotes it.
    values: dict[str, Any] = json.loads(json.loads(proc.stdout.strip()))
    return values


def node_sizes(root: Path) -> dict[str, dict[str, int]]:
    """vCPUs and GPUs of one node by VM size: modules/aml_compute/main.tf's `local.vm_sizes`, the
    table its `nodes` output reads (a literal map, read with python-hcl2: that module needs the azurerm
    provider, so `terraform console` cannot evaluate it here). {} if the table is gone, so sizes are
    unknown and `stackctl.aml.specs.distributed_run` judges the node count only."""
    source = root / "modules" / "aml_compute" / "main.tf"
    with source.open(encoding="utf-8") as handle:
        module: dict[str, list[dict[str, dict[str, dict[str, int]]]]] = hcl2.load(handle)
    for block in module.get("locals", []):
        if "vm_sizes" in block:
            return {
                size.strip('"'): {"vcpus": int(node["vcpus"]), "gpus": int(node["gpus"])}
                for size, node in block["vm_sizes"].items()
            }
    return {}


def derived_stack(root: Path, env: str) -> StackOutput:
    """The `stack` output infra/outputs.tf would give `env`, for names; ids are UNKNOWN placeholders.

    Long because it is one literal: the shape of infra/outputs.tf's `stack` output, field by field,
    so a reader can hold the two side by side."""
    values = _terraform_values(root, env)
    sizes = node_sizes(root)
    names: dict[str, str] = values["names"]
    location = str(values["location"])
    schedules = values["schedules"]
    aml = values["aml"]

    def endpoint(name: str) -> dict[str, str]:
        return {"name": name, "invoke_uri": f"https://{name}.{location}.inference.ml.azure.com/jobs"}

    sql_fqdn = f"{names['sql_server']}.database.windows.net"
    stack = {
        "environment": values["environment"],
        "location": location,
        "subscription_id": UNKNOWN,
        "tenant_id": UNKNOWN,
        "resource_group_name": names["resource_group"],
        "aml": {
            "workspace_name": names["aml_workspace"],
            "workspace_id": UNKNOWN,
            "principal_id": UNKNOWN,
            "gpu_cluster_name": f"{names['compute_prefix']}-gpu",
            "cpu_cluster_name": f"{names['compute_prefix']}-cpu",
            "cpu_cluster_principal_id": UNKNOWN,
            "datastores": {fs: f"lake_{fs}" for fs in FILE_SYSTEMS},
            "output_datastores": {fs: f"lake_{fs}_blob" for fs in ("conditioned", "scored")},
            # modules/aml_compute's `nodes` output, from the same size table it reads: the train node's
            # OMP_NUM_THREADS (vCPUs / processes) is then the one deploy publishes after apply.
            "clusters": {
                kind: {
                    "vm_size": aml[f"{kind}_vm_size"],
                    "max_node_count": aml[f"{kind}_max_nodes"],
                    **sizes.get(aml[f"{kind}_vm_size"], {}),
                }
                for kind in ("gpu", "cpu")
            },
            "distributed": {
                "train": {
                    "compute": aml["train_compute"],
                    "instance_count": aml["train_instance_count"],
                    "process_count_per_instance": aml["train_processes_per_instance"],
                },
                # infra/outputs.tf: one node of the CPU cluster
                "score": {
                    "compute": "cpu",
                    "instance_count": 1,
                    "process_count_per_instance": aml["score_processes_per_instance"],
                },
            },
        },
        "data_lake": {
            "account_name": names["data_lake"],
            "dfs_endpoint": f"https://{names['data_lake']}.dfs.core.windows.net/",
            "file_systems": {fs: fs for fs in FILE_SYSTEMS},
        },
        "endpoints": {
            "training": endpoint(names["training_endpoint"]),
            "scoring": endpoint(names["scoring_endpoint"]),
        },
        "data_factory": {"name": names["data_factory"], "principal_id": UNKNOWN, "pipeline_name": UNKNOWN},
        "sql": {
            "server_name": names["sql_server"],
            "server_fqdn": sql_fqdn,
            "database_name": UNKNOWN,
            "aad_principals": {"aml": names["aml_workspace"], "adf": names["data_factory"]},
        },
        "powerbi": {
            "server": sql_fqdn,
            "database": UNKNOWN,
            "views": [],
            "entra_group": values["powerbi"]["group_display_name"],
            "entra_group_object_id": values["powerbi"]["group_object_id"],
        },
        "monitoring": {
            "log_analytics_workspace_id": UNKNOWN,
            "application_insights_name": names["application_insights"],
        },
        "schedules": {
            "time_zone": schedules["time_zone"],
            "training_cron": schedules["training_cron"],
            "scoring_cron": schedules["scoring_cron"],
            "aml_schedules_enabled": not schedules["adf_trigger_active"],
        },
    }
    return parse_stack_output(
        {"stack": {"value": stack}}, where=f"naming convention + envs/{env}/terraform.tfvars"
    )
