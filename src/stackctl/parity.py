"""dev/prod parity: the two stacks are the same code, so every difference is a tfvars value.

`tfvars_differences()` reads `envs/dev/terraform.tfvars` and `envs/prod/terraform.tfvars` with
python-hcl2 and lists each differing value by its dotted path: the list an auditor reads as
"what differs between the stacks". Used by `stackctl validate` (parity check) and `stackctl audit`.

    for d in tfvars_differences():
        print(d.path, d.dev, "->", d.prod)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2

from stackctl.errors import StackctlError
from stackctl.paths import env_dir

_MISSING = object()


@dataclass(frozen=True)
class Difference:
    """One value that differs; `dev`/`prod` are None-able values, `only_in` names the side that has
    a key the other lacks (None when both have it)."""

    path: str
    dev: Any
    prod: Any
    only_in: str | None = None

    def describe(self) -> str:
        if self.only_in == "dev":
            return f"{self.path}: only in dev ({self.dev!r})"
        if self.only_in == "prod":
            return f"{self.path}: only in prod ({self.prod!r})"
        return f"{self.path}: dev={self.dev!r} prod={self.prod!r}"


def load_tfvars(path: Path) -> dict[str, Any]:
    """A tfvars file as plain Python values (strings without their HCL quotes)."""
    if not path.is_file():
        raise StackctlError(f"tfvars file not found: {path}", fix="every env root needs a terraform.tfvars")
    options = hcl2.SerializationOptions(with_comments=False, strip_string_quotes=True)
    try:
        with path.open() as handle:
            return dict(hcl2.load(handle, serialization_options=options))
    except Exception as exc:  # python-hcl2 raises lark errors of several kinds
        raise StackctlError(f"cannot parse {path}: {exc}", fix="run `make fmt` and fix the syntax") from exc


def tfvars_differences(
    dev_file: Path | None = None,
    prod_file: Path | None = None,
) -> list[Difference]:
    """Every value that differs between the dev and prod tfvars, sorted by path."""
    dev = load_tfvars(dev_file or env_dir("dev") / "terraform.tfvars")
    prod = load_tfvars(prod_file or env_dir("prod") / "terraform.tfvars")
    return sorted(_diff(dev, prod, ""), key=lambda d: d.path)


def _diff(dev: Any, prod: Any, path: str) -> Iterator[Difference]:
    if isinstance(dev, Mapping) and isinstance(prod, Mapping):
        for key in sorted(set(dev) | set(prod)):
            child = f"{path}.{key}" if path else str(key)
            left, right = dev.get(key, _MISSING), prod.get(key, _MISSING)
            if left is _MISSING:
                yield Difference(child, None, right, only_in="prod")
            elif right is _MISSING:
                yield Difference(child, left, None, only_in="dev")
            else:
                yield from _diff(left, right, child)
    elif dev != prod:
        yield Difference(path, dev, prod)
