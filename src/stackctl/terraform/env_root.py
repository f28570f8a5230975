"""Terraform runs of one cloud environment: init with its backend config, plan, show, apply, destroy, output.

Every failure a person can fix (no Azure login, no backend config, no registry) becomes one
`StackctlError` that says what to do; anything else is shown with Terraform's own last lines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackctl.errors import StackctlError
from stackctl.paths import build_dir, env_dir, repo_root
from stackctl.tools import Terraform, ToolResult

BACKEND_CONFIG = "backend.hcl"
PLAN_FILE = "tfplan"
PLAN_JSON = "plan.json"

_REGISTRY_UNREACHABLE = re.compile(
    r"could not connect to registry\.terraform\.io|Failed to query available provider packages"
    r"|failed to request discovery document|Failed to install provider",
)
_NOT_LOGGED_IN = re.compile(
    r"unable to build authorizer|could not configure AzureCli Authorizer|Please run 'az login'"
    r"|az login|obtaining OIDC token|could not acquire access token|building account",
    re.IGNORECASE,
)

LOGIN_FIX = (
    "run `az login` (and `az account set --subscription <id>`), or in CI set the OIDC variables "
    "ARM_USE_OIDC=true, ARM_CLIENT_ID, ARM_TENANT_ID, ARM_SUBSCRIPTION_ID"
)


@dataclass(frozen=True)
class PlanSummary:
    adds: int
    changes: int
    destroys: int
    replaces: int
    resources: list[tuple[str, str]]  # (action, address)

    @property
    def no_changes(self) -> bool:
        return not (self.adds or self.changes or self.destroys)


def _tail(result: ToolResult, lines: int = 15) -> str:
    text = (result.stderr.strip() or result.stdout.strip()).splitlines()
    return "\n  ".join(text[-lines:])


def classify_failure(result: ToolResult, action: str, where: str) -> StackctlError:
    """Turn a failed Terraform run into the one message a person can act on."""
    output = result.stderr + "\n" + result.stdout
    if _REGISTRY_UNREACHABLE.search(output):
        return StackctlError(
            f"terraform {action}: the Terraform registry (registry.terraform.io) is unreachable, "
            "so the azurerm provider cannot be installed",
            where=where,
            fix="run where registry.terraform.io is reachable (the release pipeline is), or point "
            "Terraform at a provider mirror: a TF_CLI_CONFIG_FILE with "
            "`provider_installation { filesystem_mirror { ... } }`, or a TF_PLUGIN_CACHE_DIR that "
            "already holds hashicorp/azurerm",
        )
    if _NOT_LOGGED_IN.search(output):
        return StackctlError(f"terraform {action}: not logged in to Azure", where=where, fix=LOGIN_FIX)
    return StackctlError(
        f"terraform {action} failed (exit {result.returncode}):\n  {_tail(result)}",
        where=where,
        fix="read Terraform's message above; nothing was applied by this step",
        exit_code=1,
    )


def summarise_plan(plan: dict[str, Any]) -> PlanSummary:
    adds = changes = destroys = replaces = 0
    resources: list[tuple[str, str]] = []
    for change in plan.get("resource_changes", []):
        actions = change.get("change", {}).get("actions", [])
        address = change.get("address", "?")
        if actions == ["no-op"] or actions == ["read"]:
            continue
        if "create" in actions and "delete" in actions:
            replaces += 1
            adds += 1
            destroys += 1
            resources.append(("replace", address))
        elif actions == ["create"]:
            adds += 1
            resources.append(("create", address))
        elif actions == ["update"]:
            changes += 1
            resources.append(("update", address))
        elif actions == ["delete"]:
            destroys += 1
            resources.append(("delete", address))
    return PlanSummary(adds, changes, destroys, replaces, resources)


class EnvironmentTerraform:
    """Terraform in envs/<env>, with its plan files under build/<env>/."""

    def __init__(self, env: str, *, root: Path | None = None, terraform: Terraform | None = None):
        if env not in ("dev", "prod"):
            raise StackctlError(
                f"environment {env!r} has no Terraform stack",
                where="--env",
                fix="use --env dev or --env prod (local needs no Terraform: `make apply`)",
            )
        self.env = env
        self.root = root or repo_root()
        self.workdir = env_dir(env, self.root)
        self.build = build_dir(env, self.root)
        self.terraform = terraform or Terraform()

    @property
    def plan_file(self) -> Path:
        return self.build / PLAN_FILE

    @property
    def plan_json(self) -> Path:
        return self.build / PLAN_JSON

    @property
    def backend_config(self) -> Path:
        return self.workdir / BACKEND_CONFIG

    def _where(self) -> str:
        return (
            str(self.workdir.relative_to(self.root))
            if self.workdir.is_relative_to(self.root)
            else str(self.workdir)
        )

    def _run(self, args: Sequence[str], action: str) -> ToolResult:
        result = self.terraform.run(args, cwd=self.workdir)
        if not result.ok:
            raise classify_failure(result, action, self._where())
        return result

    def check_root(self) -> None:
        if not self.workdir.is_dir() or not any(self.workdir.glob("*.tf")):
            raise StackctlError(
                f"there is no Terraform root for {self.env}",
                where=self._where(),
                fix=f"envs/{self.env}/ must hold the thin root (backend.tf, main.tf calling ../../infra)",
            )

    def init(self) -> None:
        self.check_root()
        if not self.backend_config.exists():
            raise StackctlError(
                f"the backend config of {self.env} is missing, so Terraform cannot find its state",
                where=str(self.backend_config.relative_to(self.root)),
                fix=f"run `scripts/write_backend_config.sh {self.env} <resource group> <storage account>` "
                f"(create the storage once with scripts/bootstrap_state.sh)",
            )
        self._run(
            ["init", "-input=false", "-no-color", f"-backend-config={BACKEND_CONFIG}", "-reconfigure"],
            "init",
        )

    def plan(self, *, destroy: bool = False) -> PlanSummary:
        self.build.mkdir(parents=True, exist_ok=True)
        args = ["plan", "-input=false", "-no-color", "-lock-timeout=5m", f"-out={self.plan_file}"]
        if destroy:
            args.append("-destroy")
        self._run(args, "plan")
        shown = self._run(["show", "-json", "-no-color", str(self.plan_file)], "show")
        self.plan_json.write_text(shown.stdout, encoding="utf-8")
        return summarise_plan(json.loads(shown.stdout))

    def apply_saved_plan(self) -> None:
        # A saved plan applies exactly what was reviewed; Terraform refuses it if the state moved on.
        self._run(["apply", "-input=false", "-no-color", "-lock-timeout=5m", str(self.plan_file)], "apply")

    def destroy(self) -> None:
        self._run(
            ["apply", "-destroy", "-input=false", "-no-color", "-auto-approve", "-lock-timeout=5m"], "destroy"
        )

    def output_json(self) -> dict[str, Any]:
        result = self._run(["output", "-json", "-no-color"], "output")
        data = json.loads(result.stdout or "{}")
        if not isinstance(data, dict):
            raise StackctlError("terraform output -json returned no object", where=self._where())
        return data
