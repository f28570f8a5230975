"""Azure-side prerequisites: resource providers, quotas for the chosen SKUs, the bootstrap's state
storage, and the state backend the env root will use."""

from __future__ import annotations

from typing import Any

import hcl2
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ServiceRequestError
from azure.storage.blob import ContainerClient

from stackctl.doctor.clients import Unreachable
from stackctl.doctor.context import DoctorContext, names, require_arm
from stackctl.doctor.report import CheckResult, failed, passed, unchecked
from stackctl.doctor.settings import BOOTSTRAP

# https://learn.microsoft.com/rest/api/azureml/usages/list and .../virtual-machine-sizes/list
AML_API = "2024-04-01"
STORAGE_API = "2023-05-01"


def providers_to_register(ctx: DoctorContext) -> list[str]:
    """The namespaces the bootstrap registers (envs/bootstrap/main.tf, the azurerm provider block)."""
    with (ctx.settings.root / BOOTSTRAP / "main.tf").open() as handle:
        parsed = hcl2.load(handle, serialization_options=hcl2.SerializationOptions(strip_string_quotes=True))
    azurerm = next(block["azurerm"] for block in parsed["provider"] if "azurerm" in block)
    return [str(namespace) for namespace in azurerm["resource_providers_to_register"]]


def resource_providers(ctx: DoctorContext) -> CheckResult:
    arm = require_arm(ctx)
    missing = [ns for ns in providers_to_register(ctx) if arm.provider_state(ns) != "Registered"]
    if missing:
        return failed(
            "providers",
            f"not registered: {', '.join(missing)}",
            f"an owner runs the bootstrap, or `az provider register --namespace {missing[0]}` for each",
        )
    return passed("providers", "every resource provider the stacks need is registered")


def _needed_cores(ctx: DoctorContext, sizes: dict[str, dict[str, Any]]) -> dict[str, int]:
    """vCPUs per VM family the stack's clusters can scale to (vCPUs x max nodes, summed per family)."""
    aml = ctx.settings.stack.get("aml", {})
    needed: dict[str, int] = {}
    for kind in ("gpu", "cpu"):
        size = sizes[aml[f"{kind}_vm_size"]]
        needed[size["family"]] = needed.get(size["family"], 0) + int(size["vCPUs"]) * int(
            aml[f"{kind}_max_nodes"]
        )
    return needed


def quotas(ctx: DoctorContext) -> CheckResult:
    """Each cluster's VM size is offered in the stack's region and its family has the cores the
    cluster can scale to. Low-priority clusters draw on the region's shared low-priority quota.
    https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas"""
    arm = require_arm(ctx)
    location = ctx.settings.stack.get("location")
    aml = ctx.settings.stack.get("aml", {})
    provider = f"/subscriptions/{arm.subscription_id}/providers/Microsoft.MachineLearningServices"
    base = f"{provider}/locations/{location}"
    sizes = {s["name"]: s for s in arm.list(f"{base}/vmSizes", AML_API)}
    absent = [aml[f"{k}_vm_size"] for k in ("gpu", "cpu") if aml.get(f"{k}_vm_size") not in sizes]
    if absent:
        return failed(
            "quotas",
            f"not offered by Azure ML in {location}: {', '.join(absent)}",
            f"choose sizes `az ml compute list-sizes -l {location}` lists "
            f"(envs/{ctx.settings.env}/terraform.tfvars, aml)",
        )
    needed = _needed_cores(ctx, sizes)
    if aml.get("vm_priority") == "LowPriority":
        needed = {"lowPriorityCores": sum(needed.values())}
    usages = {u["name"]["value"]: u for u in arm.list(f"{base}/usages", AML_API)}
    unknown = [family for family in needed if family not in usages]
    if unknown:
        return unchecked(
            "quotas",
            f"Azure ML reports no usage for {', '.join(unknown)}",
            "check the quota in the portal (Azure ML, Quota)",
        )
    short = {
        f: (n, usages[f]["limit"] - usages[f]["currentValue"])
        for f, n in needed.items()
        if usages[f]["limit"] - usages[f]["currentValue"] < n
    }
    if short:
        detail = "; ".join(f"{family}: needs {n} cores, {free} free" for family, (n, free) in short.items())
        return failed(
            "quotas", detail, f"request more quota for {', '.join(short)} in {location}, or lower max nodes"
        )
    return passed("quotas", "; ".join(f"{family}: {n} cores available" for family, n in needed.items()))


def _state_account(ctx: DoctorContext) -> dict[str, Any] | None:
    arm = require_arm(ctx)
    return arm.get(
        f"/subscriptions/{arm.subscription_id}/resourceGroups/{names(ctx, 'bootstrap_resource_group')}"
        f"/providers/Microsoft.Storage/storageAccounts/{ctx.settings.bootstrap['state_storage_account_name']}",
        STORAGE_API,
    )


