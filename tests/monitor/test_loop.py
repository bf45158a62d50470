"""The support loop's pass: notices queued as tickets open, assignment, escalation and
delivery on each tick, and one failing part never stopping the others."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.errors import AuthError, MappingError, TransientError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.engine.runner import Engine, InProcessRunner
from salesync.monitor.desk import resolved_hook
from salesync.monitor.loop import Monitor, notice_hook
from salesync.monitor.notify import Contacts, MailSettings
from salesync.store.tables import NoticeRow, TicketEventRow, TicketRow

from .conftest import LOCATION, TENANT
from .smtp import SmtpServer, smtp_server

OWNER = "owner@acme.test"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with smtp_server() as server:
        yield server


@pytest.fixture
def contact(db: sessionmaker[Session]) -> str:
    with db() as session, session.begin():
        Contacts(session, TENANT).add(OWNER, name="Olive")
    return OWNER


def _record(
    db: sessionmaker[Session],
    incidents: IncidentLog,
    clock: ManualClock,
    error: Exception,
    subject: str = "posting:1",
) -> int:
    assert isinstance(error, MappingError | AuthError | TransientError)
    with db() as session, session.begin():
        incident = incidents.record(
            session,
            TENANT,
            Failure(
                error=error,
                stage="engine",
                subject=subject,
                failed_at=clock(),
                documents=("doc-1",),
                location_id=LOCATION,
            ),
        )
        assert incident.ticket_id is not None
        return incident.ticket_id


def _notices(db: sessionmaker[Session]) -> list[NoticeRow]:
    with db() as session:
        return list(session.scalars(select(NoticeRow).order_by(NoticeRow.id)))


def _mapping() -> MappingError:
    return MappingError(
        "account 'Sales:Gift cards' is not mapped",
        user_message="Gift card sales need an account in QuickBooks: map one.",
        code="account_unmapped",
        provider="qbo",
        operation="sales_receipt.create",
    )


def test_a_ticket_only_the_merchant_can_fix_queues_their_notice_as_it_opens(
    db: sessionmaker[Session], clock: ManualClock, contact: str
):
    settings = MailSettings(public_url="https://sync.example.com")
    incidents = IncidentLog(clock, on_ticket=notice_hook(clock, settings))
    ticket_id = _record(db, incidents, clock, _mapping())

    [notice] = _notices(db)
    assert (notice.ticket_id, notice.reason, notice.recipient) == (
        ticket_id,
        "action_needed",
        OWNER,
    )
    assert "map one" in notice.body
    assert "https://sync.example.com/unsubscribe/" in notice.body

    # More of the same root cause joins the ticket without another notice.
    _record(db, incidents, clock, _mapping(), subject="posting:2")
    assert len(_notices(db)) == 1


def test_a_ticket_salesync_fixes_itself_asks_nothing_of_the_merchant(
    db: sessionmaker[Session], clock: ManualClock, contact: str
):
    incidents = IncidentLog(clock, on_ticket=notice_hook(clock))
    _record(
        db,
        incidents,
        clock,
        TransientError("503 from QuickBooks", provider="qbo", operation="batch"),
    )
    assert _notices(db) == []


def test_a_resolved_ticket_that_comes_back_tells_the_merchant_again(
    db: sessionmaker[Session], clock: ManualClock, contact: str
):
    incidents = IncidentLog(clock, on_ticket=notice_hook(clock))
    error = TransientError("503 from QuickBooks", provider="qbo", operation="batch")
    ticket_id = _record(db, incidents, clock, error)
    with db() as session, session.begin():
        ticket = session.get(TicketRow, ticket_id)
        assert ticket is not None
        ticket.state, ticket.resolved_at = "resolved", clock()
        resolved_hook(clock)(session, ticket)
    clock.advance(timedelta(hours=2))
    _record(db, incidents, clock, error, subject="posting:9")

    reasons = [n.reason for n in _notices(db)]
    assert reasons == ["resolved", "reopened"]


def test_each_tick_assigns_and_emails_what_is_due(
    db: sessionmaker[Session], clock: ManualClock, contact: str, smtp: SmtpServer
):
    settings = smtp.settings()
    incidents = IncidentLog(clock, on_ticket=notice_hook(clock, settings))
    ticket_id = _record(db, incidents, clock, _mapping())
    monitor = Monitor(db, clock, mail=settings)

    report = monitor.tick()

    assert report.assigned == 1
    assert not report.failed
    assert report.delivered is not None
    assert report.delivered.sent == 1
    with db() as session:
        ticket = session.get(TicketRow, ticket_id)
        assert ticket is not None
        # The default rules give mapping problems to Tier 1.
        assert (ticket.state, ticket.team, ticket.assignee) == ("assigned", "tier1", "support")
    [mail] = smtp.received
    assert mail.recipients == (OWNER,)
    assert "map one" in mail.part("plain")

    # Nothing is sent twice; nobody acknowledged, so the ticket escalates in time.
    clock.advance(timedelta(minutes=16))
    again = monitor.tick()
    assert again.escalated == 1
    assert again.assigned == 0
    assert len(smtp.received) == 1
    with db() as session:
        events = session.scalars(
            select(TicketEventRow.event).where(TicketEventRow.ticket_id == ticket_id)
        ).all()
    assert "escalated" in events


def test_without_a_mail_server_notices_wait_visible(
    db: sessionmaker[Session], clock: ManualClock, contact: str
):
    incidents = IncidentLog(clock, on_ticket=notice_hook(clock))
    _record(db, incidents, clock, _mapping())
    report = Monitor(db, clock).tick()
    assert report.delivered is None
    assert [n.state for n in _notices(db)] == ["pending"]


def test_a_failing_part_leaves_the_others_running(
    db: sessionmaker[Session],
    clock: ManualClock,
    contact: str,
    smtp: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
):
    settings = smtp.settings()
    incidents = IncidentLog(clock, on_ticket=notice_hook(clock, settings))
    _record(db, incidents, clock, _mapping())
    monitor = Monitor(db, clock, mail=settings)

    def broken(limit: int = 100) -> None:
        raise RuntimeError("routing table unreadable")

    monkeypatch.setattr(monitor.assigner, "assign_open", broken)
    report = monitor.tick()

    assert report.failed == {"assign": "RuntimeError: routing table unreadable"}
    assert report.delivered is not None
    assert report.delivered.sent == 1


def test_the_in_process_runner_ticks_the_monitor_after_the_engine(
    db: sessionmaker[Session], clock: ManualClock
):
    ticked = threading.Event()
    order: list[str] = []

    class Recording(Engine):
        def tick(self, tenant_id: str | None = None):  # type: ignore[no-untyped-def]
            order.append("engine")
            return super().tick(tenant_id)

    class Probe:
        def tick(self) -> None:
            order.append("monitor")
            ticked.set()

    runner = InProcessRunner(Recording(db, clock), interval=0.05, monitor=Probe())
    runner.start()
    try:
        assert ticked.wait(10)
    finally:
        runner.stop()
    assert order[:2] == ["engine", "monitor"]
    assert runner.last_error is None
