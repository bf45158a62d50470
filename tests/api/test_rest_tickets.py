"""The ticket action routes: replay and retry (Tier 2 and admins), comment, assign, close
and resolve (support staff), each on the ticket's timeline under the caller's name, and a
resolution refused with what still differs until the failure is repaired."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from callers import OTHER, Callers, opened
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.tokens import ACTIVE, RECONNECT
from salesync.domain.errors import AuthError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.store.repositories import Connections
from salesync.store.tables import ConnectionRow
from salesync.store.vault import Vault

TICKETS = "/api/v1/tenants/demo/tickets"
EXPLANATION = "Your books had signed salesync out; you signed in again and all is posted."


@dataclass(frozen=True)
class Desk:
    api: Callers
    ticket: int
    connection: str
    beta_ticket: int


def _auth_ticket(
    session: Session, clock: ManualClock, vault: Vault, tenant_id: str
) -> tuple[int, str]:
    """A connection paused for reconnection and the ticket its failure opened."""
    connection = Connections(session, tenant_id, vault).add(
        "qbo", "destination", "Books", {"access_token": "a"}, {}
    )
    row = session.get(ConnectionRow, connection)
    assert row is not None
    row.status = RECONNECT
    incident = IncidentLog(clock).record(
        session,
        tenant_id,
        Failure(
            error=AuthError(
                "refresh token revoked",
                user_message="Your books signed salesync out; sign in again.",
                code="invalid_grant",
                provider="qbo",
                operation="refresh",
            ),
            stage="connector",
            subject=f"connection:{connection}",
            failed_at=clock(),
            connection_id=connection,
        ),
    )
    assert incident.ticket_id is not None
    return incident.ticket_id, connection


@pytest.fixture
def desk(
    db: sessionmaker[Session], clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> Iterator[Desk]:
    with opened(db, clock, vault, registry) as api:
        with db() as session, session.begin():
            ticket, connection = _auth_ticket(session, clock, vault, "demo")
            beta_ticket, _ = _auth_ticket(session, clock, vault, OTHER)
        yield Desk(api, ticket, connection, beta_ticket)


def timeline(desk: Desk) -> list[tuple[str, str | None, str | None]]:
    """The ticket's events as (event, actor, text), read through the tickets route."""
    detail = desk.api.get("admin", f"{TICKETS}/{desk.ticket}").json()
    return [(e["event"], e["actor"], e["text"]) for e in detail["events"]]


def test_a_replay_reports_what_waits_for_the_merchant(desk: Desk) -> None:
    """A developer's replay sends nothing while the books wait for reconnection, says so,
    and is on the timeline under the developer's email."""
    response = desk.api.send("developer", "POST", f"{TICKETS}/{desk.ticket}/replay")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["postings"], body["records"], body["documents"]) == (0, 0, 0)
    assert body["waiting_on_merchant"] == [desk.connection]
    assert ("replayed", "developer@example.com") in [e[:2] for e in timeline(desk)]


def test_a_retry_is_on_the_timeline_as_a_retry(desk: Desk) -> None:
    """A retry releases postings only and is recorded as ``retried``."""
    response = desk.api.send("admin", "POST", f"{TICKETS}/{desk.ticket}/retry")
    assert response.status_code == 200, response.text
    assert ("retried", "admin@example.com") in [e[:2] for e in timeline(desk)]