def bootstrap_state(ctx: DoctorContext) -> CheckResult:
    """The bootstrap ran: its state account (Entra-only, deny by default), this environment's state
    container, and its deploying and plan identities exist."""
    arm = require_arm(ctx)
    account = _state_account(ctx)
    run_bootstrap = "an owner runs scripts/bootstrap_state.sh (README 'Azure: first deploy', step 3)"
    if account is None:
        return failed("bootstrap-state", "no state storage account", run_bootstrap)
    properties = account["properties"]
    if (
        properties.get("allowSharedKeyAccess", True)
        or properties.get("networkAcls", {}).get("defaultAction") != "Deny"
    ):
        return failed(
            "bootstrap-state",
            "the state account allows shared keys or every network",
            "run the bootstrap again: it sets both",
        )
    container = arm.get(
        f"{account['id']}/blobServices/default/containers/{names(ctx, 'state_container')}", STORAGE_API
    )
    group = f"/subscriptions/{arm.subscription_id}/resourceGroups/{names(ctx, 'bootstrap_resource_group')}"
    identities = {
        key: arm.get(
            f"{group}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{names(ctx, key)}",
            "2023-01-31",
        )
        for key in ("identity", "plan_identity")
    }
    missing = [names(ctx, "state_container")] if container is None else []
    missing += [names(ctx, key) for key, found in identities.items() if found is None]
    if missing:
        return failed("bootstrap-state", f"missing: {', '.join(missing)}", run_bootstrap)
    return passed(
        "bootstrap-state",
        f"state account {account['name']}, container and identities of {ctx.settings.env} exist",
    )


def _backend_settings(ctx: DoctorContext) -> dict[str, Any] | None:
    path = ctx.settings.root / "envs" / ctx.settings.env / "backend.hcl"
    if not path.is_file():
        return None
    with path.open() as handle:
        return dict(
            hcl2.load(handle, serialization_options=hcl2.SerializationOptions(strip_string_quotes=True))
        )


def state_backend(ctx: DoctorContext) -> CheckResult:
    """envs/<env>/backend.hcl names the bootstrap's account and this environment's container, and
    the container answers this machine (network rules and the identity's data role)."""
    backend = _backend_settings(ctx)
    if backend is None:
        return failed(
            "state-backend",
            f"envs/{ctx.settings.env}/backend.hcl is missing",
            "run scripts/write_backend_config.sh with the bootstrap output `state`",
        )
    expected = (ctx.settings.bootstrap.get("state_storage_account_name"), names(ctx, "state_container"))
    if (backend.get("storage_account_name"), backend.get("container_name")) != expected:
        return failed(
            "state-backend",
            f"backend.hcl names {backend.get('storage_account_name')}/{backend.get('container_name')}",
            f"it must name {expected[0]}/{expected[1]}: run scripts/write_backend_config.sh",
        )
    account = _state_account(ctx)
    if account is None or ctx.credential is None:
        raise Unreachable("the state account or an Azure credential is not available")
    client = ContainerClient(
        account["properties"]["primaryEndpoints"]["blob"], expected[1], credential=ctx.credential
    )
    try:
        client.get_container_properties()
    except (ClientAuthenticationError, ServiceRequestError) as exc:
        raise Unreachable(f"the state container is not reachable ({type(exc).__name__})") from exc
    except HttpResponseError as exc:
        code = getattr(exc, "error_code", None) or exc.status_code
        fix = (
            "add your public IP to state_allowed_ip_ranges and run the bootstrap"
            if code == "AuthorizationFailure"
            else "the identity needs a data role on the container (the pipeline's identities have one)"
        )
        return failed("state-backend", f"the state container refused this machine ({code})", fix)
    return _state_blob(client, str(backend.get("key")), expected)


def _state_blob(client: ContainerClient, key: str, where: tuple[object, object]) -> CheckResult:
    """The environment's state exists before its first release: its first run is the plan job, whose
    identity only reads the state, and Terraform's azurerm backend creates a missing state by
    writing and leasing it (review 23 walk, B1; envs/bootstrap/main.state.tf)."""
    try:
        exists = client.get_blob_client(key).exists()
    except (ClientAuthenticationError, ServiceRequestError) as exc:
        raise Unreachable(f"the state blob is not reachable ({type(exc).__name__})") from exc
    if not exists:
        return failed(
            "state-backend",
            f"{where[0]}/{where[1]}/{key} does not exist: the first plan would fail (its identity cannot "
            "create the state)",
            "run scripts/bootstrap_state.sh again: it writes each environment's first, empty state",
        )
    return passed("state-backend", f"backend.hcl and {where[0]}/{where[1]}/{key} answer this machine")
