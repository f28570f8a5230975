"""The `stack` output of the Terraform stack: what deploy needs to know about an environment.

The shape is the contract between infra/ and stackctl (see the task's contract); unknown extra keys
are tolerated so the stack can grow, missing ones are an error naming the key.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from stackctl.errors import StackctlError


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class LakeNames(_Part):
    raw: str
    conditioned: str
    scored: str


class OutputDatastoreNames(_Part):
    """AzureBlob datastores on the lake file systems AML writes to: batch endpoints write outputs only
    to Blob Storage datastores (https://learn.microsoft.com/azure/machine-learning/how-to-access-data-batch-endpoints-jobs),
    so a deployment's default_datastore names one of these, never a Gen2 one of `datastores`."""

    conditioned: str
    scored: str


class ClusterNodes(_Part):
    """One job cluster's node and its size limit (modules/aml_compute output `nodes`)."""

    vm_size: str
    # None only where the size is missing from modules/aml_compute's table (stackctl.aml.naming
    # derives them from that table before the stack exists).
    vcpus: int | None = None
    gpus: int | None = None
    max_node_count: int = Field(ge=1)


class DistributedStepSettings(_Part):
    """How one distributed step runs in AML (infra/variables.tf `aml.<step>_*`, infra/outputs.tf):
    the cluster, the nodes of one job (`resources.instance_count`) and the torch.distributed
    processes per node (PyTorch distribution `process_count_per_instance`)."""

    compute: Literal["cpu", "gpu"]
    instance_count: int = Field(ge=1)
    process_count_per_instance: int = Field(ge=1)


class AmlPart(_Part):
    workspace_name: str
    workspace_id: str
    principal_id: str
    gpu_cluster_name: str
    cpu_cluster_name: str
    # The jobs' user-assigned identity (kept under its old key): the jobs, publish among them, run as it.
    cpu_cluster_principal_id: str
    datastores: LakeNames
    # Where AML outputs land (infra/outputs.tf `output_datastores`).
    output_datastores: OutputDatastoreNames
    # Absent from stacks applied before issue 20: a distributed step then runs as one process on one
    # node of its graph's cluster, as before (stackctl.aml.specs.distributed_run).
    clusters: dict[Literal["cpu", "gpu"], ClusterNodes] = {}
    distributed: dict[str, DistributedStepSettings] = {}


class DataLakePart(_Part):
    account_name: str
    dfs_endpoint: str
    file_systems: LakeNames


class EndpointRef(_Part):
    name: str
    invoke_uri: str


class EndpointsPart(_Part):
    training: EndpointRef
    scoring: EndpointRef


class DataFactoryPart(_Part):
    name: str
    principal_id: str
    pipeline_name: str


class AadPrincipals(_Part):
    aml: str
    adf: str


class PrincipalSid(_Part):
    """The GUID whose bytes are a contained user's SID (client id, or a group's object id) and
    its TYPE: E (managed identity, service principal, user) or X (group)."""

    id: str
    type: str = "E"


class SqlPart(_Part):
    server_name: str
    server_fqdn: str
    database_name: str
    reporting_schema: str = "reporting"
    aad_principals: AadPrincipals
    # By purpose (aml, adf); absent in outputs of stacks applied before issue 10 (then the users
    # are created FROM EXTERNAL PROVIDER, which needs Directory Readers on the server's identity).
    aad_principal_sids: dict[str, PrincipalSid] = {}


class PowerBiPart(_Part):
    server: str
    database: str
    schema_: str = "reporting"
    views: list[str]
    # The Entra group of Power BI's dataset owners and gateways: read-only on the views.
    entra_group: str
    entra_group_object_id: str

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    def __init__(self, **data: Any):
        if "schema" in data:
            data["schema_"] = data.pop("schema")
        super().__init__(**data)


class MonitoringPart(_Part):
    log_analytics_workspace_id: str
    application_insights_name: str


class SchedulesPart(_Part):
    time_zone: str
    training_cron: str
    scoring_cron: str
    aml_schedules_enabled: bool


class JobIdentity(_Part):
    """The user-assigned identity attached to both compute clusters: the identity every job runs as.

    Its roles (lake data, Monitoring Metrics Publisher on App Insights) and its contained SQL user
    (`sql.aad_principal_sids.job`, the same client id) come from infra/. Jobs select it with
    AZURE_CLIENT_ID (`stackctl.aml.specs.job_environment`)."""

    client_id: str
    principal_id: str
    id: str
    # The identity's resource name: also the name of its contained SQL user.
    name: str


class StackOutput(_Part):
    environment: Literal["dev", "prod"]
    location: str
    subscription_id: str
    tenant_id: str
    resource_group_name: str
    aml: AmlPart
    data_lake: DataLakePart
    endpoints: EndpointsPart
    data_factory: DataFactoryPart
    sql: SqlPart
    powerbi: PowerBiPart
    monitoring: MonitoringPart
    schedules: SchedulesPart
    # Optional in the model so that `pipelines dump` can show a stack applied before they existed;
    # deploy refuses without them (`stackctl.aml.specs.require_job_settings`).
    job_identity: JobIdentity | None = None
    # App Insights' connection string: Terraform marks it sensitive, so it comes as its own top-level
    # output (`application_insights_connection_string`), never inside `stack`, and it is never
    # written to build/<env>/stack.json. Microsoft does not count it a secret (its ikey "isn't a
    # security token", https://learn.microsoft.com/azure/azure-monitor/app/connection-strings), and
    # our App Insights accepts only Entra-authenticated ingestion, so jobs may carry it in their
    # environment.
    application_insights_connection_string: str | None = None


CONNECTION_STRING_OUTPUT = "application_insights_connection_string"


def parse_stack_output(outputs: dict[str, Any], where: str) -> StackOutput:
    """`outputs` is `terraform output -json`: {"stack": {"value": {...}, "sensitive": false, ...}}."""
    if "stack" not in outputs:
        raise StackctlError(
            "terraform has no output named `stack` (has the stack been applied?)",
            where=where,
            fix="run `make apply ENV=<env>` first; envs/<env> must pass through infra's `stack` output",
        )
    entry = outputs["stack"]
    value = entry.get("value", entry) if isinstance(entry, dict) else entry
    if isinstance(entry, dict) and entry.get("sensitive"):
        raise StackctlError(
            "the `stack` output is marked sensitive; it must hold names and ids only, never a secret",
            where=where,
            fix="remove whatever secret made it sensitive from infra's `stack` output",
        )
    extra = outputs.get(CONNECTION_STRING_OUTPUT)
    if isinstance(extra, dict) and isinstance(value, dict):
        value = {**value, CONNECTION_STRING_OUTPUT: extra.get("value")}
    try:
        return StackOutput.model_validate(value)
    except ValidationError as exc:
        problems = "; ".join(f"stack.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise StackctlError(
            f"the `stack` output does not match the contract: {problems}",
            where=where,
            fix="update infra/outputs.tf to the contract in the deploy issue",
        ) from exc


def load_stack_file(path: Path) -> StackOutput:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise StackctlError(
            f"cannot read the stack description: {exc}",
            where=str(path),
            fix="pass the output of `terraform output -json` (or its `stack` value)",
        ) from exc
    if "stack" not in data:
        data = {"stack": {"value": data}}
    return parse_stack_output(data, str(path))
