"""Connection health: one word and one sentence per connection, from what really happened."""

from __future__ import annotations

import json
from dataclasses import fields, replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.ledger.destination import LedgerDestination
from salesync.domain.errors import AuthError
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.incidents import Failure, IncidentLog
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import ConnectionRow
from salesync.views.health import ConnectionHealth, Health, connection_health

from .books import BrokenBooks

MERCHANT = demo_merchant(orders_per_day=4)
START = date(2026, 10, 30)
SECRET = b"sealed-refresh-token-do-not-show"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 10, 29, tzinfo=UTC))


def connection(cid: str, name: str, provider: str, role: str, status: str) -> ConnectionRow:
    return ConnectionRow(
        id=cid,
        tenant_id="demo",
        provider=provider,
        role=role,
        name=name,
        status=status,
        credentials=SECRET,
    )


@pytest.fixture
def db(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        Tenants(session).add(replace(MERCHANT.tenant, id="other", name="Other shop"))
        for loc in MERCHANT.locations:
            Locations(session, MERCHANT.tenant.id).add(loc)
        session.add_all(
            [
                connection("c-shop", "Web shop", "shopify", "source", "active"),
                connection("c-till", "Old till", "square", "source", "disabled"),
                connection("c-new", "New till", "square", "source", "active"),
                connection("c-qbo", "QuickBooks", "qbo", "destination", "reconnect"),
            ]
        )
    return factory


def post_a_day(engine: Engine, clock: ManualClock) -> None:
    clock.set(datetime.combine(START, time(23), UTC))
    for doc in simulate(MERCHANT, START, 1, seed=3):
        engine.receive("demo", "simulator", doc.kind.value, json.dumps(codec.encode(doc)))
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")


def by_name(found: list[ConnectionHealth]) -> dict[str, ConnectionHealth]:
    return {h.name: h for h in found}


def test_each_connection_gets_a_word_a_sentence_and_the_ledger_is_listed(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Working, paused, unused and refused connections each read as what they are."""
    engine = Engine(db, clock)
    post_a_day(engine, clock)
    engine.receive("demo", "shopify", "order", "{}", connection_id="c-shop")
    clock.advance(timedelta(hours=3))
    with db() as session:
        found = by_name(connection_health(session, "demo", clock()))
        other = connection_health(session, "other", clock())
    assert [(h.name, h.health) for h in other] == [("Built-in ledger", Health.IDLE)]
    assert set(found) == {"Web shop", "Old till", "New till", "QuickBooks", "Built-in ledger"}
    shop = found["Web shop"]
    assert shop.health is Health.HEALTHY
    assert shop.last_received_at is not None
    assert "3 hours ago" in shop.sentence
    assert found["Old till"].health is Health.PAUSED
    assert found["New till"].health is Health.IDLE
    assert "Nothing has been received" in found["New till"].sentence
    qbo = found["QuickBooks"]
    assert qbo.health is Health.NEEDS_RECONNECT
    assert qbo.reconnect_path == "/connections/c-qbo/reconnect"
    assert "Reconnect" in qbo.sentence
    ledger = found["Built-in ledger"]
    assert ledger.health is Health.HEALTHY
    assert ledger.connection_id is None
    assert ledger.last_posted_at is not None
    assert ledger.reconnect_path is None
    assert shop.reconnect_path is None
    assert "credentials" not in {f.name for f in fields(ConnectionHealth)}
    assert all(SECRET.decode() not in repr(h) for h in found.values())


def test_failed_postings_make_the_books_failing_and_tickets_degrade_a_source(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Postings out of luck count as failing; an open ticket naming a connection degrades it."""
    engine = Engine(db, clock, destinations=lambda t, _: BrokenBooks(LedgerDestination(db, t)))
    post_a_day(engine, clock)
    with db() as session, session.begin():
        ticket = IncidentLog(clock).record(
            session,
            "demo",
            Failure(
                error=AuthError("HTTP 401 from Shopify", code="401", provider="shopify"),
                stage="connector",
                subject="connection:c-shop",
                failed_at=clock(),
                connection_id="c-shop",
            ),
        )
    with db() as session:
        found = by_name(connection_health(session, "demo", clock()))
    ledger = found["Built-in ledger"]
    assert ledger.health is Health.FAILING
    assert ledger.failing > 0
    assert f"{ledger.failing} posting" in ledger.sentence
    shop = found["Web shop"]
    assert shop.open_tickets == (ticket.ticket_id,)
    assert shop.health is Health.DEGRADED
    assert "1 problem open" in shop.sentence
