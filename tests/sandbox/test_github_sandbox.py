"""The GitHub Issues sandbox answers as GitHub's REST API does: its authentication, its
validation and error shapes, its state and state_reason rules, its paging, its primary and
secondary rate limits, and the faults a test arms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from salesync.clock import ManualClock
from salesync.sandbox.faults import Fault, FaultKind, FaultPlan
from salesync.sandbox.github import DEFAULT_LOGIN, DEFAULT_TOKEN, GitHubRepo, create_app
from salesync.sandbox.server import serving

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
ISSUES = "/repos/acme-dev/support/issues"
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


class GitHub:
    """A sandbox repository, its app, and an in-process client with the default token."""

    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.faults = FaultPlan()
        self.repo = GitHubRepo("acme-dev", "support", clock=self.clock)
        self.client = TestClient(create_app(self.repo, faults=self.faults))

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.client.post(path, json=body, headers=headers or AUTH)

    def patch(self, path: str, body: Any) -> httpx.Response:
        return self.client.patch(path, json=body, headers=AUTH)

    def get(
        self, path: str, headers: dict[str, str] | None = None, **params: Any
    ) -> httpx.Response:
        return self.client.get(path, params=params, headers=headers or AUTH)

    def issue(self, title: str = "A failure", **fields: Any) -> dict[str, Any]:
        answer = self.post(ISSUES, {"title": title, **fields})
        assert answer.status_code == 201, answer.text
        found: dict[str, Any] = answer.json()
        return found


@pytest.fixture
def github() -> GitHub:
    return GitHub()


def test_an_issue_is_created_and_read_back_in_githubs_shape(github: GitHub):
    """201 with the issue (number, html_url, labels as objects) and a location header."""
    made = github.issue("SKU-1 unmapped", body="details", labels=["salesync", "bug"])
    assert made["number"] == 1
    assert (made["state"], made["state_reason"], made["closed_at"]) == ("open", None, None)
    assert [label["name"] for label in made["labels"]] == ["salesync", "bug"]
    assert made["user"]["login"] == DEFAULT_LOGIN
    assert made["html_url"].endswith("/acme-dev/support/issues/1")
    read = github.get(f"{ISSUES}/1")
    assert read.status_code == 200
    assert read.json()["body"] == "details"
    assert read.json()["closed_by"] is None


def test_credentials_are_checked_with_githubs_answers(github: GitHub):
    """Bearer and token schemes work; a bad token is 401 Bad credentials, none is 401."""
    assert (
        github.get(ISSUES, headers={"Authorization": f"token {DEFAULT_TOKEN}"}).status_code == 200
    )
    bad = github.get(ISSUES, headers={"Authorization": "Bearer ghp_nope"})
    assert bad.status_code == 401
    assert bad.json() == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    assert github.client.get(ISSUES).json()["message"] == "Requires authentication"
    github.repo.add_token("ghp_reader", "viewer", write=False)
    refused = github.post(ISSUES, {"title": "x"}, {"Authorization": "Bearer ghp_reader"})
    assert refused.status_code == 403
    assert refused.json()["message"] == "Resource not accessible by personal access token"


def test_validation_failures_list_every_problem(github: GitHub):
    """422 Validation Failed names each field: a missing title, a bad state, an outsider."""
    missing = github.post(ISSUES, {"body": "no title"})
    assert missing.status_code == 422
    assert missing.json()["message"] == "Validation Failed"
    assert missing.json()["errors"] == [
        {"resource": "Issue", "code": "missing_field", "field": "title"}
    ]
    long = github.post(ISSUES, {"title": "x" * 257, "assignees": ["stranger"]}).json()["errors"]
    assert [(e["field"], e["code"]) for e in long] == [
        ("title", "custom"),
        ("assignees", "invalid"),
    ]
    github.issue()
    bad = github.patch(f"{ISSUES}/1", {"state": "shut", "state_reason": "bored"}).json()
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [
        ("state", "invalid"),
        ("state_reason", "invalid"),
    ]
    assert github.post(ISSUES, "not an object").json()["message"] == "Problems parsing JSON"


def test_missing_repositories_and_issues_are_404_and_disabled_ones_410(github: GitHub):
    """An unknown repository or issue is 404; issues switched off or deleted are 410."""
    assert github.get("/repos/acme-dev/elsewhere/issues/1").json()["message"] == "Not Found"
    assert github.get(f"{ISSUES}/99").status_code == 404
    github.issue()
    github.client.delete("/_sandbox/issues/1")
    deleted = github.get(f"{ISSUES}/1")
    assert (deleted.status_code, deleted.json()["message"]) == (410, "This issue was deleted")
    github.client.patch("/_sandbox/repo", json={"has_issues": False})
    disabled = github.post(ISSUES, {"title": "x"})
    assert (disabled.status_code, disabled.json()["message"]) == (
        410,
        "Issues are disabled for this repo",
    )


def test_state_reason_goes_with_a_change_of_state(github: GitHub):
    """Closing defaults to completed, reopening says reopened, a reason alone changes nothing."""
    github.issue()
    closed = github.patch(f"{ISSUES}/1", {"state": "closed"}).json()
    assert (closed["state"], closed["state_reason"]) == ("closed", "completed")
    assert closed["closed_by"]["login"] == DEFAULT_LOGIN
    assert closed["closed_at"] == "2026-11-23T14:00:00Z"
    unchanged = github.patch(f"{ISSUES}/1", {"state_reason": "not_planned"}).json()
    assert unchanged["state_reason"] == "completed"
    reopened = github.patch(f"{ISSUES}/1", {"state": "open"}).json()
    assert (reopened["state"], reopened["state_reason"], reopened["closed_by"]) == (
        "open",
        "reopened",
        None,
    )
    dropped = github.patch(f"{ISSUES}/1", {"state": "closed", "state_reason": "not_planned"})
    assert dropped.json()["state_reason"] == "not_planned"
    events = github.get(f"{ISSUES}/1/events").json()
    assert [(e["event"], e["actor"]["login"]) for e in events] == [
        ("closed", DEFAULT_LOGIN),
        ("reopened", DEFAULT_LOGIN),
        ("closed", DEFAULT_LOGIN),
    ]


def test_listing_filters_by_label_state_and_since_and_pages_with_link(github: GitHub):
    """Only issues with every label, in the state asked, updated since; a link header pages."""
    for n in range(5):
        github.issue(f"issue {n}", labels=["salesync"] if n % 2 == 0 else ["other"])
        github.clock.advance(timedelta(minutes=1))
    github.patch(f"{ISSUES}/1", {"state": "closed"})
    assert len(github.get(ISSUES, labels="salesync").json()) == 2
    everything = github.get(ISSUES, labels="salesync", state="all", direction="asc", per_page=2)
    assert [i["number"] for i in everything.json()] == [1, 3]
    assert 'rel="next"' in everything.headers["link"]
    second = github.client.get(everything.links["next"]["url"], headers=AUTH)
    assert [i["number"] for i in second.json()] == [5]
    assert 'rel="prev"' in second.headers["link"]
    since = (START + timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [i["number"] for i in github.get(ISSUES, state="all", since=since).json()] == [5, 4, 1]
    assert github.get(ISSUES, state="closed").json()[0]["number"] == 1
    assert github.get(ISSUES, state="nope").status_code == 422


def test_comments_are_added_and_listed_oldest_first(github: GitHub):
    """Comments carry their author; the issue counts them; an empty one is refused."""
    github.issue()
    made = github.post(f"{ISSUES}/1/comments", {"body": "first"})
    assert made.status_code == 201
    github.client.post("/_sandbox/issues/1/comments", json={"by": "dana", "body": "second"})
    listed = github.get(f"{ISSUES}/1/comments").json()
    assert [(c["user"]["login"], c["body"]) for c in listed] == [
        (DEFAULT_LOGIN, "first"),
        ("dana", "second"),
    ]
    assert github.get(f"{ISSUES}/1").json()["comments"] == 2
    empty = github.post(f"{ISSUES}/1/comments", {"body": " "})
    assert empty.json()["errors"][0]["field"] == "body"


def test_a_developer_closing_in_the_web_interface_is_seen_by_the_api(github: GitHub):
    """The admin close acts as a person: closed_by names them."""
    github.issue()
    github.client.post("/_sandbox/issues/1/close", json={"by": "dana", "reason": "not_planned"})
    read = github.get(f"{ISSUES}/1").json()
    assert (read["state"], read["state_reason"], read["closed_by"]["login"]) == (
        "closed",
        "not_planned",
        "dana",
    )


def test_every_answer_carries_the_primary_limit_and_its_exhaustion_is_403_or_429(
    github: GitHub,
):
    """x-ratelimit-* count down; past the limit 403 (or 429) with remaining 0 until reset."""
    first = github.get(ISSUES)
    assert first.headers["x-ratelimit-limit"] == "5000"
    assert first.headers["x-ratelimit-remaining"] == "4999"
    assert first.headers["x-ratelimit-used"] == "1"
    assert first.headers["x-ratelimit-resource"] == "core"
    reset = int(first.headers["x-ratelimit-reset"])
    assert reset == int((START + timedelta(hours=1)).timestamp())
    github.client.patch("/_sandbox/limits", json={"primary_limit": 2})
    assert github.get(ISSUES).status_code == 200
    refused = github.get(ISSUES)
    assert refused.status_code == 403
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.json()["message"].startswith("API rate limit exceeded for user ID")
    github.client.patch("/_sandbox/limits", json={"primary_status": 429})
    assert github.get(ISSUES).status_code == 429
    github.clock.advance(timedelta(hours=1))
    assert github.get(ISSUES).headers["x-ratelimit-remaining"] == "1"


def test_too_much_content_at_once_hits_the_secondary_limit(github: GitHub):
    """Content creation past the minute's allowance is 403 with retry-after."""
    github.client.patch("/_sandbox/limits", json={"content_per_minute": 2})
    github.issue()
    github.issue()
    refused = github.post(ISSUES, {"title": "third"})
    assert refused.status_code == 403
    assert "secondary rate limit" in refused.json()["message"]
    assert refused.headers["retry-after"] == "60"
    assert github.get(ISSUES).status_code == 200
    github.clock.advance(timedelta(minutes=1))
    assert github.post(ISSUES, {"title": "third"}).status_code == 201


