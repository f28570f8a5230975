"""The guards in front of `apply` and `destroy` of the cloud environments.

apply (dev and prod):
  * the saved plan build/<env>/tfplan must exist (apply never plans afresh), and
  * it must be newer than every file under infra/, modules/ and envs/<env>/ (else it is stale).
apply (prod) also:
  * the git branch is `release/*`, or CI declares a release (CI=true and FORECAST_STACK_RELEASE=1), and
  * the plan was reviewed: build/prod/plan.reviewed holds the sha256 of exactly this tfplan, written by
    `stackctl plan --env prod --mark-reviewed` after reading the plan (in the release pipeline: after the
    prod environment's reviewers approved the uploaded plan and audit report).
destroy: dev asks for confirmation (`--yes` skips); prod needs `--allow-prod` and typing "prod". Both
are asked after the destroy plan is listed (commands/destroy.py), and the reviewed destroy plan is applied.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path

from stackctl.errors import StackctlError
from stackctl.hashing import sha256_file
from stackctl.paths import env_dir
from stackctl.terraform.review import ReviewRecord, read_review, record_review

REVIEW_MARKER = "plan.reviewed"
RELEASE_BRANCH_PREFIX = "release/"
_IGNORED_PARTS = {".terraform", "__pycache__", ".terraform.lock.hcl"}


def _files_under(folders: Iterable[Path]) -> Iterable[Path]:
    for folder in folders:
        if not folder.exists():
            continue
        for path in folder.rglob("*"):
            if path.is_file() and not _IGNORED_PARTS.intersection(path.parts) and path.name != "backend.hcl":
                yield path


def newest_source_change(root: Path, env: str) -> tuple[float, Path | None]:
    newest, newest_path = 0.0, None
    for path in _files_under([root / "infra", root / "modules", env_dir(env, root)]):
        mtime = path.stat().st_mtime
        if mtime > newest:
            newest, newest_path = mtime, path
    return newest, newest_path


def check_plan_is_current(root: Path, env: str, plan_file: Path) -> None:
    if not plan_file.exists():
        raise StackctlError(
            f"no saved plan for {env}: apply only applies a reviewed plan, it never plans afresh",
            where=str(plan_file),
            fix=f"run `make plan ENV={env}`, read its summary (and `make audit ENV={env}`), then apply",
        )
    newest, newest_path = newest_source_change(root, env)
    if newest > plan_file.stat().st_mtime:
        changed = newest_path.relative_to(root) if newest_path else "?"
        raise StackctlError(
            f"the saved plan for {env} is older than a change to the Terraform code ({changed})",
            where=str(plan_file),
            fix=f"run `make plan ENV={env}` again so the plan matches the code, review it, then apply",
        )


def current_branch(root: Path) -> str | None:
    # CI checkouts are often detached; the CI's own variable names the branch then. Azure Pipelines'
    # Build.SourceBranchName is only the last path segment ("1.0" of release/1.0), so its full
    # Build.SourceBranch (refs/heads/release/1.0) is read instead.
    # https://learn.microsoft.com/azure/devops/pipelines/build/variables#build-variables-devops-services
    source_branch = os.environ.get("BUILD_SOURCEBRANCH", "")
    if source_branch.startswith("refs/heads/"):
        return source_branch.removeprefix("refs/heads/")
    for variable in ("GITHUB_REF_NAME", "CI_COMMIT_REF_NAME"):
        if os.environ.get(variable):
            return os.environ[variable]
    proc = subprocess.run(
        ["git", "symbolic-ref", "--short", "-q", "HEAD"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    branch = proc.stdout.strip()
    return branch if proc.returncode == 0 and branch and branch != "HEAD" else None


def ci_declares_release() -> bool:
    # GitHub Actions sets CI=true; Azure Pipelines sets TF_BUILD=True.
    in_ci = os.environ.get("CI", "").lower() == "true" or os.environ.get("TF_BUILD", "").lower() == "true"
    return in_ci and os.environ.get("FORECAST_STACK_RELEASE") == "1"


def check_release_context(root: Path) -> None:
    if ci_declares_release():
        return
    branch = current_branch(root)
    if branch and branch.startswith(RELEASE_BRANCH_PREFIX):
        return
    raise StackctlError(
        f"prod is applied only from a release/* branch, and this is {branch or 'a detached HEAD'!r}",
        where="git branch",
        fix="cut a release branch (`git switch -c release/<version>`) and let the release pipeline apply it; "
        "a CI run declares a release with CI=true and FORECAST_STACK_RELEASE=1",
    )


def review_marker(plan_file: Path) -> Path:
    return plan_file.with_name(REVIEW_MARKER)


def mark_reviewed(plan_file: Path) -> Path:
    """Record who reviewed the saved plan, when, and on which audit report (stackctl.terraform.review)."""
    if not plan_file.exists():
        raise StackctlError(
            "there is no saved plan to mark as reviewed",
            where=str(plan_file),
            fix="run `make plan ENV=prod` first",
        )
    marker = review_marker(plan_file)
    record_review(plan_file, marker)
    return marker


def check_reviewed(plan_file: Path) -> ReviewRecord:
    """The review record of exactly this saved plan; StackctlError when there is none."""
    marker = review_marker(plan_file)
    fix = "read the plan summary and `make audit ENV=prod`, then `make plan ENV=prod ARGS=--mark-reviewed`"
    if not marker.exists():
        raise StackctlError("the prod plan has not been marked as reviewed", where=str(marker), fix=fix)
    record = read_review(marker)
    if record.plan_sha256 != sha256_file(plan_file):
        raise StackctlError(
            "the review marker belongs to another plan: build/prod/tfplan changed after it was reviewed",
            where=str(marker),
            fix=fix,
        )
    return record


def check_apply_allowed(root: Path, env: str, plan_file: Path) -> ReviewRecord | None:
    """Refuse an apply that is not allowed; the plan's review record where one is required or kept."""
    check_plan_is_current(root, env, plan_file)
    if env == "prod":
        check_release_context(root)
        return check_reviewed(plan_file)
    marker = review_marker(plan_file)
    return read_review(marker) if marker.is_file() else None


