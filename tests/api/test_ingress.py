"""Webhook ingress: verified deliveries are kept and acknowledged, forged and replayed ones
refused and logged, unreadable ones kept with the reason, nothing dropped silently."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
import structlog
from fastapi.testclient import TestClient
from hooksource import Hooks, sales
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.api import create_app
from salesync.clock import ManualClock
from salesync.connectors.registry import SourceRegistry
from salesync.engine.inbox import UNREADABLE, Inbox, RecordState, as_problems
from salesync.engine.runner import Engine
from salesync.store.database import make_engine, session_factory
from salesync.store.repositories import Connections
from salesync.store.tables import ConnectionRow, InboxRecordRow, IncidentRow, TicketRow
from salesync.store.vault import Vault


def inbox_rows(db: sessionmaker[Session]) -> list[InboxRecordRow]:
    with db() as session:
        return list(session.scalars(select(InboxRecordRow).order_by(InboxRecordRow.id)))


@pytest.fixture
def logs() -> Iterator[list[dict[str, object]]]:
    with structlog.testing.capture_logs() as captured:
        yield captured


def test_a_genuine_delivery_is_kept_and_acknowledged(
    hooks: Hooks, db: sessionmaker[Session], connection_id: str
) -> None:
    """A signed delivery answers 200 and leaves one received record, with its connection
    and event id, for the runner to take in later."""
    response = hooks.post(hooks.body(sales()[0]), event_id="evt-100")
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "accepted"
    [row] = inbox_rows(db)
    assert (row.state, row.source, row.record_type) == ("received", "hooktest", "sale")
    assert (row.connection_id, row.event_id) == (connection_id, "evt-100")


def test_the_runner_takes_a_kept_delivery_in_later(
    hooks: Hooks, db: sessionmaker[Session], clock: ManualClock, registry: SourceRegistry
) -> None:
    """Processing is asynchronous: the engine normalizes the stored record afterwards."""
    assert hooks.post(hooks.body(sales()[0])).status_code == 200
    counts = Engine(db, clock, registry=registry).take_in("demo")
    assert counts[RecordState.NORMALIZED.value] == 1
    assert [r.state for r in inbox_rows(db)] == ["normalized"]


def test_a_repeated_event_is_acknowledged_as_a_duplicate(
    hooks: Hooks, db: sessionmaker[Session]
) -> None:
    """Providers retry: the same event id again answers 200 duplicate and stores no
    second original."""
    sale = sales()[0]
    assert hooks.post(hooks.body(sale), event_id="evt-7").json()["status"] == "accepted"
    again = hooks.post(hooks.body(sale), event_id="evt-7")
    assert again.status_code == 200
    assert again.json()["status"] == "duplicate"
    rows = inbox_rows(db)
    assert [r.state for r in rows] == ["received", "duplicate"]
    assert rows[1].duplicate_of == rows[0].id


def test_a_forged_delivery_is_refused_logged_and_not_stored(
    hooks: Hooks, db: sessionmaker[Session], connection_id: str, logs: list[dict[str, object]]
) -> None:
    """A body signed with another secret answers 401, stores nothing, and logs the
    connection, provider, sender and reason, but nothing of the body."""
    sale = sales()[0]
    response = hooks.post(hooks.body(sale), signed_with="someone-else")
    assert response.status_code == 401
    assert response.json()["error"] == "webhook_forged"
    assert inbox_rows(db) == []
    [line] = [entry for entry in logs if entry["event"] == "webhook_refused"]
    assert line["log_level"] == "warning"
    assert (line["connection"], line["provider"], line["refused"]) == (
        connection_id,
        "hooktest",
        "forged",
    )
    assert line["remote"] == "testclient"
    assert "HMAC" in str(line["reason"])
    assert sale.external_id not in json.dumps(logs, default=str)


def test_forged_deliveries_are_one_throttled_ticket_for_an_operator(
    hooks: Hooks, db: sessionmaker[Session], clock: ManualClock, connection_id: str
) -> None:
    """Forged deliveries are an incident of the connection's webhooks: the first at once,
    the rest of a flood counted into the next one a minute later, all on one ticket that
    asks nothing of the merchant."""
    body = hooks.body(sales()[0])
    for _ in range(25):
        assert hooks.post(body, signed_with="someone-else").status_code == 401
    clock.advance(timedelta(seconds=61))
    assert hooks.post(body, signed_with="someone-else").status_code == 401
    with db() as session:
        incidents = list(session.scalars(select(IncidentRow).order_by(IncidentRow.id)))
        [ticket] = session.scalars(select(TicketRow)).all()
    assert [i.details["refusals"] for i in incidents] == [1, 25]
    assert {(i.stage, i.kind, i.code, i.connection_id) for i in incidents} == {
        ("ingress", "auth", "webhook_signature_invalid", connection_id)
    }
    assert incidents[0].details["remote"] == "testclient"
    assert ticket.occurrences == 2
    assert ticket.merchant_action is False
    assert inbox_rows(db) == []


def test_a_delivery_without_a_signature_is_forged(hooks: Hooks, db: sessionmaker[Session]) -> None:
    """A missing signature header is refused like a wrong one."""
    body = hooks.body(sales()[0])
    response = hooks.client.post(f"/webhooks/{hooks.connection_id}", content=body)
    assert response.status_code == 401
    assert inbox_rows(db) == []


def test_a_delivery_older_than_the_replay_horizon_is_refused(
    hooks: Hooks, db: sessionmaker[Session], clock: ManualClock, logs: list[dict[str, object]]
) -> None:
    """A genuine signature triggered longer ago than the provider retries is a replay:
    401 and logged; one still inside the retry window is accepted."""
    sale_a, sale_b = sales()[:2]
    old = hooks.post(hooks.body(sale_a), triggered_at=clock() - timedelta(hours=6))
    assert old.status_code == 401
    assert old.json()["error"] == "webhook_replayed"
    assert [e["refused"] for e in logs if e["event"] == "webhook_refused"] == ["replayed"]
    late_retry = hooks.post(
        hooks.body(sale_b), event_id="evt-2", triggered_at=clock() - timedelta(hours=4)
    )
    assert late_retry.status_code == 200
    assert len(inbox_rows(db)) == 1


def test_an_oversized_body_is_refused_by_its_declared_length(
    hooks: Hooks, db: sessionmaker[Session]
) -> None:
    """A Content-Length over the cap answers 413 without reading the body."""
    body = b"x" * (64 * 1024 + 1)
    response = hooks.post(body)
    assert response.status_code == 413
    assert inbox_rows(db) == []


def test_an_oversized_body_is_refused_while_streaming(
    hooks: Hooks, db: sessionmaker[Session]
) -> None:
    """A body sent in chunks with no length is cut off once it passes the cap: 413."""

    def chunks() -> Iterator[bytes]:
        for _ in range(80):
            yield b"y" * 1024

    response = hooks.client.post(f"/webhooks/{hooks.connection_id}", content=chunks())
    assert response.status_code == 413
    assert inbox_rows(db) == []


def test_an_unknown_or_disabled_connection_is_not_found(
    hooks: Hooks, db: sessionmaker[Session], connection_id: str
) -> None:
    """A delivery to no connection, or to a disabled one, answers 404 and stores nothing."""
    body = hooks.body(sales()[0])
    assert hooks.client.post("/webhooks/no-such-connection", content=body).status_code == 404
    with db() as session, session.begin():
        row = session.get(ConnectionRow, connection_id)
        assert row is not None
        row.status = "disabled"
    hooks.client.app.state.connections.invalidate(connection_id)  # type: ignore[attr-defined]
    response = hooks.post(body)
    assert response.status_code == 404
    assert "disabled" in response.json()["message"]
    assert inbox_rows(db) == []


def test_a_rotated_secret_is_used_at_once(
    hooks: Hooks, db: sessionmaker[Session], vault: Vault, connection_id: str
) -> None:
    """After the connection's secret changes, a delivery signed with the new secret is
    accepted at once although the old one is still kept in memory."""
    sale_a, sale_b = sales()[:2]
    assert hooks.post(hooks.body(sale_a), event_id="evt-a").status_code == 200
    with db() as session, session.begin():
        Connections(session, "demo", vault).replace_credentials(connection_id, {"secret": "new"})
    response = hooks.post(hooks.body(sale_b), event_id="evt-b", signed_with="new")
    assert response.status_code == 200, response.text
    assert hooks.post(hooks.body(sale_b), event_id="evt-c").status_code == 401


def test_an_unreadable_genuine_body_is_kept_and_explained(
    hooks: Hooks, db: sessionmaker[Session], clock: ManualClock, registry: SourceRegistry
) -> None:
    """A signed body the connector cannot read answers 200 with the reason (a retry would
    bring the same bytes), is kept as it came, and stays quarantined through intake."""
    body = b'{"not": "an order"'
    response = hooks.post(body)
    assert response.status_code == 200
    answer = response.json()
    assert (answer["error"], answer["status"]) == ("unreadable", "quarantined")
    assert answer["problems"][0]["code"] == "malformed_body"
    counts = Engine(db, clock, registry=registry).take_in("demo")
    assert counts[RecordState.QUARANTINED.value] == 0  # never offered to intake
    [row] = inbox_rows(db)
    assert (row.state, row.record_type, row.payload) == ("quarantined", UNREADABLE, body.decode())
    assert [p.code for p in as_problems(row.problems)] == ["malformed_body"]
    with db() as session, pytest.raises(ValueError, match="could not read"):
        Inbox(session, "demo", clock).replay(row.id)


def test_a_connection_that_cannot_check_signatures_answers_503(
    hooks: Hooks, db: sessionmaker[Session], vault: Vault, logs: list[dict[str, object]]
) -> None:
    """A connection without its webhook secret cannot tell genuine from forged: 503 so the
    provider retries once it is reconnected, an error logged, nothing stored."""
    with db() as session, session.begin():
        bare = Connections(session, "demo", vault).add("hooktest", "source", "No secret", {})
    body = hooks.body(sales()[0])
    response = hooks.client.post(f"/webhooks/{bare}", content=body)
    assert response.status_code == 503
    assert response.json()["error"] == "webhook_secret_missing"
    assert [e["code"] for e in logs if e["event"] == "webhook_not_verifiable"] == [
        "webhook_secret_missing"
    ]
    assert inbox_rows(db) == []
    with db() as session:
        [incident] = session.scalars(select(IncidentRow)).all()
    assert (incident.stage, incident.code, incident.connection_id) == (
        "ingress",
        "webhook_secret_missing",
        bare,
    )
    assert incident.ticket_id is not None


def test_an_unreachable_database_answers_503(
    clock: ManualClock, vault: Vault, registry: SourceRegistry
) -> None:
    """With the database down the delivery answers 503 with Retry-After, so the provider
    delivers it again later; no stack trace reaches the caller."""
    engine = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    app = create_app(session_factory(engine), clock, vault, registry=registry)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/webhooks/some-connection", content=b"{}")
    engine.dispose()
    assert response.status_code == 503
    assert response.headers["retry-after"] == "30"
    assert response.json()["error"] == "database_unavailable"
