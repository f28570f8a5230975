"""Who reviewed a plan, when, and on which audit report: the record `make review` writes.

`build/<env>/plan.reviewed` holds one JSON object (ReviewRecord): the sha256 of the saved plan
(`tfplan`, what `make apply` applies), the reviewer, when, and the sha256 of the audit report
(`audit.md`) the reviewer read.

The reviewer is the person who *approved* the deployment, never the one who started the run
(review-23 M3). GitHub Actions: GITHUB_ACTOR is "the username of the user that triggered the initial
workflow run" (https://docs.github.com/actions/reference/workflows-and-actions/variables), which
with prevent-self-review is by construction not the approver; the approvers come from the run's
review history, `GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals` (GitHub REST,
https://docs.github.com/rest/actions/workflow-runs#get-the-review-history-for-a-workflow-run; the
job's GITHUB_TOKEN needs `actions: read`), the `approved` entries for this environment. Azure
Pipelines: BUILD_REQUESTEDFOR is likewise who queued the run. Where the approvers cannot be read,
the record says "approver not known" and keeps the run's starter apart, in `triggered_by`. Outside
CI the local git identity (`git config user.name`/`user.email`) is the reviewer. A marker from
before this record (one line: the plan's sha256) is still read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import requests
from pydantic import BaseModel, ConfigDict, ValidationError

from stackctl.errors import StackctlError
from stackctl.hashing import sha256_file

AUDIT_REPORT = "audit.md"
APPROVER_NOT_KNOWN = "approver not known"
GITHUB_APPROVALS = "GitHub deployment review (actions/runs/{run_id}/approvals)"


class ReviewRecord(BaseModel):
    """One review: what was reviewed (plan and report hashes), by whom, how they were known, when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan_sha256: str
    reviewer: str | None = None
    reviewer_source: str | None = None  # GITHUB_APPROVALS, "git identity", or why the approver is not known
    triggered_by: str | None = (
        None  # who started the CI run (GITHUB_ACTOR, BUILD_REQUESTEDFOR): not the approver
    )
    reviewed_at: str | None = None
    audit_report: str | None = None
    audit_report_sha256: str | None = None

    def describe(self) -> str:
        """One line for the apply's output and the reports."""
        if self.reviewer:
            who = f"{self.reviewer} ({self.reviewer_source})"
        else:
            who = self.reviewer_source or "an unrecorded reviewer"
        if self.triggered_by:
            who += f"; run started by {self.triggered_by}"
        when = f" at {self.reviewed_at}" if self.reviewed_at else ""
        report = (
            f"; audit report {self.audit_report} sha256 {self.audit_report_sha256}"
            if self.audit_report_sha256
            else "; no audit report was recorded"
        )
        return f"reviewed by {who}{when}{report}; plan sha256 {self.plan_sha256}"


def reviewer_identity(cwd: Path, environment: str) -> tuple[str | None, str | None, str | None]:
    """(who approved, how we know or why not, who started the CI run) for `environment`'s review."""
    if os.environ.get("GITHUB_ACTIONS") == "true":
        approvers, source = github_approvers(environment, os.environ)
        return approvers, source, os.environ.get("GITHUB_ACTOR")
    if os.environ.get("TF_BUILD"):
        # The approvals of an Azure Pipelines check are not in the job's variables; the requester is
        # who queued the run, not who approved the stage.
        return (
            None,
            f"{APPROVER_NOT_KNOWN}: Azure Pipelines names no approver",
            os.environ.get("BUILD_REQUESTEDFOR"),
        )
    name, email = _git_config(cwd, "user.name"), _git_config(cwd, "user.email")
    if name or email:
        return " ".join(p for p in (name, f"<{email}>" if email else None) if p), "git identity", None
    return None, None, None


def github_approvers(
    environment: str, env: Mapping[str, str], get: Callable[..., requests.Response] | None = None
) -> tuple[str | None, str]:
    """(logins that approved `environment` in this run, comma-separated, or None; the source or why
    none). `env`: the job's environment variables (GITHUB_API_URL, GITHUB_REPOSITORY, GITHUB_RUN_ID,
    GITHUB_TOKEN); `get`: requests.get. Never raises: an unreadable history is "approver not known"."""
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN")
    repository, run_id = env.get("GITHUB_REPOSITORY"), env.get("GITHUB_RUN_ID")
    if not (token and repository and run_id):
        return None, f"{APPROVER_NOT_KNOWN}: GITHUB_TOKEN (actions: read) is not set for the review step"
    url = f"{env.get('GITHUB_API_URL', 'https://api.github.com')}/repos/{repository}/actions/runs/{run_id}/approvals"
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/vnd.github+json"}
    try:
        response = (get or requests.get)(url, headers=headers, timeout=15)
        response.raise_for_status()
        history = response.json()
    except (requests.RequestException, ValueError) as exc:
        return None, f"{APPROVER_NOT_KNOWN}: the run's review history was not readable ({type(exc).__name__})"
    logins = [
        str(entry["user"]["login"])
        for entry in history
        if isinstance(entry, dict)
        and entry.get("state") == "approved"
        and environment in {str(e.get("name")) for e in entry.get("environments") or []}
        and (entry.get("user") or {}).get("login")
    ]
    if not logins:
        return None, f"{APPROVER_NOT_KNOWN}: no approval of environment {environment!r} in run {run_id}"
    return ", ".join(dict.fromkeys(logins)), GITHUB_APPROVALS.format(run_id=run_id)


def _git_config(cwd: Path, key: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", "config", "--get", key], cwd=cwd, capture_output=True, text=True, check=False, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def record_review(plan_file: Path, marker: Path, now: dt.datetime | None = None) -> ReviewRecord:
    """Write the review record of `plan_file` to `marker`; the audit report beside the plan is
    hashed when it is there (`make audit` writes it)."""
    report = plan_file.with_name(AUDIT_REPORT)
    # build/<env>/tfplan: the GitHub environment the deploy job waits on is named like the stack.
    who, source, starter = reviewer_identity(plan_file.parent, plan_file.parent.name)
    record = ReviewRecord(
        plan_sha256=sha256_file(plan_file),
        reviewer=who,
        reviewer_source=source,
        triggered_by=starter,
        reviewed_at=(now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        audit_report=report.name if report.is_file() else None,
        audit_report_sha256=sha256_file(report) if report.is_file() else None,
    )
    marker.write_text(record.model_dump_json(indent=2) + "\n", encoding="utf-8")
    return record


def read_review(marker: Path) -> ReviewRecord:
    """The review record in `marker` (JSON, or the older one-line sha256)."""
    text = marker.read_text(encoding="utf-8").strip()
    if not text.startswith("{"):
        return ReviewRecord(plan_sha256=text)
    try:
        return ReviewRecord.model_validate(json.loads(text))
    except (ValueError, ValidationError) as exc:
        raise StackctlError(
            f"the review record is not readable: {str(exc).splitlines()[0]}",
            where=str(marker),
            fix="record the review again: `make review ENV=<env>`",
        ) from exc
