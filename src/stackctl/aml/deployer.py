"""Create or update the AML assets of one environment, creating only what is new.

The client is injected (an `azure.ai.ml.MLClient` in real runs, a recording fake in tests). Versioned
assets (environment, components, pipeline components) exist or not under their content-hash version;
unversioned ones (endpoints, deployments, schedules) carry the hash of their spec in a tag, so a
second deploy with nothing changed reads everything and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from rich.console import Console

from stackctl.aml.azure import LOGIN_FIX
from stackctl.aml.specs import CONTENT_HASH_TAG, DEPLOYMENT_NAME, AmlAssets
from stackctl.errors import StackctlError


@dataclass
class DeployReport:
    created: list[tuple[str, str]] = field(default_factory=list)
    unchanged: list[tuple[str, str]] = field(default_factory=list)

    @property
    def no_changes(self) -> bool:
        return not self.created


def _tag(entity: Any) -> str | None:
    tags = getattr(entity, "tags", None) or {}
    value = tags.get(CONTENT_HASH_TAG)
    return None if value is None else str(value)


def _default_deployment(endpoint: Any) -> str | None:
    # A fetched endpoint carries the REST defaults object; one built here carries a dict.
    defaults = getattr(endpoint, "defaults", None)
    if isinstance(defaults, dict):
        return defaults.get("deployment_name")
    return getattr(defaults, "deployment_name", None)


class AmlDeployer:
    def __init__(self, client: Any, console: Console | None = None):
        self.client = client
        self.console = console or Console()

    def _exists_versioned(self, operations: Any, name: str, version: str) -> bool:
        try:
            operations.get(name=name, version=version)
            return True
        except ResourceNotFoundError:
            return False

    def _existing(self, getter: Any, **kwargs: Any) -> Any | None:
        try:
            return getter(**kwargs)
        except ResourceNotFoundError:
            return None

    def deploy(self, assets: AmlAssets) -> DeployReport:
        try:
            return self._deploy(assets)
        except ClientAuthenticationError as exc:
            raise StackctlError(
                "Azure refused the credentials (not logged in, or the token expired)",
                where="azure-ai-ml MLClient",
                fix=LOGIN_FIX,
            ) from exc

    def _record(self, report: DeployReport, kind: str, name: str, created: bool) -> None:
        if created:
            report.created.append((kind, name))
            self.console.print(f"  [green]+[/] {kind} {name}")
        else:
            report.unchanged.append((kind, name))

    def _deploy(self, assets: AmlAssets) -> DeployReport:
        report = DeployReport()
        client = self.client
        env = assets.environment
        with self.console.status("AML environment"):
            missing = not self._exists_versioned(client.environments, str(env.name), str(env.version))
            if missing:
                client.environments.create_or_update(env)
        self._record(report, "environment", f"{env.name}:{env.version}", missing)

        for component in [*assets.components.values(), *assets.pipelines.values()]:
            kind = "pipeline component" if component in assets.pipelines.values() else "component"
            with self.console.status(f"{kind} {component.name}"):
                missing = not self._exists_versioned(
                    client.components, str(component.name), str(component.version)
                )
                if missing:
                    client.components.create_or_update(component)
            self._record(report, kind, f"{component.name}:{component.version}", missing)

        for pipeline, endpoint in assets.endpoints.items():
            with self.console.status(f"batch endpoint {endpoint.name}"):
                current = self._existing(client.batch_endpoints.get, name=endpoint.name)
                changed = current is None or _tag(current) != _tag(endpoint)
                if changed:
                    client.batch_endpoints.begin_create_or_update(endpoint).result()
            self._record(report, "batch endpoint", str(endpoint.name), changed)

            deployment = assets.deployments[pipeline]
            with self.console.status(f"deployment {endpoint.name}/{deployment.name}"):
                current = self._existing(
                    client.batch_deployments.get, name=deployment.name, endpoint_name=endpoint.name
                )
                changed = current is None or _tag(current) != _tag(deployment)
                if changed:
                    client.batch_deployments.begin_create_or_update(deployment).result()
            self._record(report, "deployment", f"{endpoint.name}/{deployment.name}", changed)

            # Invocations without a deployment name (ADF's Web activity) go to the endpoint's default.
            live = client.batch_endpoints.get(name=endpoint.name)
            if _default_deployment(live) != DEPLOYMENT_NAME:
                live.defaults = {"deployment_name": DEPLOYMENT_NAME}
                client.batch_endpoints.begin_create_or_update(live).result()
                self._record(report, "endpoint default", f"{endpoint.name} -> {DEPLOYMENT_NAME}", True)

        for schedule in assets.schedules.values():
            with self.console.status(f"schedule {schedule.name}"):
                current = self._existing(client.schedules.get, name=schedule.name)
                changed = current is None or _tag(current) != _tag(schedule)
                if changed:
                    client.schedules.begin_create_or_update(schedule).result()
            self._record(report, "schedule", str(schedule.name), changed)
        return report
