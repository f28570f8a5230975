"""Helpers shared by the policies: checkov hands each attribute as a one-element list."""

from __future__ import annotations

from typing import Any

REQUIRED_TAGS = ("owner", "cost_centre", "data_classification")


def first(conf: dict[str, Any], key: str) -> Any:
    value = conf.get(key)
    if isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def environment_of(conf: dict[str, Any]) -> str | None:
    """The environment tag when checkov rendered it, else None."""
    tags = first(conf, "tags")
    if isinstance(tags, dict):
        env = tags.get("environment")
        return str(env) if env is not None else None
    if isinstance(tags, str):
        for env in ("prod", "dev"):
            if f"'environment': {env}" in tags or f"'environment': '{env}'" in tags:
                return env
    return None
