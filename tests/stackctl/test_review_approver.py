"""Review-23 M3 (kind: *a CI variable naming who started the run recorded as the approver*): the
review record names the people who approved the environment's deployment, read from GitHub's review
history of the run (GET /repos/{owner}/{repo}/actions/runs/{run_id}/approvals,
https://docs.github.com/rest/actions/workflow-runs#get-the-review-history-for-a-workflow-run), and
"approver not known" wherever that cannot be read: never GITHUB_ACTOR or BUILD_REQUESTEDFOR."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import requests

from stackctl.terraform import review
from stackctl.terraform.review import github_approvers, read_review, record_review

ENV = {
    "GITHUB_API_URL": "https://api.github.com",
    "GITHUB_REPOSITORY": "contoso/forecast-stack",
    "GITHUB_RUN_ID": "4242",
    "GITHUB_TOKEN": "ghs_token-for-test",
    "GITHUB_ACTOR": "joe-pusher",
}
NOW = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def entry(login: str, state: str, *environments: str) -> dict[str, Any]:
    """One item of the approvals answer (GitHub's schema: state, comment, environments, user)."""
    return {
        "state": state,
        "comment": "plan and audit read",
        "environments": [{"id": 1, "name": name} for name in environments],
        "user": {"login": login, "type": "User"},
    }


class Answer:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code, self.body = status, body

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"{self.status_code}")

    def json(self) -> Any:
        return self.body


def fake_get(status: int, body: Any, calls: list[tuple[str, dict[str, str]]]) -> Any:
    def get(url: str, *, headers: dict[str, str], timeout: float) -> Answer:
        calls.append((url, headers))
        return Answer(status, body)

    return get


def test_the_approver_of_this_environment_is_recorded_not_the_actor() -> None:
    calls: list[tuple[str, dict[str, str]]] = []
    history = [entry("ann-approver", "approved", "prod"), entry("bob", "approved", "dev-plan")]
    who, source = github_approvers("prod", ENV, fake_get(200, history, calls))
    assert who == "ann-approver"
    assert source == "GitHub deployment review (actions/runs/4242/approvals)"
    (url, headers), *_ = calls
    assert url == "https://api.github.com/repos/contoso/forecast-stack/actions/runs/4242/approvals"
    assert headers["Authorization"] == "Bearer ghs_token-for-test"


@pytest.mark.parametrize(
    ("status", "body", "env", "reason"),
    [
        # the review's case: only the actor is known (no token given to the step)
        (200, [], {k: v for k, v in ENV.items() if k != "GITHUB_TOKEN"}, "GITHUB_TOKEN"),
        (403, {"message": "Resource not accessible by integration"}, ENV, "not readable"),
        (200, [entry("carol", "rejected", "prod")], ENV, "no approval of environment 'prod'"),
        (200, [entry("dave", "approved", "prod-plan")], ENV, "no approval of environment 'prod'"),
        (200, "<html>not json</html>", ENV, "no approval"),
    ],
    ids=["no-token", "forbidden", "only-a-rejection", "another-environment", "unexpected-body"],
)
def test_without_a_readable_approval_the_approver_is_not_known(
    status: int, body: Any, env: dict[str, str], reason: str
) -> None:
    who, source = github_approvers("prod", env, fake_get(status, body, []))
    assert who is None
    assert source.startswith("approver not known")
    assert reason in source
    assert "joe-pusher" not in source


def test_the_record_keeps_the_starter_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    plan = tmp_path / "prod" / "tfplan"
    plan.parent.mkdir()
    plan.write_bytes(b"plan")
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    history = [entry("ann-approver", "approved", "prod"), entry("eve", "approved", "prod")]
    monkeypatch.setattr(review.requests, "get", fake_get(200, history, []))
    record = record_review(plan, tmp_path / "plan.reviewed", now=NOW)
    assert (record.reviewer, record.triggered_by) == ("ann-approver, eve", "joe-pusher")
    assert read_review(tmp_path / "plan.reviewed") == record
    assert "reviewed by ann-approver, eve (GitHub deployment review" in record.describe()


def test_azure_pipelines_requester_is_not_named_approver(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("GITHUB_ACTIONS", "GITHUB_ACTOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TF_BUILD", "True")
    monkeypatch.setenv("BUILD_REQUESTEDFOR", "Joe Pusher")
    plan = tmp_path / "tfplan"
    plan.write_bytes(b"plan")
    record = record_review(plan, tmp_path / "plan.reviewed", now=NOW)
    assert record.reviewer is None
    assert record.triggered_by == "Joe Pusher"
    assert "approver not known" in record.describe()
