"""Tickets exported to GitHub Issues and Jira Cloud, each reached over real HTTP in its
simulator: issues opened once, states pushed, changes people make there pulled back,
errors classified, and nothing secret ever leaving salesync."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.capture import Exchange
from salesync.domain.errors import AuthError, MappingError, SyncError, TransientError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.monitor.trackers import (
    GitHubSettings,
    GitHubTracker,
    JiraSettings,
    JiraTracker,
    SyncReport,
    TrackerSync,
)
from salesync.monitor.trackers import errors as tracker_errors
from salesync.sandbox import github as github_sandbox
from salesync.sandbox import jira as jira_sandbox
from salesync.sandbox.faults import Fault, FaultKind, FaultPlan
from salesync.sandbox.server import serving
from salesync.store.tables import TicketEventRow, TicketLinkRow, TicketRow

from .conftest import LOCATION, TENANT, OpenTicket

OWNER, REPO = "acme-dev", "support"
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ALSO_POSTGRES = pytest.mark.parametrize(
    ("database_url", "side"),
    [
        ("sqlite", "github"),
        ("sqlite", "jira"),
        pytest.param("postgresql", "github", marks=pytest.mark.postgres),
    ],
    indirect=True,
)
"""Both trackers on SQLite, and the database's side of the lifecycle once on PostgreSQL."""


