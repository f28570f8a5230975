"""Terraform runs of one cloud environment: init with its backend config, plan, show, apply, destroy, output.

Every failure a person can fix (no Azure login, no backend config, no registry) becomes one
`StackctlError` that says what to do; anything else is shown with Terraform's own error lines.

Output: every init/plan/apply run's full output goes to build/<env>/terraform-<action>.log; it is
also streamed line by line to the caller's `echo` in CI (CI, GITHUB_ACTIONS or TF_BUILD set) and
with `--verbose`, so a long apply shows its progress in the job log instead of a silent spinner.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from stackctl.credentials import terraform_oidc_environment
from stackctl.errors import StackctlError
from stackctl.paths import build_dir, env_dir, repo_root
from stackctl.tools import Terraform, ToolResult

BACKEND_CONFIG = "backend.hcl"
PLAN_FILE = "tfplan"
PLAN_JSON = "plan.json"
DESTROY_PLAN_FILE = "destroy.tfplan"
DESTROY_PLAN_JSON = "destroy-plan.json"
LOCK_FILE = ".terraform.lock.hcl"
STREAMED_ACTIONS = ("init", "plan", "apply", "destroy")
# Variables that tell Terraform's azurerm provider and backend how to authenticate. When any is set,
# the user already chose a login method, so "run az login" is the wrong advice: show the real error.
ARM_AUTH_VARIABLES = (
    "ARM_USE_OIDC",
    "ARM_USE_MSI",
    "ARM_CLIENT_ID",
    "ARM_TENANT_ID",
    "ARM_SUBSCRIPTION_ID",
    "ARM_OIDC_TOKEN",
    "ARM_OIDC_REQUEST_URL",
    "ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID",
)
_AZ_CLI_MISSING = re.compile(r'exec: "az": executable file not found|running Azure CLI: .*not found', re.I)
_ERROR_LINE = re.compile(r"^\s*(?:│\s*)?Error: ")

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


def _tail(result: ToolResult, lines: int = 15) -> str:
    text = (result.stderr.strip() or result.stdout.strip()).splitlines()
    return "\n  ".join(text[-lines:])


def terraform_errors(output: str) -> list[str]:
    """Terraform's own `Error: ...` lines (from the plain or the box-drawn diagnostic format), each
    with the detail line after it when that line says more (the underlying cause usually sits there)."""
    lines = output.splitlines()
    found: list[str] = []
    for index, line in enumerate(lines):
        if not _ERROR_LINE.match(line):
            continue
        text = line.strip().lstrip("│").strip()
        for follower in lines[index + 1 : index + 4]:
            detail = follower.strip().strip("│╵╷").strip()
            if detail:
                text += f" {detail}" if detail not in text else ""
                break
        found.append(text)
    return list(dict.fromkeys(found))


def classify_failure(
    result: ToolResult,
    action: str,
    where: str,
    *,
    environ: Mapping[str, str] | None = None,
    log: Path | None = None,
) -> StackctlError:
    """Turn a failed Terraform run into the one message a person can act on.

    With ARM_* authentication variables set, an authentication failure is reported with Terraform's
    own error (for example `exec: "az": executable file not found`, which means the azurerm provider
    found no OIDC token source and fell back to the Azure CLI), never as "not logged in".

    Long because it is a decision table: one branch per failure kind (registry unreachable, no
    Azure CLI behind OIDC, not logged in with or without ARM variables, other), each with its fix."""
    environ = os.environ if environ is None else environ
    output = result.stderr + "\n" + result.stdout
    errors = terraform_errors(output)
    cause = "\n  ".join(errors) if errors else _tail(result)
    log_hint = f"; the full output is in {log}" if log else ""
    arm_set = sorted(name for name in ARM_AUTH_VARIABLES if environ.get(name))
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
    if _AZ_CLI_MISSING.search(output) and arm_set:
        return StackctlError(
            f"terraform {action}: Azure authentication failed, and Terraform fell back to the Azure CLI, "
            f"which is not installed. ARM variables set: {', '.join(arm_set)}. Terraform said:\n  {cause}",
            where=where,
            fix="for OIDC the provider needs a token source too: in GitHub Actions the job needs "
            "`permissions: id-token: write` (ACTIONS_ID_TOKEN_REQUEST_URL/TOKEN); in Azure Pipelines set "
            "ARM_OIDC_REQUEST_TOKEN=$(System.AccessToken) and ARM_ADO_PIPELINE_SERVICE_CONNECTION_ID; "
            "or set ARM_OIDC_TOKEN; locally install the Azure CLI and `az login`" + log_hint,
        )
    if _NOT_LOGGED_IN.search(output):
        if arm_set:
            return StackctlError(
                f"terraform {action}: Azure authentication failed with the ARM variables set "
                f"({', '.join(arm_set)}). Terraform said:\n  {cause}",
                where=where,
                fix="check those variables name the deploying identity and that it has a federated "
                "credential for this pipeline (envs/bootstrap creates them)" + log_hint,
            )
        if _AZ_CLI_MISSING.search(output):
            return StackctlError(
                f"terraform {action}: not logged in to Azure: the Azure CLI (az) is not installed "
                f"and no ARM_* variables are set. Terraform said:\n  {cause}",
                where=where,
                fix="install the Azure CLI (https://learn.microsoft.com/cli/azure/install-azure-cli) and "
                + LOGIN_FIX,
            )
        return StackctlError(
            f"terraform {action}: not logged in to Azure. Terraform said:\n  {cause}",
            where=where,
            fix=LOGIN_FIX,
        )
    return StackctlError(
        f"terraform {action} failed (exit {result.returncode}):\n  {cause}",
        where=where,
        fix="read Terraform's message above; nothing was applied by this step" + log_hint,
    )


def running_in_ci(environ: Mapping[str, str] | None = None) -> bool:
    """GitHub Actions sets CI and GITHUB_ACTIONS; Azure Pipelines sets TF_BUILD=True."""
    environ = os.environ if environ is None else environ
    return any(environ.get(name, "").lower() == "true" for name in ("CI", "GITHUB_ACTIONS", "TF_BUILD"))


Echo = Callable[[str], None]


class EnvironmentTerraform:
    """Terraform in envs/<env>, with its plan files and logs under build/<env>/.

    `stream`: show Terraform's output as it runs (None: in CI only); `echo` receives each line."""

    def __init__(
        self,
        env: str,
        *,
        root: Path | None = None,
        terraform: Terraform | None = None,
        stream: bool | None = None,
        echo: Echo | None = None,
    ):
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
        self.stream = running_in_ci() if stream is None else stream
        self.echo: Echo = echo or print

    @property
    def plan_file(self) -> Path:
        return self.build / PLAN_FILE

    @property
    def plan_json(self) -> Path:
        return self.build / PLAN_JSON

    @property
    def destroy_plan_file(self) -> Path:
        return self.build / DESTROY_PLAN_FILE

    @property
    def destroy_plan_json(self) -> Path:
        return self.build / DESTROY_PLAN_JSON

    @property
    def backend_config(self) -> Path:
        return self.workdir / BACKEND_CONFIG

    @property
    def lock_file(self) -> Path:
        return self.workdir / LOCK_FILE

    @property
    def planned_lock_file(self) -> Path:
        """The lock file init used for the saved plan, carried in build/<env>/ with it: the apply job
        restores it, so the providers that apply installs are exactly the ones the plan was made with."""
        return self.build / LOCK_FILE

    def log_file(self, action: str) -> Path:
        return self.build / f"terraform-{action}.log"

    def _where(self) -> str:
        return (
            str(self.workdir.relative_to(self.root))
            if self.workdir.is_relative_to(self.root)
            else str(self.workdir)
        )

    def _run(self, args: Sequence[str], action: str, *, log_name: str | None = None) -> ToolResult:
        if action not in STREAMED_ACTIONS:
            extra = terraform_oidc_environment()
            result = self.terraform.run(args, cwd=self.workdir, env=extra or None)
            if not result.ok:
                raise classify_failure(result, action, self._where())
            return result
        self.build.mkdir(parents=True, exist_ok=True)
        log = self.log_file(log_name or action)
        extra = terraform_oidc_environment()
        with log.open("w", encoding="utf-8") as handle:
            handle.write(f"$ terraform {' '.join(args)}   (in {self._where()})\n")
            result = self.terraform.run_streaming(
                args, self.workdir, self._line_sink(handle), env=extra or None
            )
            handle.write(f"exit {result.returncode}\n")
        if not result.ok:
            shown = log.relative_to(self.root) if log.is_relative_to(self.root) else log
            raise classify_failure(result, action, self._where(), log=shown)
        return result

    def _line_sink(self, handle: IO[str]) -> Echo:
        def sink(line: str) -> None:
            handle.write(line + "\n")
            handle.flush()
            if self.stream:
                self.echo(line)

        return sink

    def check_root(self) -> None:
        if not self.workdir.is_dir() or not any(self.workdir.glob("*.tf")):
            raise StackctlError(
                f"there is no Terraform root for {self.env}",
                where=self._where(),
                fix=f"envs/{self.env}/ must hold the thin root (backend.tf, main.tf calling ../../infra)",
            )

    def init(self, *, restore_planned_lock: bool = False) -> None:
        """terraform init with the backend config. `restore_planned_lock`: first put back the lock file
        saved with the plan (apply does), so init installs the very provider versions of the plan."""
        self.check_root()
        if not self.backend_config.exists():
            raise StackctlError(
                f"the backend config of {self.env} is missing, so Terraform cannot find its state",
                where=str(self.backend_config.relative_to(self.root)),
                fix=f"run `scripts/write_backend_config.sh {self.env} <resource group> <storage account>` "
                f"(create the storage once with the bootstrap: README, 'Azure: first deploy', step 3)",
            )
        if restore_planned_lock and self.planned_lock_file.exists():
            self.lock_file.write_bytes(self.planned_lock_file.read_bytes())
        self._run(
            ["init", "-input=false", "-no-color", f"-backend-config={BACKEND_CONFIG}", "-reconfigure"],
            "init",
        )

    def plan(self, *, destroy: bool = False) -> Path:
        """Plan into build/<env>/tfplan (a destroy plan: destroy.tfplan) and its JSON, whose path it
        returns (read it with `stackctl.audit.plan.load_plan`, the one plan model); the lock file init
        used is copied next to it."""
        self.build.mkdir(parents=True, exist_ok=True)
        plan_file = self.destroy_plan_file if destroy else self.plan_file
        plan_json = self.destroy_plan_json if destroy else self.plan_json
        args = ["plan", "-input=false", "-no-color", "-lock-timeout=5m", f"-out={plan_file}"]
        if destroy:
            args.append("-destroy")
        self._run(args, "plan", log_name="plan-destroy" if destroy else "plan")
        if self.lock_file.exists():
            self.planned_lock_file.write_bytes(self.lock_file.read_bytes())
        shown = self._run(["show", "-json", "-no-color", str(plan_file)], "show")
        plan_json.write_text(shown.stdout, encoding="utf-8")
        return plan_json

    def apply_saved_plan(self) -> None:
        # A saved plan applies exactly what was reviewed; Terraform refuses it if the state moved on.
        self._run(["apply", "-input=false", "-no-color", "-lock-timeout=5m", str(self.plan_file)], "apply")

    def apply_destroy_plan(self) -> None:
        """Apply the reviewed destroy plan build/<env>/destroy.tfplan (never `-auto-approve` of a new one)."""
        if not self.destroy_plan_file.exists():
            raise StackctlError(
                "there is no destroy plan to apply",
                where=str(self.destroy_plan_file),
                fix=f"run `make destroy ENV={self.env}`: it plans the destruction, lists it, then asks",
            )
        self._run(
            ["apply", "-input=false", "-no-color", "-lock-timeout=5m", str(self.destroy_plan_file)], "destroy"
        )
        self.destroy_plan_file.unlink(missing_ok=True)

    def output_json(self) -> dict[str, Any]:
        result = self._run(["output", "-json", "-no-color"], "output")
        data = json.loads(result.stdout or "{}")
        if not isinstance(data, dict):
            raise StackctlError("terraform output -json returned no object", where=self._where())
        return data


def add_verbose_argument(parser: Any) -> None:
    """`--verbose` for plan/apply/destroy: stream Terraform's output (CI streams it always)."""
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show Terraform's output as it runs (always on in CI); "
        "the full log is build/<env>/terraform-*.log",
    )


def echo_to(console: Any) -> Echo:
    """Print Terraform's lines through a rich console, verbatim (no markup, no wrapping of paths)."""

    def echo(line: str) -> None:
        console.print(line, markup=False, highlight=False, soft_wrap=True)

    return echo
