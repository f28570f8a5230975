"""A recording fake of `azure.ai.ml.MLClient`: the operation groups deploy uses, backed by dicts.

It behaves like the service where deploy relies on it (get of a missing asset raises
ResourceNotFoundError; create_or_update stores; begin_* return a poller with `.result()`), and records
every write so tests can assert what a deploy created, and that a second deploy creates nothing.
"""

from __future__ import annotations

import copy
from typing import Any

from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError

ARM_COMPONENT = (
    "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg-forecast-dev/providers/"
    "Microsoft.MachineLearningServices/workspaces/mlw-forecast-dev/components/{}/versions/{}"
)


class _Poller:
    def __init__(self, value: Any):
        self._value = value

    def result(self) -> Any:
        return self._value


class _Operations:
    def __init__(self, client: RecordingMLClient, kind: str, key_fields: tuple[str, ...]):
        self.client = client
        self.kind = kind
        self.key_fields = key_fields
        self.store: dict[tuple[str, ...], Any] = {}

    def _key(self, **kwargs: Any) -> tuple[str, ...]:
        return tuple(str(kwargs[field]) for field in self.key_fields)

    def _entity_key(self, entity: Any) -> tuple[str, ...]:
        return tuple(str(getattr(entity, field)) for field in self.key_fields)

    def get(self, **kwargs: Any) -> Any:
        self.client.check_auth()
        self.client.reads.append((self.kind, self._key(**kwargs)))
        try:
            return copy.copy(self.store[self._key(**kwargs)])
        except KeyError:
            raise ResourceNotFoundError(f"{self.kind} {kwargs} not found") from None

    def create_or_update(self, entity: Any) -> Any:
        self.client.check_auth()
        validation = entity._validate() if hasattr(entity, "_validate") else None
        if validation is not None and not validation.passed:
            raise AssertionError(f"deploy sent an invalid {self.kind}: {validation}")
        key = self._entity_key(entity)
        stored = copy.copy(entity)
        if self.kind == "component":
            # As AML answers: the created version with its ARM id (a new object; the sent one has none).
            stored._id = ARM_COMPONENT.format(*key)
        self.store[key] = stored
        self.client.writes.append((self.kind, key))
        return copy.copy(stored)

    def begin_create_or_update(self, entity: Any) -> _Poller:
        return _Poller(self.create_or_update(entity))

    def list(self, **kwargs: Any) -> list[Any]:
        """Entities whose leading key fields equal kwargs (batch_deployments.list(endpoint_name=...))."""
        self.client.check_auth()
        wanted = tuple(str(kwargs[field]) for field in self.key_fields if field in kwargs)
        return [copy.copy(entity) for key, entity in self.store.items() if key[: len(wanted)] == wanted]

    def begin_delete(self, **kwargs: Any) -> _Poller:
        self.client.check_auth()
        key = self._key(**kwargs)
        if key not in self.store:
            raise ResourceNotFoundError(f"{self.kind} {kwargs} not found")
        del self.store[key]
        self.client.writes.append((f"delete {self.kind}", key))
        return _Poller(None)


class RecordingMLClient:
    def __init__(self, *, authenticated: bool = True):
        self.authenticated = authenticated
        self.reads: list[tuple[str, tuple[str, ...]]] = []
        self.writes: list[tuple[str, tuple[str, ...]]] = []
        self.environments = _Operations(self, "environment", ("name", "version"))
        self.components = _Operations(self, "component", ("name", "version"))
        self.batch_endpoints = _Operations(self, "batch_endpoint", ("name",))
        self.batch_deployments = _Operations(self, "batch_deployment", ("endpoint_name", "name"))
        self.schedules = _Operations(self, "schedule", ("name",))

    def check_auth(self) -> None:
        if not self.authenticated:
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")
