"""Create or update the AML assets of one environment, creating only what is new.

The client is injected (an `azure.ai.ml.MLClient` in real runs, a recording fake in tests). Versioned
assets (environment, components, pipeline components) exist or not under their content-hash version;
unversioned ones (endpoints, schedules) carry the hash of their spec in a tag, so a second deploy with
nothing changed reads everything and writes nothing.

Batch deployments are one per pipeline component version (`specs.deployment_name`): a new model or
environment is a NEW deployment; once it exists, the endpoint's default is switched to it (invocations
without a deployment name, as ADF's, go to the default:
https://learn.microsoft.com/azure/machine-learning/how-to-use-batch-pipeline-deployments), the previous
default stays for `rollback()`, and deployments beyond `keep` (newest first, never the default or the
rollback target) are deleted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from azure.ai.ml import MLClient
from azure.ai.ml.entities import BatchEndpoint, PipelineComponentBatchDeployment, Resource
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from rich.console import Console

from stackctl.aml.azure import LOGIN_FIX, retry_while_roles_propagate
from stackctl.aml.specs import CONTENT_HASH_TAG, AmlAssets
from stackctl.errors import StackctlError

DEPLOYED_AT_TAG = "deployed_at"
PREVIOUS_TAG = "previous_deployment"
DEFAULT_KEEP = 3
T = TypeVar("T")


@dataclass
class DeployReport:
    created: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)

    @property
    def no_changes(self) -> bool:
        return not self.created


def _tag(entity: Resource) -> str | None:
    tags = getattr(entity, "tags", None) or {}
    value = tags.get(CONTENT_HASH_TAG)
    return None if value is None else str(value)


def _default_deployment(endpoint: BatchEndpoint) -> str | None:
    # A fetched endpoint carries the REST defaults object; one built here carries a dict.
    defaults = getattr(endpoint, "defaults", None)
    if isinstance(defaults, dict):
        return defaults.get("deployment_name")
    return getattr(defaults, "deployment_name", None)


def _deployed_at(deployment: Resource) -> str:
    tags = getattr(deployment, "tags", None) or {}
    if tags.get(DEPLOYED_AT_TAG):
        return str(tags[DEPLOYED_AT_TAG])
    created = getattr(getattr(deployment, "creation_context", None), "created_at", None)
    return created.isoformat() if isinstance(created, datetime) else str(created or "")


def _set_default(client: MLClient, endpoint_name: str, deployment_name: str) -> str | None:
    """Point the endpoint's default at `deployment_name`; the previous default is kept in a tag."""
    live = client.batch_endpoints.get(name=endpoint_name)
    previous = _default_deployment(live)
    if previous == deployment_name:
        return previous
    live.defaults = {"deployment_name": deployment_name}
    if previous:
        live.tags = {**(live.tags or {}), PREVIOUS_TAG: previous}
    client.batch_endpoints.begin_create_or_update(live).result()
    return previous


def _keeping_release(endpoint: BatchEndpoint, live: BatchEndpoint | None) -> BatchEndpoint:
    """`endpoint` with what the live endpoint knows of releases: its default deployment and the
    `previous_deployment` tag (the rollback target). An update replaces the endpoint's tags and
    defaults with the ones sent (create_or_update is a PUT of the whole resource,
    https://learn.microsoft.com/rest/api/azureml/batch-endpoints/create-or-update), so a built
    endpoint, which knows neither, would drop both."""
    if live is None:
        return endpoint
    previous = (live.tags or {}).get(PREVIOUS_TAG)
    if previous:
        endpoint.tags = {**(endpoint.tags or {}), PREVIOUS_TAG: previous}
    current = _default_deployment(live)
    if current:
        endpoint.defaults = {"deployment_name": current}
    return endpoint