@dataclass
class Side:
    """A tracker, the simulator it talks to, and a developer working in that tracker."""

    name: str
    tracker: GitHubTracker | JiraTracker
    admin: httpx.Client
    faults: FaultPlan

    def issues(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.admin.get("/_sandbox/issues").json()
        return found

    def issue(self, key: str) -> dict[str, Any]:
        return next(i for i in self.issues() if self._key(i) == key)

    def _key(self, issue: dict[str, Any]) -> str:
        return f"{OWNER}/{REPO}#{issue['number']}" if self.name == "github" else issue["key"]

    def _at(self, key: str) -> str:
        return key.rpartition("#")[2] if self.name == "github" else key

    def is_closed(self, key: str) -> bool:
        issue = self.issue(key)
        if self.name == "github":
            return bool(issue["state"] == "closed")
        return bool(issue["fields"]["status"]["statusCategory"]["key"] == "done")

    def status(self, key: str) -> str:
        issue = self.issue(key)
        return str(issue["state"] if self.name == "github" else issue["fields"]["status"]["name"])

    def comments(self, key: str) -> list[str]:
        issue = self.issue(key)
        if self.name == "github":
            return list(issue["comment_bodies"])
        return [c["text"] for c in issue["comments"]]

    def close(self, key: str, by: str) -> None:
        if self.name == "github":
            answer = self.admin.post(f"/_sandbox/issues/{self._at(key)}/close", json={"by": by})
        else:
            answer = self.admin.post(
                f"/_sandbox/issues/{key}/move", json={"status": "Done", "by": by}
            )
        answer.raise_for_status()

    def reopen(self, key: str, by: str) -> None:
        if self.name == "github":
            answer = self.admin.post(f"/_sandbox/issues/{self._at(key)}/reopen", json={"by": by})
        else:
            answer = self.admin.post(
                f"/_sandbox/issues/{key}/move", json={"status": "To Do", "by": by}
            )
        answer.raise_for_status()

    def comment(self, key: str, by: str, text: str) -> None:
        self.admin.post(
            f"/_sandbox/issues/{self._at(key)}/comments", json={"by": by, "body": text}
        ).raise_for_status()

    def writes(self) -> list[dict[str, Any]]:
        return [r for r in self.admin.get("/_sandbox/requests").json() if r["method"] != "GET"]


def _github(
    url: str, clock: ManualClock, token: str = github_sandbox.DEFAULT_TOKEN
) -> GitHubTracker:
    settings = GitHubSettings(api_url=url, owner=OWNER, repo=REPO, token=token)
    return GitHubTracker(settings, clock=clock)


def _jira(url: str, token: str = jira_sandbox.DEFAULT_API_TOKEN) -> JiraTracker:
    settings = JiraSettings(
        base_url=url, project_key="SUP", email=jira_sandbox.DEFAULT_EMAIL, api_token=token
    )
    return JiraTracker(settings)


class Stand:
    """One served address whose application each test replaces with a fresh simulator
    (starting and stopping a server for every test would cost more than the test)."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        await self.app(scope, receive, send)


@pytest.fixture(scope="module")
def stand() -> Iterator[tuple[Stand, str]]:
    served = Stand()
    with serving(served) as url:
        yield served, url


@pytest.fixture(params=["github", "jira"])
def side(
    request: pytest.FixtureRequest, clock: ManualClock, stand: tuple[Stand, str]
) -> Iterator[Side]:
    """Each tracker in turn, over HTTP to a fresh simulator (sharing the test's clock)."""
    served, url = stand
    faults = FaultPlan()
    if request.param == "github":
        repo = github_sandbox.GitHubRepo(OWNER, REPO, clock=clock)
        served.app = github_sandbox.create_app(repo, faults=faults)
    else:
        served.app = jira_sandbox.create_app(jira_sandbox.JiraSite(clock=clock), faults=faults)
    tracker = _github(url, clock) if request.param == "github" else _jira(url)
    with httpx.Client(base_url=url) as admin:
        try:
            yield Side(request.param, tracker, admin, faults)
        finally:
            tracker.close()


def _failure(n: int) -> MappingError:
    return MappingError(
        f"no item is mapped for SKU 'SKU-{n}' on sale 10{n}",
        user_message=f"The product SKU-{n} has no item in your books. Map it to post the sale.",
        code=f"unmapped_sku_{n}",
        provider="qbo",
        operation="post:SalesReceipt",
    )


def _sync(db: sessionmaker[Session], side: Side, clock: ManualClock) -> SyncReport:
    return TrackerSync(db, [side.tracker], clock).sync()


def _set(db: sessionmaker[Session], ticket_id: int, **values: Any) -> None:
    with db() as session, session.begin():
        session.execute(update(TicketRow).where(TicketRow.id == ticket_id).values(**values))


def _link(db: sessionmaker[Session], ticket_id: int, tracker: str) -> TicketLinkRow:
    with db() as session:
        found = session.get(TicketLinkRow, (ticket_id, tracker))
        assert found is not None
        session.expunge(found)
        return found


def _events(db: sessionmaker[Session], ticket_id: int) -> list[tuple[str, str, str]]:
    with db() as session:
        rows = session.scalars(
            select(TicketEventRow)
            .where(TicketEventRow.ticket_id == ticket_id)
            .order_by(TicketEventRow.id)
        )
        return [(e.event, e.actor, e.text) for e in rows]


def _state(db: sessionmaker[Session], ticket_id: int) -> str:
    with db() as session:
        ticket = session.get(TicketRow, ticket_id)
        assert ticket is not None
        return ticket.state


def _quiet(report: SyncReport) -> bool:
    return (
        report.created
        + report.found
        + report.pushed
        + report.reopened
        + report.closed
        + report.revived
        + report.comments
        + report.refreshed
        + report.failed
        == 0
    )


# -- the lifecycle, on SQLite and PostgreSQL ---------------------------------------------


@ALSO_POSTGRES
def test_each_new_ticket_gets_one_issue_and_a_link(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """A pass opens one marked issue per ticket and records the link on the timeline."""
    first, second = open_ticket(_failure(1)), open_ticket(_failure(2), subject="posting:2")
    report = _sync(db, side, clock)
    assert (report.created, report.failed) == (2, 0)
    issues = side.issues()
    assert len(issues) == 2
    for ticket in (first, second):
        link = _link(db, ticket.id, side.name)
        assert (link.external_state, link.pushed_state) == ("open", "open")
        number = link.external_key.rpartition("#")[2]
        assert link.url.endswith(
            f"/{OWNER}/{REPO}/issues/{number}"
            if side.name == "github"
            else f"/browse/{link.external_key}"
        )
        issue = side.issue(link.external_key)
        text = json.dumps(issue)
        assert ticket.title.split(": ")[-1][:40] in text
        assert f"SKU-{1 if ticket is first else 2}" in text
        if side.name == "github":
            assert f"<!-- salesync-ticket:{ticket.id} -->" in issue["body"]
            assert [label["name"] for label in issue["labels"]] == ["salesync"]
        else:
            assert issue["fields"]["labels"] == ["salesync", f"salesync-ticket-{ticket.id}"]
            assert issue["fields"]["issuetype"]["name"] == "Bug"
        assert [e[0] for e in _events(db, ticket.id)] == ["opened", "tracker_linked"]


@ALSO_POSTGRES
def test_an_issue_closed_while_the_failure_continues_is_reopened(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """Closing the issue of an active ticket is undone, with a note and who closed it."""
    ticket = open_ticket(_failure(1))
    _sync(db, side, clock)
    key = _link(db, ticket.id, side.name).external_key
    side.close(key, by="dana")
    clock.advance(timedelta(minutes=5))
    report = _sync(db, side, clock)
    assert (report.reopened, report.failed) == (1, 0)
    assert not side.is_closed(key)
    note = side.comments(key)[-1]
    assert "dana closed this issue, but salesync still sees the failure" in note
    assert _state(db, ticket.id) == "open"
    event, actor, _ = _events(db, ticket.id)[-1]
    assert (event, actor) == ("tracker_closed", "dana")
    assert _quiet(_sync(db, side, clock))


@ALSO_POSTGRES
def test_a_resolved_ticket_closes_when_its_issue_is_closed(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """An issue closed by a developer after the ticket was resolved closes the ticket."""
    ticket = open_ticket(_failure(1))
    _sync(db, side, clock)
    key = _link(db, ticket.id, side.name).external_key
    _set(db, ticket.id, state="resolved", resolution="Mapped SKU-1; the 3 sales are posted.")
    side.close(key, by="dana")
    report = _sync(db, side, clock)
    assert (report.closed, report.reopened, report.failed) == (1, 0, 0)
    assert _state(db, ticket.id) == "closed"
    assert ("closed", "dana") in [e[:2] for e in _events(db, ticket.id)]
    assert side.comments(key) == ["Resolved in salesync: Mapped SKU-1; the 3 sales are posted."]
    link = _link(db, ticket.id, side.name)
    assert (link.external_state, link.pushed_state) == ("done", "closed")
    assert _quiet(_sync(db, side, clock))


@ALSO_POSTGRES
def test_comments_people_write_become_timeline_events(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """New comments in the tracker land on the timeline once, by their authors; salesync's
    own comments do not."""
    ticket = open_ticket(_failure(1))
    _sync(db, side, clock)
    key = _link(db, ticket.id, side.name).external_key
    side.comment(key, "dana", "Looks like the SKU was renamed in Shopify.")
    side.comment(key, "lee", "Confirmed; mapping it now.")
    report = _sync(db, side, clock)
    assert report.comments == 2
    comments = [e for e in _events(db, ticket.id) if e[0] == "comment"]
    assert comments == [
        ("comment", "dana", "Looks like the SKU was renamed in Shopify."),
        ("comment", "lee", "Confirmed; mapping it now."),
    ]
    _set(db, ticket.id, state="resolved", resolution="Mapped the renamed SKU.")
    assert _sync(db, side, clock).comments == 0
    assert _quiet(_sync(db, side, clock))
    assert len([e for e in _events(db, ticket.id) if e[0] == "comment"]) == 2


# -- the rest, on SQLite -------------------------------------------------------------


@SQLITE_ONLY
def test_ticket_states_are_pushed_to_the_issue(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """Fixing shows In Progress (where the tracker has it); resolving closes the issue
    with the resolution as its last comment."""
    ticket = open_ticket(_failure(1))
    _sync(db, side, clock)
    key = _link(db, ticket.id, side.name).external_key
    _set(db, ticket.id, state="fixing", assignee="dana")
    report = _sync(db, side, clock)
    assert (report.pushed, report.failed) == ((0, 0) if side.name == "github" else (1, 0))
    assert side.status(key) == ("open" if side.name == "github" else "In Progress")
    assert _link(db, ticket.id, side.name).pushed_state == "fixing"
    _set(db, ticket.id, state="resolved", resolution="Mapped SKU-1 to Widgets; 3 sales replayed.")
    assert _sync(db, side, clock).pushed == 1
    assert side.is_closed(key)
    assert (
        side.comments(key)[-1] == "Resolved in salesync: Mapped SKU-1 to Widgets; 3 sales replayed."
    )
    link = _link(db, ticket.id, side.name)
    assert (link.external_state, link.pushed_state) == ("done", "resolved")
    assert _state(db, ticket.id) == "resolved"
    pushes = [e[0] for e in _events(db, ticket.id)].count("tracker_pushed")
    assert pushes == (1 if side.name == "github" else 2)


@SQLITE_ONLY
def test_a_regression_reopens_the_issue(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """When the failure comes back after resolution, the closed issue reopens with a note."""
    ticket = open_ticket(_failure(1))
    _sync(db, side, clock)
    key = _link(db, ticket.id, side.name).external_key
    _set(db, ticket.id, state="resolved", resolution="Fixed the mapping.")
    _sync(db, side, clock)
    clock.advance(timedelta(hours=2))
    assert open_ticket(_failure(1)).state == "open"
    report = _sync(db, side, clock)
    assert (report.pushed, report.reopened) == (1, 0)
    assert not side.is_closed(key)
    assert side.comments(key)[-1].startswith("Reopened by salesync: the failure is back")
    assert "2 times" in side.comments(key)[-1]


@SQLITE_ONLY
def test_an_issue_reopened_by_a_person_reopens_its_resolved_ticket(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """Reopening the issue of a resolved ticket reopens the ticket (and its SLA clocks)."""
    ticket = open_ticket(_failure(1))
    _sync(db, side, clock)
    key = _link(db, ticket.id, side.name).external_key
    _set(db, ticket.id, state="resolved", resolution="Fixed the mapping.", resolved_at=clock())
    _sync(db, side, clock)
    side.reopen(key, by="dana")
    clock.advance(timedelta(hours=1))
    report = _sync(db, side, clock)
    assert report.revived == 1
    with db() as session:
        row = session.get(TicketRow, ticket.id)
        assert row is not None
        assert (row.state, row.reopened, row.resolved_at) == ("open", 1, None)
        assert row.opened_at == clock()
    assert _events(db, ticket.id)[-1][0] == "reopened"
    assert _quiet(_sync(db, side, clock))


@SQLITE_ONLY
def test_a_second_pass_changes_nothing(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """Running the sync again reads but writes nothing, on either side."""
    tickets = [open_ticket(_failure(n), subject=f"posting:{n}") for n in range(3)]
    _set(db, tickets[1].id, state="fixing", assignee="dana")
    _sync(db, side, clock)
    before = ([_link(db, t.id, side.name).synced_at for t in tickets], side.issues())
    writes = len(side.writes())
    events = [_events(db, t.id) for t in tickets]
    clock.advance(timedelta(minutes=10))
    assert _quiet(_sync(db, side, clock))
    assert len(side.writes()) == writes
    assert [_events(db, t.id) for t in tickets] == events
    assert ([_link(db, t.id, side.name).synced_at for t in tickets], side.issues()) == before


@SQLITE_ONLY
def test_settled_tickets_are_left_alone_after_a_while(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """A ticket closed on both sides is followed for two weeks, then not read at all."""
    ticket = open_ticket(_failure(1))
    _sync(db, side, clock)
    _set(db, ticket.id, state="resolved", resolution="Mapped SKU-1.")
    _sync(db, side, clock)
    _set(db, ticket.id, state="closed")
    _sync(db, side, clock)
    assert _link(db, ticket.id, side.name).pushed_state == "closed"
    clock.advance(timedelta(days=13))
    calls = len(side.admin.get("/_sandbox/requests").json())
    assert _quiet(_sync(db, side, clock))
    assert len(side.admin.get("/_sandbox/requests").json()) > calls
    clock.advance(timedelta(days=2))
    calls = len(side.admin.get("/_sandbox/requests").json())
    assert _quiet(_sync(db, side, clock))
    assert len(side.admin.get("/_sandbox/requests").json()) == calls


@SQLITE_ONLY
def test_new_particulars_rewrite_the_issue(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """More occurrences and a new owner are written into the issue's text."""
    ticket = open_ticket(_failure(1))
    _sync(db, side, clock)
    key = _link(db, ticket.id, side.name).external_key
    clock.advance(timedelta(minutes=30))
    open_ticket(_failure(1), subject="posting:9")
    _set(db, ticket.id, assignee="dana", team="books", state="assigned")
    report = _sync(db, side, clock)
    assert report.refreshed == 1
    text = json.dumps(side.issue(key))
    assert "2 times" in text
    assert "dana, team books" in text


@SQLITE_ONLY
def test_a_lost_answer_to_create_does_not_make_a_second_issue(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """An issue made by a pass that never heard back is found and linked, not made again."""
    ticket = open_ticket(_failure(1))
    side.faults.arm("create_issue", FaultKind.LOST_RESPONSE)
    report = _sync(db, side, clock)
    assert (report.created, report.failed) == (0, 1)
    assert report.errors[0].code == "no_answer"
    assert len(side.issues()) == 1
    report = _sync(db, side, clock)
    assert (report.created, report.found, report.failed) == (0, 1, 0)
    assert len(side.issues()) == 1
    link = _link(db, ticket.id, side.name)
    assert link.external_key.endswith(("#1", "SUP-1"))
    assert _events(db, ticket.id)[-1][2].startswith(f"Found the lost link to {side.name} issue")
    assert _quiet(_sync(db, side, clock))


@SQLITE_ONLY
def test_a_pass_that_fails_halfway_does_not_repeat_its_comment(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """The resolution posted before a failed close is not posted again when the close
    is retried."""
    ticket = open_ticket(_failure(1))
    _sync(db, side, clock)
    key = _link(db, ticket.id, side.name).external_key
    _set(db, ticket.id, state="resolved", resolution="Mapped SKU-1.")
    move = "update_issue" if side.name == "github" else "transition_issue"
    side.faults.arm(move, Fault(FaultKind.SERVER_ERROR, status=500))
    assert _sync(db, side, clock).failed == 1
    assert not side.is_closed(key)
    report = _sync(db, side, clock)
    assert (report.pushed, report.failed) == (1, 0)
    assert side.is_closed(key)
    assert side.comments(key) == ["Resolved in salesync: Mapped SKU-1."]


@SQLITE_ONLY
def test_a_failure_on_one_ticket_does_not_stop_the_others(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """A 5xx for one ticket is counted; the pass carries on and the next one catches up."""
    for n in range(3):
        open_ticket(_failure(n), subject=f"posting:{n}")
    side.faults.arm("create_issue", Fault(FaultKind.SERVER_ERROR, status=502))
    report = _sync(db, side, clock)
    assert (report.created, report.failed, report.skipped) == (2, 1, 0)
    assert report.errors[0].kind == "transient"
    assert report.errors[0].code in ("github_unavailable", "jira_unavailable")
    assert _sync(db, side, clock).created == 1
    assert len(side.issues()) == 3


@SQLITE_ONLY
def test_a_rate_limit_stops_the_tracker_for_the_pass(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """Told to wait, the pass leaves that tracker's remaining tickets for the next one."""
    for n in range(3):
        open_ticket(_failure(n), subject=f"posting:{n}")
    side.faults.arm("create_issue", Fault(FaultKind.RATE_LIMITED, status=429, retry_after=30))
    report = _sync(db, side, clock)
    assert (report.created, report.failed, report.skipped) == (0, 1, 2)
    problem = report.errors[0]
    assert (problem.kind, problem.code) == (
        "transient",
        "secondary_rate_limit" if side.name == "github" else "rate_limited",
    )
    assert _sync(db, side, clock).created == 3


@SQLITE_ONLY
def test_refused_credentials_stop_the_tracker_as_auth_errors(
    db: sessionmaker[Session], side: Side, open_ticket: OpenTicket, clock: ManualClock
):
    """A wrong token is an auth error reported once, and no ticket is touched."""
    open_ticket(_failure(1))
    open_ticket(_failure(2), subject="posting:2")
    url = str(side.admin.base_url).rstrip("/")
    wrong = _github(url, clock, "ghp_wrong") if side.name == "github" else _jira(url, "wrong")
    try:
        report = TrackerSync(db, [wrong], clock).sync()
    finally:
        wrong.close()
    assert [(p.kind, p.code, p.ticket_id) for p in report.errors] == [
        ("auth", "bad_credentials" if side.name == "github" else "unauthenticated", None)
    ]
    assert report.skipped == 2
    assert side.issues() == []


@SQLITE_ONLY
def test_the_canary_never_reaches_the_tracker(
    db: sessionmaker[Session], side: Side, clock: ManualClock
):
    """A secret in the failure's message and HTTP exchange stays out of issues and comments."""
    canary = "canary-7d1e0c55aa31"
    incidents = IncidentLog(clock, secrets=[canary])
    exchange = Exchange(
        method="POST",
        url=f"https://books.example/v3/company/1/salesreceipt?minorversion=70&k={canary}",
        request_headers={"x-api-key": canary, "content-type": "application/json"},
        request_body='{"PrivateNote": "' + canary + '", "Line": []}',
        status=400,
        response_headers={"x-echo": canary},
        response_body='{"Fault": {"Error": [{"Detail": "key ' + canary + ' refused"}]}}',
    )
    error = MappingError(
        f"the books refused key {canary} for SKU-1",
        user_message=f"The books refused the sale ({canary}).",
        code="refused",
        provider="qbo",
        operation="post:SalesReceipt",
        details={"note": canary},
    )
    with db() as session, session.begin():
        incident = incidents.record(
            session,
            TENANT,
            Failure(
                error=error,
                stage="engine",
                subject="posting:1",
                failed_at=clock(),
                location_id=LOCATION,
                http=[exchange],
            ),
        )
        ticket_id = incident.ticket_id
    assert ticket_id is not None
    _sync(db, side, clock)
    key = _link(db, ticket_id, side.name).external_key
    side.close(key, by="dana")
    _sync(db, side, clock)
    _set(db, ticket_id, state="resolved", resolution="Rotated the books' key.")
    _sync(db, side, clock)
    stored = json.dumps(side.issues())
    assert canary not in stored
    assert "HTTP 400" in stored
    assert "[redacted]" in stored
    assert len(side.comments(key)) == 2


# -- settings and answers sorted into error kinds ----------------------------------------


def test_settings_refuse_what_cannot_work():
    """Addresses need a scheme, Jira keys are upper case, labels have no spaces; tokens
    never show in a repr."""
    github = GitHubSettings.model_validate(
        {"owner": "acme-dev", "repo": "support", "token": "ghp_secret123"}
    )
    assert github.api_url == "https://api.github.com"
    assert "ghp_secret123" not in repr(github)
    problems = {
        "api_url": {"owner": "a", "repo": "b", "token": "t", "api_url": "api.github.com"},
        "owner": {"owner": "acme dev", "repo": "b", "token": "t"},
    }
    for field_name, values in problems.items():
        with pytest.raises(ValidationError, match=field_name):
            GitHubSettings.model_validate(values)
    jira = {"base_url": "https://acme.atlassian.net/", "email": "bot@acme.example"}
    good = JiraSettings.model_validate({**jira, "project_key": "SUP", "api_token": "t"})
    assert good.base_url == "https://acme.atlassian.net"
    for field_name, value in (("project_key", "sup"), ("label", "two words")):
        with pytest.raises(ValidationError, match=field_name):
            JiraSettings.model_validate(
                {**jira, "project_key": "SUP", "api_token": "t", field_name: value}
            )


def _answer(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def _github_error(response: httpx.Response, clock: ManualClock) -> SyncError:
    return tracker_errors.github_error(
        response, "create_issue", repository=f"{OWNER}/{REPO}", now=clock()
    )


def test_github_answers_are_sorted_into_kinds(clock: ManualClock):
    """401 and a 403 without limits are auth; limits are transient with their wait; 404,
    410 and 422 say what is wrong."""
    reset = str(int(clock().timestamp()) + 900)
    cases = [
        (_answer(401, {"message": "Bad credentials"}), AuthError, "bad_credentials", None),
        (
            _answer(403, {"message": "Resource not accessible by personal access token"}),
            AuthError,
            "forbidden",
            None,
        ),
        (
            _answer(
                403,
                {"message": "API rate limit exceeded for user ID 1."},
                **{"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset},
            ),
            TransientError,
            "rate_limited",
            900.0,
        ),
        (
            _answer(429, {"message": "API rate limit exceeded"}, **{"x-ratelimit-remaining": "0"}),
            TransientError,
            "rate_limited",
            60.0,
        ),
        (
            _answer(
                403,
                {"message": "You have exceeded a secondary rate limit."},
                **{"retry-after": "42"},
            ),
            TransientError,
            "secondary_rate_limit",
            42.0,
        ),
        (
            _answer(403, {"message": "You have exceeded a secondary rate limit."}),
            TransientError,
            "secondary_rate_limit",
            60.0,
        ),
        (_answer(502, {"message": "Server Error"}), TransientError, "github_unavailable", None),
    ]
    for response, kind, code, wait in cases:
        error = _github_error(response, clock)
        assert (type(error), error.code) == (kind, code), response.json()
        assert getattr(error, "retry_after", None) == wait
    missing = _github_error(_answer(404, {"message": "Not Found"}), clock)
    assert (missing.kind.value, missing.code) == ("validation", "not_found")
    assert f"{OWNER}/{REPO}" in missing.user_message
    gone = _github_error(_answer(410, {"message": "Issues are disabled for this repo"}), clock)
    assert (gone.kind.value, gone.code) == ("validation", "gone")
    assert "Issues are disabled for this repo" in gone.user_message
    invalid = _github_error(
        _answer(
            422,
            {
                "message": "Validation Failed",
                "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}],
            },
        ),
        clock,
    )
    assert (invalid.kind.value, invalid.code) == ("bug", "validation_failed")
    assert "title: missing_field" in invalid.message


def test_jira_answers_are_sorted_into_kinds():
    """400 lists every field problem; 401/403 are auth; 429 waits as told."""

    def error(response: httpx.Response) -> SyncError:
        return tracker_errors.jira_error(response, "create_issue", site="https://acme.example")

    rejected = error(
        _answer(400, {"errorMessages": [], "errors": {"project": "valid project is required"}})
    )
    assert (rejected.kind.value, rejected.code) == ("validation", "rejected")
    assert "project: valid project is required" in rejected.user_message
    assert error(_answer(401, {"errorMessages": ["no"], "errors": {}})).kind.value == "auth"
    forbidden = error(_answer(403, {"errorMessages": ["You may not."], "errors": {}}))
    assert (forbidden.kind.value, forbidden.code) == ("auth", "forbidden")
    missing = error(_answer(404, {"errorMessages": ["Issue does not exist"], "errors": {}}))
    assert (missing.kind.value, missing.code) == ("validation", "not_found")
    slow = error(_answer(429, {"errorMessages": [], "errors": {}}, **{"Retry-After": "7"}))
    assert isinstance(slow, TransientError)
    assert (slow.code, slow.retry_after) == ("rate_limited", 7.0)
    down = error(_answer(503, {"errorMessages": [], "errors": {}}, **{"Retry-After": "3"}))
    assert isinstance(down, TransientError)
    assert (down.code, down.retry_after) == ("jira_unavailable", 3.0)


def test_github_limits_from_the_simulator_are_transient(
    clock: ManualClock, stand: tuple[Stand, str]
):
    """The simulator's exhausted primary limit (403 or 429) and read-only tokens reach the
    client as the right kinds."""
    repo = github_sandbox.GitHubRepo(OWNER, REPO, clock=clock)
    repo.add_token("ghp_readonly", "viewer", write=False)
    served, url = stand
    served.app = github_sandbox.create_app(repo)
    with httpx.Client(base_url=url) as admin:
        tracker, reader = _github(url, clock), _github(url, clock, "ghp_readonly")
        try:
            with pytest.raises(AuthError) as refused:
                reader.comment(f"{OWNER}/{REPO}#1", "hello")
            assert refused.value.code == "forbidden"
            for status in (403, 429):
                admin.patch(
                    "/_sandbox/limits", json={"primary_limit": 0, "primary_status": status}
                ).raise_for_status()
                with pytest.raises(TransientError) as limited:
                    tracker.read(f"{OWNER}/{REPO}#1")
                assert limited.value.code == "rate_limited"
                assert limited.value.retry_after == 3600.0
        finally:
            tracker.close()
            reader.close()


def test_jira_burst_limit_from_the_simulator_is_transient(
    clock: ManualClock, stand: tuple[Stand, str]
):
    """Past the simulator's burst limit the client hears 429 with its Retry-After."""
    served, url = stand
    served.app = jira_sandbox.create_app(jira_sandbox.JiraSite(clock=clock))
    with httpx.Client(base_url=url) as admin:
        admin.put("/_sandbox/limits", json={"calls": 1, "seconds": 2}).raise_for_status()
        tracker = _jira(url)
        try:
            assert tracker.account()
            with pytest.raises(TransientError) as limited:
                tracker.read("SUP-1")
            assert (limited.value.code, limited.value.retry_after) == ("rate_limited", 2.0)
        finally:
            tracker.close()