def test_armed_faults_answer_before_the_work(github: GitHub):
    """Server errors, secondary limits and revoked tokens come as armed, then stop."""
    github.faults.arm("create_issue", Fault(FaultKind.SERVER_ERROR, status=502))
    github.faults.arm("create_issue", Fault(FaultKind.RATE_LIMITED, status=429, retry_after=12))
    github.faults.arm("create_issue", FaultKind.UNAUTHORIZED)
    statuses = [github.post(ISSUES, {"title": "x"}) for _ in range(4)]
    assert [a.status_code for a in statuses] == [502, 429, 401, 201]
    assert statuses[1].headers["retry-after"] == "12"
    assert github.get(ISSUES).json()[0]["number"] == 1


def test_a_lost_answer_still_creates_the_issue():
    """With the answer dropped after the work, the client hears nothing but the issue exists."""
    clock = ManualClock(START)
    repo = GitHubRepo("acme-dev", "support", clock=clock)
    faults = FaultPlan()
    faults.arm("create_issue", FaultKind.LOST_RESPONSE)
    with serving(create_app(repo, faults=faults)) as url, httpx.Client(base_url=url) as client:
        with pytest.raises(httpx.TransportError):
            client.post(ISSUES, json={"title": "x"}, headers=AUTH)
        assert [i["number"] for i in client.get(ISSUES, headers=AUTH).json()] == [1]