Prompt = Callable[[str], str]


def _ask(prompt: Prompt, question: str) -> str:
    try:
        return prompt(question).strip()
    except EOFError:  # no terminal (CI, a pipe): silence is not consent
        return ""


def refuse_prod_destroy_without_flag(env: str, *, allow_prod: bool) -> None:
    """Before any Terraform runs: prod is destroyed only with --allow-prod."""
    if env == "prod" and not allow_prod:
        raise StackctlError(
            "refusing to destroy prod without --allow-prod",
            where="stackctl destroy --env prod",
            fix="if you really mean it: `make destroy ENV=prod ARGS=--allow-prod`, then type `prod`",
        )


def confirm_destroy(env: str, *, yes: bool, allow_prod: bool, prompt: Prompt = input) -> None:
    if env == "prod":
        if not allow_prod:
            raise StackctlError(
                "refusing to destroy prod without --allow-prod",
                where="stackctl destroy --env prod",
                fix="if you really mean it: `make destroy ENV=prod ARGS=--allow-prod`, then type `prod`",
            )
        # --yes never skips this: prod goes only when a person types its name.
        answer = _ask(prompt, "This destroys every resource of PROD. Type `prod` to confirm: ")
        if answer != "prod":
            raise StackctlError(
                "prod destroy not confirmed; nothing was destroyed", where="confirmation prompt"
            )
        return
    if yes:
        return
    answer = _ask(prompt, f"Destroy every resource of {env}? [y/N] ").lower()
    if answer not in ("y", "yes"):
        raise StackctlError(
            f"{env} destroy not confirmed; nothing was destroyed",
            where="confirmation prompt",
            fix="answer `y`, or pass --yes in automation",
        )