class AmlDeployer:
    def __init__(self, client: MLClient, console: Console | None = None, *, keep: int = DEFAULT_KEEP):
        if keep < 2:
            raise StackctlError(
                f"keeping {keep} deployment(s) per endpoint leaves nothing to roll back to",
                where="--keep-deployments",
                fix="keep at least 2 (the default and the previous one)",
            )
        self.client = client
        self.console = console or Console()
        self.keep = keep
        self.sleep: Callable[[float], None] = time.sleep

    def _exists_versioned(self, operations: Any, name: str, version: str) -> bool:
        try:
            operations.get(name=name, version=version)
            return True
        except ResourceNotFoundError:
            return False

    def _existing(self, getter: Callable[..., T], **kwargs: Any) -> T | None:
        try:
            return getter(**kwargs)
        except ResourceNotFoundError:
            return None

    def deploy(self, assets: AmlAssets) -> DeployReport:
        """Every asset (see `_deploy`); tried again while Azure answers 403 after a fresh apply's
        role assignments (`retry_while_roles_propagate`: creating only what is missing, a retry is safe)."""
        try:
            report = DeployReport()
            return retry_while_roles_propagate(
                lambda: self._deploy(assets, report),
                what="AML deploy",
                sleep=self.sleep,
                log=self.console.print,
            )
        except ClientAuthenticationError as exc:
            raise StackctlError(
                "Azure refused the credentials (not logged in, or the token expired)",
                where="azure-ai-ml MLClient",
                fix=LOGIN_FIX,
            ) from exc

    def _record(self, report: DeployReport, kind: str, name: str, created: bool) -> None:
        if (kind, name) in report.created:  # created by an earlier try (see deploy)
            return
        if created:
            report.created.append((kind, name))
            self.console.print(f"  [green]+[/] {kind} {name}")
        else:
            report.unchanged.append((kind, name))

    def _deploy(self, assets: AmlAssets, report: DeployReport) -> DeployReport:
        """Environments, components and pipeline components, then each endpoint with its deployment
        (the default switched last), then the schedules; each asset created only when it changed."""
        report.unchanged.clear()
        self._deploy_versioned(assets, report)
        for pipeline, endpoint in assets.endpoints.items():
            self._deploy_endpoint(endpoint, assets.deployments[pipeline], report)
        self._deploy_schedules(assets, report)
        return report

    def _deploy_versioned(self, assets: AmlAssets, report: DeployReport) -> None:
        """Environments and components are immutable per version: create the missing versions."""
        client = self.client
        for env in assets.environments.values():
            with self.console.status(f"AML environment {env.name}"):
                missing = not self._exists_versioned(client.environments, str(env.name), str(env.version))
                if missing:
                    client.environments.create_or_update(env)
            self._record(report, "environment", f"{env.name}:{env.version}", missing)

        for component in [*assets.components.values(), *assets.pipelines.values()]:
            kind = "pipeline component" if component in assets.pipelines.values() else "component"
            with self.console.status(f"{kind} {component.name}"):
                name, version = str(component.name), str(component.version)
                existing = self._existing(client.components.get, name=name, version=version)
                missing = existing is None
                registered = (
                    existing if existing is not None else client.components.create_or_update(component)
                )
                # The pipeline components' nodes hold these very objects: with the named version's
                # ARM id filled in, azure-ai-ml references it instead of registering an anonymous
                # copy of each step (_operation_orchestrator._get_component_arm_id registers
                # `is_anonymous=True` whenever a node's component has no id).
                component._id = registered.id
            self._record(report, kind, f"{name}:{version}", missing)

    def _deploy_endpoint(
        self, endpoint: BatchEndpoint, deployment: PipelineComponentBatchDeployment, report: DeployReport
    ) -> None:
        """The endpoint, its deployment of this version, then the default switched to it (the
        previous default kept for rollback, older deployments pruned)."""
        client = self.client
        with self.console.status(f"batch endpoint {endpoint.name}"):
            current = self._existing(client.batch_endpoints.get, name=endpoint.name)
            changed = current is None or _tag(current) != _tag(endpoint)
            if changed:
                client.batch_endpoints.begin_create_or_update(_keeping_release(endpoint, current)).result()
        self._record(report, "batch endpoint", str(endpoint.name), changed)

        with self.console.status(f"deployment {endpoint.name}/{deployment.name}"):
            current = self._existing(
                client.batch_deployments.get, name=deployment.name, endpoint_name=endpoint.name
            )
            changed = current is None or _tag(current) != _tag(deployment)
            if changed:
                stamp = (current.tags or {}).get(DEPLOYED_AT_TAG) if current is not None else None
                deployment.tags = {
                    **(deployment.tags or {}),
                    DEPLOYED_AT_TAG: stamp or datetime.now(UTC).isoformat(),
                }
                client.batch_deployments.begin_create_or_update(deployment).result()
        self._record(report, "deployment", f"{endpoint.name}/{deployment.name}", changed)

        # Switched only now that the new deployment exists: the endpoint never points at nothing.
        previous = _set_default(client, str(endpoint.name), str(deployment.name))
        if previous != deployment.name:
            kept = f" (previous default {previous} kept for rollback)" if previous else ""
            self._record(report, "endpoint default", f"{endpoint.name} -> {deployment.name}{kept}", True)
        for old in self._prune(str(endpoint.name), {str(deployment.name), previous or ""}):
            self._record(report, "pruned deployment", f"{endpoint.name}/{old}", True)

    def _deploy_schedules(self, assets: AmlAssets, report: DeployReport) -> None:
        client = self.client
        for schedule in assets.schedules.values():
            with self.console.status(f"schedule {schedule.name}"):
                current = self._existing(client.schedules.get, name=schedule.name)
                changed = current is None or _tag(current) != _tag(schedule)
                if changed:
                    client.schedules.begin_create_or_update(schedule).result()
            self._record(report, "schedule", str(schedule.name), changed)

    def _prune(self, endpoint_name: str, protected: set[str]) -> list[str]:
        """Delete the endpoint's deployments beyond the newest `keep` (never a protected one)."""
        deployments = sorted(
            self.client.batch_deployments.list(endpoint_name=endpoint_name), key=_deployed_at, reverse=True
        )
        keep = {str(d.name) for d in deployments[: self.keep]} | protected
        removed = []
        for old in deployments:
            if str(old.name) not in keep:
                self.client.batch_deployments.begin_delete(
                    name=old.name, endpoint_name=endpoint_name
                ).result()
                removed.append(str(old.name))
        return removed

    def rollback(self, endpoint_names: list[str]) -> list[tuple[str, str, str]]:
        """Point each endpoint's default back at its previous deployment: (endpoint, from, to).

        The previous one is the endpoint's `previous_deployment` tag when that deployment still exists,
        else the newest deployment other than the default. Rolling back twice returns to where it began.
        """
        try:
            return [self._rollback(name) for name in endpoint_names]
        except ClientAuthenticationError as exc:
            raise StackctlError(
                "Azure refused the credentials (not logged in, or the token expired)",
                where="azure-ai-ml MLClient",
                fix=LOGIN_FIX,
            ) from exc

    def _rollback(self, endpoint_name: str) -> tuple[str, str, str]:
        live = self._existing(self.client.batch_endpoints.get, name=endpoint_name)
        if live is None:
            raise StackctlError(
                f"batch endpoint {endpoint_name} does not exist, so there is nothing to roll back",
                where=f"batch endpoint {endpoint_name}",
                fix="deploy first: `make deploy ENV=<env>`",
            )
        current = _default_deployment(live) or ""
        others = sorted(
            (d for d in self.client.batch_deployments.list(endpoint_name=endpoint_name) if d.name != current),
            key=_deployed_at,
            reverse=True,
        )
        tagged = (live.tags or {}).get(PREVIOUS_TAG)
        target = next((str(d.name) for d in others if d.name == tagged), None) or (
            str(others[0].name) if others else None
        )
        if target is None:
            raise StackctlError(
                f"batch endpoint {endpoint_name} has no deployment besides its default {current or '(none)'}",
                where=f"batch endpoint {endpoint_name}",
                fix="nothing to roll back to; deploy a fixed version instead",
            )
        _set_default(self.client, endpoint_name, target)
        self.console.print(f"  [yellow]↺[/] {endpoint_name}: default {current} -> {target}")
        return endpoint_name, current, target
