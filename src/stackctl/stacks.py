"""One interface over the three environments: `Stack` with plan, apply, deploy and destroy.

`stack_for(env)` gives the local stack (the pipeline graph run on this machine with local stand-ins,
`stackctl.local`) or a cloud stack (Terraform, Azure ML and Azure SQL, `stackctl.cloud_stack`);
the commands call the same four operations on either and never ask which one they hold.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol

from rich.console import Console

from stackctl.errors import ExitStatus
from stackctl.paths import local_stack_dir


class Stack(Protocol):
    env: str

    def plan(self, console: Console, *, destroy: bool = False, mark_reviewed: bool = False) -> int:
        """Show what apply would change (cloud: save the plan; `mark_reviewed`: record its review)."""
        ...

    def apply(self, console: Console, *, skip_deploy: bool = False) -> int:
        """Make the environment match the code (cloud: the saved plan, then deploy)."""
        ...

    def deploy(
        self, console: Console, *, skip_sql: bool = False, rollback: bool = False, keep_deployments: int = 3
    ) -> int:
        """Deploy the model, its pipelines and the reporting schema into the provisioned stack
        (`rollback`: point each batch endpoint back at its previous deployment instead)."""
        ...

    def destroy(self, console: Console, *, yes: bool = False, allow_prod: bool = False) -> int:
        """Remove the environment after `stackctl.terraform.guards.confirm_destroy` (cloud: after
        showing the destroy plan)."""
        ...


class LocalStack:
    """`--env local`: the embedded stack under .local/ (MLflow SQLite, a folder lake, SQLite reporting)."""

    env = "local"

    def __init__(self, root: Path):
        self.root = root

    def plan(self, console: Console, *, destroy: bool = False, mark_reviewed: bool = False) -> int:
        from stackctl.local.apply import plan_local

        return plan_local(self.root, console)

    def apply(self, console: Console, *, skip_deploy: bool = False) -> int:
        from stackctl.local.apply import apply_local
        from stackctl.local.layout import LocalLayout
        from stackctl.local.summary import print_summary

        result = apply_local(self.root, console)
        print_summary(result, LocalLayout(self.root), console)
        return ExitStatus.OK

    def deploy(
        self, console: Console, *, skip_sql: bool = False, rollback: bool = False, keep_deployments: int = 3
    ) -> int:
        from stackctl.local.layout import LocalLayout
        from stackctl.local.provision import provision_local

        layout = LocalLayout(self.root)
        created = provision_local(layout)
        console.print(
            "no changes: the local stack is provisioned" if not created else f"provisioned {layout.base}"
        )
        return ExitStatus.OK

    def destroy(self, console: Console, *, yes: bool = False, allow_prod: bool = False) -> int:
        from stackctl.terraform.guards import confirm_destroy

        confirm_destroy(self.env, yes=yes, allow_prod=allow_prod)
        target = local_stack_dir(self.root)
        shutil.rmtree(target, ignore_errors=True)
        console.print(f"removed the local stack ({target})")
        return ExitStatus.OK


def stack_for(env: str, root: Path, *, stream: bool | None = None) -> Stack:
    """The stack of `env` ("local", "dev" or "prod") in the checkout at `root`; `stream`: echo
    Terraform's output live (cloud only; None: only in CI)."""
    if env == "local":
        return LocalStack(root)
    from stackctl.cloud_stack import CloudStack

    return CloudStack(env, root, stream=stream)
