"""The merchant's error log: each ticket in plain words with the fix that suits its kind."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.errors import (
    AuthError,
    BugError,
    ConflictError,
    MappingError,
    SyncError,
    TransientError,
)
from salesync.domain.simulate import demo_merchant
from salesync.engine.incidents import Failure, IncidentLog
from salesync.monitor.desk import TicketDesk
from salesync.store.repositories import Tenants
from salesync.store.tables import ConnectionRow
from salesync.support.knowledge import KnowledgeBase
from salesync.views.errors import BUG_MESSAGE, ErrorEntry, error_log

MERCHANT = demo_merchant(orders_per_day=1)
TOKEN = "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlc2lnbmF0dXJl"  # noqa: S105  a made-up JWT


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 10, 29, 9, tzinfo=UTC))


@pytest.fixture
def db(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        Tenants(session).add(replace(MERCHANT.tenant, id="other", name="Other shop"))
        session.add(
            ConnectionRow(
                id="c-qbo",
                tenant_id="demo",
                provider="qbo",
                role="destination",
                name="QuickBooks",
                status="reconnect",
                credentials=b"sealed",
            )
        )
    return factory


def fail(
    db: sessionmaker[Session],
    clock: ManualClock,
    error: SyncError,
    subject: str,
    *,
    connection_id: str | None = None,
    tenant_id: str = "demo",
) -> int:
    with db() as session, session.begin():
        incident = IncidentLog(clock).record(
            session,
            tenant_id,
            Failure(
                error=error,
                stage="engine",
                subject=subject,
                failed_at=clock(),
                connection_id=connection_id,
            ),
        )
        ticket_id = incident.ticket_id
    assert ticket_id is not None
    clock.advance(timedelta(minutes=1))
    return ticket_id


def by_kind(entries: list[ErrorEntry]) -> dict[str, ErrorEntry]:
    return {e.kind: e for e in entries}


def test_each_kind_of_problem_says_what_the_merchant_should_do(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Reconnect for auth, the held page for mappings, nothing for retries and bugs."""
    auth = fail(
        db,
        clock,
        AuthError(
            "invalid_grant",
            user_message="QuickBooks refused salesync's sign-in.",
            code="invalid_grant",
            provider="qbo",
            help_url="https://help.example.com/reconnect",
        ),
        "connection:c-qbo",
        connection_id="c-qbo",
    )
    fail(
        db,
        clock,
        MappingError(
            "sale held", user_message="Category 'Candles' has no income account.", code="unmapped"
        ),
        "document:d1",
    )
    fail(
        db,
        clock,
        TransientError("HTTP 503", user_message=f"QuickBooks is busy ({TOKEN}).", provider="qbo"),
        "posting:1",
    )
    fail(db, clock, BugError(f"KeyError: 'TxnDate' with {TOKEN}"), "posting:2")
    fail(db, clock, BugError("elsewhere"), "posting:3", tenant_id="other")
    with db() as session:
        entries = error_log(session, "demo")
    assert [e.ticket_id for e in entries] == sorted((e.ticket_id for e in entries), reverse=True)
    found = by_kind(entries)
    assert set(found) == {"auth", "mapping", "transient", "bug"}

    reconnect = found["auth"]
    assert reconnect.ticket_id == auth
    assert reconnect.headline == "QuickBooks needs you to sign in again"
    assert reconnect.help_url == "https://help.example.com/reconnect"
    assert reconnect.fix.path == "/connections/c-qbo/reconnect"
    assert reconnect.fix.merchant
    assert "Reconnect QuickBooks" in reconnect.fix.text

    mapping = found["mapping"]
    assert mapping.fix.path == "/app/demo/held"
    assert "Candles" in mapping.message
    assert mapping.fix.merchant

    assert found["transient"].message.startswith("QuickBooks is busy (Bearer ")
    assert found["transient"].fix.text.startswith("Nothing")
    assert not found["transient"].fix.merchant
    bug = found["bug"]
    assert bug.message == BUG_MESSAGE
    assert "developers are on it" in bug.fix.text
    assert all("eyJ" not in repr(e) and "KeyError" not in repr(e) for e in entries)


def test_the_log_filters_by_state_pages_by_id_and_refuses_unknown_states(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """A closed ticket leaves the active log for the resolved one; pages follow ``before``."""
    first = fail(db, clock, BugError("one"), "posting:1")
    second = fail(db, clock, BugError("two", operation="send"), "posting:2")
    third = fail(db, clock, BugError("three", operation="plan"), "posting:3")
    TicketDesk(db, clock).close(first, "dev@example.com", "duplicate")
    with db() as session:
        active = [e.ticket_id for e in error_log(session, "demo")]
        closed = error_log(session, "demo", state="resolved")
        everything = [e.ticket_id for e in error_log(session, "demo", state="all")]
        page = [e.ticket_id for e in error_log(session, "demo", state="all", limit=1, before=third)]
        with pytest.raises(ValueError, match="not one of active, resolved, all"):
            error_log(session, "demo", state="open-ish")
    assert active == [third, second]
    assert [e.ticket_id for e in closed] == [first]
    assert closed[0].fix.text.startswith("Nothing: this is fixed")
    assert everything == [third, second, first]
    assert page == [second]


def test_every_entry_links_to_a_knowledge_base_article_unless_it_has_its_own(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """An error's own help URL is kept; without one, its code's or its kind's article."""
    fail(
        db,
        clock,
        AuthError("refused", code="invalid_grant", help_url="https://help.example.com/x"),
        "connection:c-qbo",
        connection_id="c-qbo",
    )
    fail(db, clock, MappingError("held", code="duplicate_name"), "document:d1")
    fail(db, clock, TransientError("HTTP 503", code="no_such_code"), "posting:1")
    fail(db, clock, ConflictError("edited"), "posting:2")
    fail(db, clock, BugError("KeyError"), "posting:3")
    with db() as session:
        found = {e.kind: e.help_url for e in error_log(session, "demo")}
    assert found == {
        "auth": "https://help.example.com/x",
        "mapping": "/help/qbo-duplicate-name",
        "transient": "/help/errors-transient",
        "conflict": "/help/errors-conflict",
        "bug": "/help/errors-bug",
    }
    slugs = [url.removeprefix("/help/") for url in found.values() if url.startswith("/help/")]
    assert all(KnowledgeBase.built_in().get(slug) for slug in slugs)
