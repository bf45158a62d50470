"""The Jira Cloud sandbox answers as REST API v3 does: basic auth with API tokens, field
errors all at once, ADF only, the To Do / In Progress / Done workflow with its changelog,
comments, the enhanced JQL search, and 429s with Retry-After."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from salesync.clock import ManualClock
from salesync.sandbox.faults import Fault, FaultKind, FaultPlan
from salesync.sandbox.jira import (
    DEFAULT_API_TOKEN,
    DEFAULT_EMAIL,
    DEFAULT_NAME,
    JiraSite,
    create_app,
)

START = datetime(2026, 11, 23, 14, 0, tzinfo=UTC)
API = "/rest/api/3"


def _basic(email: str, token: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{token}".encode()).decode()}


AUTH = _basic(DEFAULT_EMAIL, DEFAULT_API_TOKEN)


def _doc(text: str) -> dict[str, Any]:
    return {
        "type": "doc",
        "version": 1,
        "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}],
    }


class Jira:
    """A sandbox site with project SUP, its app, and an in-process client for the bot."""

    def __init__(self) -> None:
        self.clock = ManualClock(START)
        self.faults = FaultPlan()
        self.site = JiraSite(clock=self.clock)
        self.app = create_app(self.site, faults=self.faults)
        self.client = TestClient(self.app)

    def call(self, method: str, path: str, body: Any = None, **params: Any) -> httpx.Response:
        return self.client.request(method, API + path, json=body, params=params, headers=AUTH)

    def issue(self, summary: str = "A failure", **fields: Any) -> str:
        answer = self.call(
            "POST",
            "/issue",
            {
                "fields": {
                    "project": {"key": "SUP"},
                    "summary": summary,
                    "issuetype": {"name": "Bug"},
                    "description": _doc("what happened"),
                    **fields,
                }
            },
        )
        assert answer.status_code == 201, answer.text
        key: str = answer.json()["key"]
        return key


@pytest.fixture
def jira() -> Jira:
    return Jira()


def test_an_issue_is_created_and_read_back_in_jiras_shape(jira: Jira):
    """201 with id, key and self; the issue starts in To Do with its fields and labels."""
    answer = jira.call(
        "POST",
        "/issue",
        {
            "fields": {
                "project": {"key": "SUP"},
                "summary": "SKU-1 unmapped",
                "issuetype": {"name": "Bug"},
                "labels": ["salesync", "salesync-ticket-7"],
                "description": _doc("details"),
            }
        },
    )
    assert answer.status_code == 201
    made = answer.json()
    assert set(made) == {"id", "key", "self"}
    assert made["key"] == "SUP-1"
    fields = jira.call("GET", "/issue/SUP-1").json()["fields"]
    assert fields["summary"] == "SKU-1 unmapped"
    assert fields["status"]["name"] == "To Do"
    assert fields["status"]["statusCategory"]["key"] == "new"
    assert fields["labels"] == ["salesync", "salesync-ticket-7"]
    assert fields["description"] == _doc("details")
    assert fields["created"] == "2026-11-23T14:00:00.000+0000"
    only = jira.call("GET", f"/issue/{made['id']}", fields="summary").json()["fields"]
    assert only == {"summary": "SKU-1 unmapped"}


def test_field_errors_are_reported_together(jira: Jira):
    """400 lists every field problem under errors: project, summary, ADF, labels, unknown."""
    answer = jira.call(
        "POST",
        "/issue",
        {
            "fields": {
                "project": {"key": "NOPE"},
                "description": "plain text",
                "labels": ["has space"],
                "priority": {"name": "High"},
            }
        },
    )
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert answer.json()["errorMessages"] == []
    assert errors["project"] == "valid project is required"
    assert errors["summary"] == "You must specify a summary of the issue."
    assert errors["description"].startswith("Operation value must be an Atlassian Document")
    assert "contains spaces" in errors["labels"]
    assert "cannot be set" in errors["priority"]
    wrong_type = jira.call(
        "POST",
        "/issue",
        {"fields": {"project": {"key": "SUP"}, "summary": "x", "issuetype": {"name": "Epic"}}},
    )
    assert wrong_type.json()["errors"] == {"issuetype": "valid issue type is required"}


def test_credentials_and_permissions_are_checked(jira: Jira):
    """A wrong token is 401, a read-only account 403 on writes, a missing issue 404."""
    wrong = jira.client.get(API + "/myself", headers=_basic(DEFAULT_EMAIL, "wrong"))
    assert wrong.status_code == 401
    assert wrong.json()["errorMessages"] == [
        "Client must be authenticated to access this resource."
    ]
    assert jira.call("GET", "/myself").json()["displayName"] == DEFAULT_NAME
    jira.client.post(
        "/_sandbox/accounts",
        json={"display_name": "Viewer", "email": "v@example.com", "api_token": "t", "write": False},
    )
    key = jira.issue()
    reader = _basic("v@example.com", "t")
    assert jira.client.get(f"{API}/issue/{key}", headers=reader).status_code == 200
    refused = jira.client.post(
        f"{API}/issue/{key}/comment", json={"body": _doc("hi")}, headers=reader
    )
    assert refused.status_code == 403
    missing = jira.call("GET", "/issue/SUP-99")
    assert missing.status_code == 404
    assert missing.json()["errorMessages"] == [
        "Issue does not exist or you do not have permission to see it."
    ]


def test_the_workflow_moves_by_transition_and_keeps_a_changelog(jira: Jira):
    """Transitions lead into the other statuses; Done sets the resolution; the changelog
    says who moved it, newest first."""
    key = jira.issue()
    listed = jira.call("GET", f"/issue/{key}/transitions").json()["transitions"]
    assert [(t["id"], t["to"]["name"], t["to"]["statusCategory"]["key"]) for t in listed] == [
        ("21", "In Progress", "indeterminate"),
        ("31", "Done", "done"),
    ]
    assert (
        jira.call("POST", f"/issue/{key}/transitions", {"transition": {"id": "31"}}).status_code
        == 204
    )
    jira.clock.advance(timedelta(minutes=1))
    jira.client.post(f"/_sandbox/issues/{key}/move", json={"status": "To Do", "by": "Dana"})
    read = jira.call("GET", f"/issue/{key}", expand="changelog").json()
    assert read["fields"]["status"]["name"] == "To Do"
    assert read["fields"]["resolution"] is None
    history = read["changelog"]["histories"]
    assert [(h["author"]["displayName"], h["items"][0]["toString"]) for h in history] == [
        ("Dana", "To Do"),
        (DEFAULT_NAME, "Done"),
    ]
    bad = jira.call("POST", f"/issue/{key}/transitions", {"transition": {"id": "11"}})
    assert bad.status_code == 400
    assert bad.json()["errorMessages"] == ["Transition id '11' is not valid for this issue."]


def test_comments_take_adf_and_list_with_their_authors(jira: Jira):
    """A comment body must be ADF; comments list oldest first with a total."""
    key = jira.issue()
    made = jira.call("POST", f"/issue/{key}/comment", {"body": _doc("first")})
    assert made.status_code == 201
    assert made.json()["author"]["displayName"] == DEFAULT_NAME
    jira.client.post(f"/_sandbox/issues/{key}/comments", json={"by": "Dana", "body": "second"})
    listed = jira.call("GET", f"/issue/{key}/comment", orderBy="created").json()
    assert listed["total"] == 2
    assert [c["author"]["displayName"] for c in listed["comments"]] == [DEFAULT_NAME, "Dana"]
    assert listed["comments"][1]["body"] == _doc("second")
    plain = jira.call("POST", f"/issue/{key}/comment", {"body": "plain"})
    assert plain.status_code == 400
    assert plain.json()["errors"]["comment"].startswith("Operation value must be")


def test_jql_search_finds_by_project_and_labels_and_pages(jira: Jira):
    """The enhanced search matches labels, pages with nextPageToken and refuses bad JQL."""
    for n in range(3):
        jira.issue(f"issue {n}", labels=["salesync", f"salesync-ticket-{n}"])
    jira.issue("unrelated", labels=["other"])
    found = jira.call(
        "GET",
        "/search/jql",
        jql='project = SUP AND labels in ("salesync-ticket-0", salesync-ticket-2) ORDER BY created',
        fields="labels",
    ).json()
    assert [i["key"] for i in found["issues"]] == ["SUP-1", "SUP-3"]
    assert found["isLast"] is True
    first = jira.call("GET", "/search/jql", jql="labels = salesync", maxResults=2).json()
    assert (len(first["issues"]), first["isLast"]) == (2, False)
    rest = jira.call(
        "POST", "/search/jql", {"jql": "labels = salesync", "nextPageToken": first["nextPageToken"]}
    ).json()
    assert [i["key"] for i in rest["issues"]] == ["SUP-3"]
    assert (
        jira.call("GET", "/search/jql", jql="labels != salesync").json()["issues"][0]["key"]
        == "SUP-4"
    )
    refusals = {
        "foo = bar": "Field 'foo' does not exist or you do not have permission to view it.",
        "project = NOPE": "The value 'NOPE' does not exist for the field 'project'.",
        "": "Unbounded JQL queries are not allowed here. Please add a search restriction to "
        "your query.",
    }
    for jql, message in refusals.items():
        answer = jira.call("GET", "/search/jql", jql=jql)
        assert (answer.status_code, answer.json()["errorMessages"]) == (400, [message])


def test_edits_change_summary_and_description(jira: Jira):
    """PUT answers 204 and the fields change; a newline in a summary is refused."""
    key = jira.issue()
    edited = jira.call(
        "PUT", f"/issue/{key}", {"fields": {"summary": "new", "description": _doc("x")}}
    )
    assert edited.status_code == 204
    assert jira.call("GET", f"/issue/{key}").json()["fields"]["summary"] == "new"
    assert jira.call("PUT", f"/issue/{key}", {"fields": {"summary": "a\nb"}}).status_code == 400


def test_the_burst_limit_answers_429_with_retry_after(jira: Jira):
    """Past the limit, 429 with Retry-After and X-RateLimit headers until the window moves."""
    jira.client.put("/_sandbox/limits", json={"calls": 2, "seconds": 10})
    assert jira.call("GET", "/myself").status_code == 200
    assert jira.call("GET", "/myself").status_code == 200
    refused = jira.call("GET", "/myself")
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "10"
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert refused.headers["x-ratelimit-reset"] == "2026-11-23T14:00Z"
    jira.clock.advance(timedelta(seconds=10))
    assert jira.call("GET", "/myself").status_code == 200


def test_armed_faults_answer_before_the_work(jira: Jira):
    """A 503 with Retry-After, a 429 and a 401 come as armed; then the call goes through."""
    jira.faults.arm("myself", Fault(FaultKind.SERVER_ERROR, status=503, retry_after=5))
    jira.faults.arm("myself", Fault(FaultKind.RATE_LIMITED, retry_after=3))
    jira.faults.arm("myself", FaultKind.UNAUTHORIZED)
    answers = [jira.call("GET", "/myself") for _ in range(4)]
    assert [a.status_code for a in answers] == [503, 429, 401, 200]
    assert (answers[0].headers["retry-after"], answers[1].headers["retry-after"]) == ("5", "3")
    assert answers[0].json()["errorMessages"] == ["Service unavailable"]
