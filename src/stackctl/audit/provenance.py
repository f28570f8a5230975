"""Where a report comes from: the commit, the plan file's hash, Terraform and provider versions.

An auditor signs off on one plan; the hash and commit let anyone check later that the plan that
was applied is the one that was reviewed.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from pathlib import Path

from stackctl import __version__
from stackctl.audit.analysis import Provenance, ProviderVersion
from stackctl.audit.plan import Plan
from stackctl.checks.hclmodel import read_dir
from stackctl.checks.tfvars import read_file, tfvars_files
from stackctl.errors import StackctlError
from stackctl.hashing import sha256_file
from stackctl.paths import CLOUD_ENVIRONMENTS, env_dir

_LOCK_ENTRY = re.compile(r'provider\s+"(?P<source>[^"]+)"\s*\{[^}]*?version\s*=\s*"(?P<version>[^"]+)"', re.S)


def collect_provenance(
    plan: Plan,
    *,
    env: str,
    plan_path: Path,
    root: Path,
    allow_list: str,
    policies: str,
    lock_file: Path | None = None,
    saved_plan: Path | None = None,
    now: dt.datetime | None = None,
) -> Provenance:
    commit, branch, dirty = git_state(root)
    has_saved_plan = saved_plan is not None and saved_plan.is_file()
    locked = locked_provider_versions(lock_file) if lock_file else {}
    return Provenance(
        env=env,
        plan_file=_relative(plan_path, root),
        plan_sha256=sha256_file(plan_path),
        git_commit=commit,
        git_branch=branch,
        git_dirty=dirty,
        terraform_version=plan.terraform_version,
        plan_tool=plan.written_by,
        plan_timestamp=plan.timestamp,
        generated_at=(now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        providers=provider_versions(plan, locked),
        allow_list=allow_list,
        policies=policies,
        stackctl_version=__version__,
        saved_plan=_relative(saved_plan, root) if saved_plan and has_saved_plan else None,
        saved_plan_sha256=sha256_file(saved_plan) if saved_plan and has_saved_plan else None,
        repository_uri=repository_uri(root),
        repository_pins=repository_pins(env_dir(env, root)),
    )


def repository_pins(env_root: Path) -> dict[str, str]:
    """The provider version constraints the root's versions.tf pins: registry source -> constraint."""
    pins: dict[str, str] = {}
    if not env_root.is_dir():
        return pins
    for settings in read_dir(env_root).terraform_settings:
        for providers in settings.get("required_providers", []):
            for name, spec in providers.items():
                if isinstance(spec, dict) and spec.get("version"):
                    source = str(spec.get("source") or f"hashicorp/{name}")
                    pins[_registry_source(source)] = str(spec["version"])
    return pins


def repository_uri(root: Path) -> str | None:
    """The repository's web URL: GitHub Actions' or Azure Pipelines' variables in CI, else git's
    `origin` remote (an SSH address becomes https); None when neither says."""
    server, repository = os.environ.get("GITHUB_SERVER_URL"), os.environ.get("GITHUB_REPOSITORY")
    if server and repository:
        return f"{server.rstrip('/')}/{repository}"
    remote = os.environ.get("BUILD_REPOSITORY_URI") or _git(root, "config", "--get", "remote.origin.url")
    if not remote:
        return None
    ssh = re.match(r"^(?:ssh://)?git@([^:/]+)[:/](.+?)(?:\.git)?$", remote)
    if ssh:
        return f"https://{ssh.group(1)}/{ssh.group(2)}"
    if remote.startswith(("https://", "http://")):
        return re.sub(r"\.git$", "", re.sub(r"//[^@/]+@", "//", remote))
    return None


def provider_versions(plan: Plan, locked: dict[str, str]) -> tuple[ProviderVersion, ...]:
    """One line per provider source: the plan's version constraints, and the version the lock file
    pins when there is one (the plan JSON records constraints, not the selected version)."""
    by_source: dict[str, ProviderVersion] = {}
    for config in plan.configuration.provider_config.values():
        source = config.full_name or config.name
        constraints = {c for c in (config.version_constraint,) if c}
        existing = by_source.get(source)
        if existing and existing.constraint:
            constraints.add(existing.constraint)
        by_source[source] = ProviderVersion(
            name=config.name,
            source=source,
            constraint=", ".join(sorted(constraints)) or None,
            locked=locked.get(source) or locked.get(_registry_source(source)),
        )
    return tuple(sorted(by_source.values(), key=lambda p: p.source))


def locked_provider_versions(lock_file: Path) -> dict[str, str]:
    if not lock_file.is_file():
        return {}
    return {m["source"]: m["version"] for m in _LOCK_ENTRY.finditer(lock_file.read_text(encoding="utf-8"))}


def _registry_source(source: str) -> str:
    source = source.lower()
    return source if source.count("/") >= 2 else f"registry.terraform.io/{source}"


def git_state(root: Path) -> tuple[str, str, bool | None]:
    """Commit, branch and whether the tree has uncommitted changes; CI variables when git cannot say."""
    commit = _git(root, "rev-parse", "HEAD") or os.environ.get("GITHUB_SHA") or "unknown"
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD")
    if not branch or branch == "HEAD":
        branch = os.environ.get("GITHUB_HEAD_REF") or os.environ.get("GITHUB_REF_NAME") or branch or "unknown"
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return commit, branch, None if status is None else bool(status)


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def plan_environment(plan: Plan, root: Path) -> tuple[str | None, list[str]]:
    """Which environment the plan was made for, read from the plan itself, and the evidence.

    The `environment` variable decides when the plan carries it. Otherwise each cloud root's
    tfvars values (every file Terraform loads there, as read by stackctl.checks.tfvars) are
    compared with the plan's variable values on the names whose values differ between the roots:
    the environment that matches more of them is the plan's. (None, []) when the plan cannot tell.
    """
    values = {name: variable.value for name, variable in plan.variables.items()}
    declared = values.get("environment")
    if isinstance(declared, str) and declared in CLOUD_ENVIRONMENTS:
        return declared, [f'variable environment = "{declared}"']
    by_env = {env: _tfvars_as_read(env_dir(env, root)) for env in CLOUD_ENVIRONMENTS}
    telling = sorted(
        name
        for name in values
        if all(name in env_values for env_values in by_env.values())
        and len({repr(env_values[name]) for env_values in by_env.values()}) > 1
    )
    scores = {env: [n for n in telling if by_env[env][n] == values[n]] for env in CLOUD_ENVIRONMENTS}
    best = max(scores, key=lambda env: len(scores[env]))
    if not scores[best] or sum(len(s) == len(scores[best]) for s in scores.values()) > 1:
        return None, []
    return best, [f"variable {n} = {values[n]!r} (envs/{best}'s value)" for n in scores[best][:4]]


def _tfvars_as_read(env_root: Path) -> dict[str, object]:
    merged: dict[str, object] = {}
    try:
        for file in tfvars_files(env_root):
            merged.update(read_file(file))
    except StackctlError:
        return {}
    return merged


def refuse_other_environment(plan: Plan, env: str, root: Path, source: str) -> None:
    """StackctlError when the plan was made for another environment than the one audited: the
    allow-list, the parity and the provenance of one environment must never approve another's."""
    made_for, evidence = plan_environment(plan, root)
    if made_for is not None and made_for != env:
        raise StackctlError(
            f"the plan was made for {made_for}, not {env} ({'; '.join(evidence)})",
            where=source,
            fix=f"audit it as {made_for}: `stackctl audit --env {made_for} --plan {source}` "
            f"(`make audit ENV={made_for}`), or plan {env}: `make plan ENV={env}`",
        )