def test_comment_assign_and_close_move_the_ticket(desk: Desk) -> None:
    """Tier 1 comments, assigns to a developer with a team, and closes with a reason;
    each lands on the timeline and the answer shows where the ticket stands."""
    path = f"{TICKETS}/{desk.ticket}"
    comment = desk.api.send("tier1", "POST", f"{path}/comment", {"text": "Merchant emailed."})
    assert comment.status_code == 200, comment.text
    assigned = desk.api.send(
        "tier1", "POST", f"{path}/assign", {"assignee": "dev@example.com", "team": "books"}
    )
    assert assigned.status_code == 200, assigned.text
    assert (assigned.json()["state"], assigned.json()["assignee"]) == (
        "assigned",
        "dev@example.com",
    )
    assert assigned.json()["team"] == "books"
    closed = desk.api.send("tier1", "POST", f"{path}/close", {"reason": "The merchant left."})
    assert closed.json()["state"] == "closed"
    events = timeline(desk)
    assert ("comment", "tier1@example.com", "Merchant emailed.") in events
    assert ("closed", "tier1@example.com", "The merchant left.") in events
    again = desk.api.send("tier1", "POST", f"{path}/assign", {"assignee": "someone"})
    assert again.status_code == 409
    assert again.json()["error"] == "ticket_state"


def test_resolving_waits_until_the_failure_is_repaired(
    desk: Desk, db: sessionmaker[Session]
) -> None:
    """While the books wait for reconnection, resolving is refused 409 with the
    difference; once reconnected it resolves with the explanation the merchant reads."""
    path = f"{TICKETS}/{desk.ticket}/resolve"
    refused = desk.api.send("developer", "POST", path, {"explanation": EXPLANATION})
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "not_verified"
    assert any(desk.connection in d for d in refused.json()["differences"])
    with db() as session, session.begin():
        row = session.get(ConnectionRow, desk.connection)
        assert row is not None
        row.status = ACTIVE
    resolved = desk.api.send("developer", "POST", path, {"explanation": EXPLANATION})
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["ticket"]["state"] == "resolved"
    assert resolved.json()["ticket"]["resolution"] == EXPLANATION
    assert ("resolved", "developer@example.com", EXPLANATION) in timeline(desk)


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("comment", {"text": "   "}, "text"),
        ("comment", {}, "text"),
        ("assign", {"assignee": ""}, "assignee"),
        ("resolve", {"explanation": "Fixed."}, "explanation"),
        ("close", {"reason": "x", "extra": 1}, "extra"),
    ],
)
def test_a_bad_action_body_names_the_field(
    desk: Desk, action: str, body: dict[str, object], field: str
) -> None:
    """A blank comment, no assignee, a one-word explanation or an unknown field: 422."""
    response = desk.api.send("admin", "POST", f"{TICKETS}/{desk.ticket}/{action}", body)
    assert response.status_code == 422, response.text
    assert field in {p["path"] for p in response.json()["problems"]}


@pytest.mark.parametrize("ticket", ["beta", "0", "nope", "99999999999999999999"])
def test_a_ticket_not_of_the_tenant_is_not_found(desk: Desk, ticket: str) -> None:
    """Beta's ticket under demo, or no ticket number at all, is 404 and untouched."""
    number = str(desk.beta_ticket) if ticket == "beta" else ticket
    response = desk.api.send("admin", "POST", f"{TICKETS}/{number}/comment", {"text": "hi"})
    assert response.status_code == 404
    assert response.json()["error"] == "unknown_ticket"


@pytest.mark.parametrize(
    ("who", "replay", "comment"),
    [
        ("token", 403, 403),
        ("owner", 403, 403),
        ("bookkeeper", 403, 403),
        ("tier1", 403, 200),
        ("developer", 200, 200),
        ("admin", 200, 200),
    ],
)
def test_who_may_work_a_ticket(desk: Desk, who: str, replay: int, comment: int) -> None:
    """Replay is Tier 2's and admins'; comments are support staff's; merchants (and their
    tenant's token, which acts as the owner) only read tickets."""
    path = f"{TICKETS}/{desk.ticket}"
    assert desk.api.send(who, "POST", f"{path}/replay").status_code == replay
    said = desk.api.send(who, "POST", f"{path}/comment", {"text": "looking"})
    assert said.status_code == comment, said.text
    if comment == 403:
        assert said.json()["error"] == "not_allowed"
    assert desk.api.get(who, path).status_code == 200
