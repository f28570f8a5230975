"""Who reviewed a plan, when, and on which audit report: the record `make review` writes.

`build/<env>/plan.reviewed` holds one JSON object (ReviewRecord): the sha256 of the saved plan
(`tfplan`, what `make apply` applies), the reviewer, when, and the sha256 of the audit report
(`audit.md`) the reviewer read. The reviewer is the CI approval's actor where the release pipeline
records the review (GitHub Actions: GITHUB_ACTOR, the user who approved the environment's
deployment review for the job, https://docs.github.com/actions/managing-workflow-runs-and-deployments/managing-deployments/reviewing-deployments;
Azure Pipelines: BUILD_REQUESTEDFOR), else the local git identity (`git config user.name` and
`user.email`). A marker from before this record (one line: the plan's sha256) is still read.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from stackctl.errors import StackctlError
from stackctl.hashing import sha256_file

AUDIT_REPORT = "audit.md"


class ReviewRecord(BaseModel):
    """One review: what was reviewed (plan and report hashes), by whom, how they were known, when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    plan_sha256: str
    reviewer: str | None = None
    reviewer_source: str | None = None  # "GitHub Actions approval (GITHUB_ACTOR)", "git identity", ...
    reviewed_at: str | None = None
    audit_report: str | None = None
    audit_report_sha256: str | None = None

    def describe(self) -> str:
        """One line for the apply's output and the reports."""
        who = f"{self.reviewer} ({self.reviewer_source})" if self.reviewer else "an unrecorded reviewer"
        when = f" at {self.reviewed_at}" if self.reviewed_at else ""
        report = (
            f"; audit report {self.audit_report} sha256 {self.audit_report_sha256}"
            if self.audit_report_sha256
            else "; no audit report was recorded"
        )
        return f"reviewed by {who}{when}{report}; plan sha256 {self.plan_sha256}"


def reviewer_identity(cwd: Path) -> tuple[str | None, str | None]:
    """(who, how we know): the CI approval's actor in a pipeline, else the local git identity."""
    if os.environ.get("GITHUB_ACTIONS") == "true" and os.environ.get("GITHUB_ACTOR"):
        return os.environ["GITHUB_ACTOR"], "GitHub Actions approval (GITHUB_ACTOR)"
    if os.environ.get("TF_BUILD") and os.environ.get("BUILD_REQUESTEDFOR"):
        return os.environ["BUILD_REQUESTEDFOR"], "Azure Pipelines (BUILD_REQUESTEDFOR)"
    name, email = _git_config(cwd, "user.name"), _git_config(cwd, "user.email")
    if name or email:
        return " ".join(p for p in (name, f"<{email}>" if email else None) if p), "git identity"
    return None, None


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
    who, source = reviewer_identity(plan_file.parent)
    record = ReviewRecord(
        plan_sha256=sha256_file(plan_file),
        reviewer=who,
        reviewer_source=source,
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
