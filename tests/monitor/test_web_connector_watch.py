"""The QuickBooks Web Connector's check-in watch: silence becomes an incident, a ticket
for the merchant and their notice, once per silence, through the monitor's pass."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.accounts.passwords import Cost
from salesync.clock import ManualClock
from salesync.connectors.qbd.companies import QbdCompanies
from salesync.engine.incidents import IncidentLog
from salesync.monitor.loop import Monitor, notice_hook
from salesync.monitor.notify import Contacts
from salesync.monitor.webconnector import WebConnectorWatch
from salesync.store.tables import ConnectionRow, IncidentRow, NoticeRow, TicketRow

from .conftest import TENANT

OWNER = "owner@acme.test"
PASSWORD = "a long Web Connector passphrase"  # noqa: S105 - the test's own credential


@pytest.fixture
def desktop(db: sessionmaker[Session], clock: ManualClock) -> str:
    """Acme's Desktop books (run every 30 minutes), set up now, and its owner's contact."""
    with db() as session, session.begin():
        session.add(
            ConnectionRow(
                id="c-qbd",
                tenant_id=TENANT,
                provider="qbd",
                role="destination",
                name="Acme Desktop books",
                credentials=b"",
                settings={"run_every_minutes": 30},
            )
        )
        session.flush()
        company = QbdCompanies(session, Cost(n=2**10)).register(TENANT, "c-qbd", "acme", PASSWORD)
        company.created_at = clock()
        Contacts(session, TENANT).add(OWNER, name="Olive")
    return "c-qbd"


def watch(db: sessionmaker[Session], clock: ManualClock) -> WebConnectorWatch:
    return WebConnectorWatch(db, clock, IncidentLog(clock, on_ticket=notice_hook(clock)))


def check_in(db: sessionmaker[Session], clock: ManualClock) -> None:
    with db() as session, session.begin():
        assert QbdCompanies(session).signed_in("acme", PASSWORD, clock()) is not None


def test_a_silent_web_connector_opens_a_ticket_and_tells_the_merchant(
    db: sessionmaker[Session], clock: ManualClock, desktop: str
) -> None:
    """Past the allowed silence: "has not checked in for N hours", a ticket the merchant
    acts on, and a notice queued for them."""
    check_in(db, clock)
    clock.advance(timedelta(hours=5))
    assert watch(db, clock).check() == []
    clock.advance(timedelta(hours=2))
    (silent,) = watch(db, clock).check()
    assert silent.hours == 7
    with db() as session:
        incident = session.get(IncidentRow, silent.incident_id)
        assert incident is not None
        assert incident.user_message.startswith("The Web Connector has not checked in for 7 hours")
        ticket = session.scalars(select(TicketRow)).one()
        notices = list(session.scalars(select(NoticeRow)))
    assert ticket.merchant_action
    assert incident.connection_id == desktop
    assert [n.recipient for n in notices] == [OWNER]


def test_one_silence_is_reported_once_and_a_new_one_again(
    db: sessionmaker[Session], clock: ManualClock, desktop: str
) -> None:
    """Later passes of the same silence add nothing; after a check-in, a new silence is
    reported again (on the same ticket)."""
    clock.advance(timedelta(hours=7))
    assert len(watch(db, clock).check()) == 1
    clock.advance(timedelta(hours=3))
    assert watch(db, clock).check() == []
    check_in(db, clock)
    clock.advance(timedelta(hours=7))
    assert len(watch(db, clock).check()) == 1
    with db() as session:
        assert len(session.scalars(select(IncidentRow)).all()) == 2
        assert len(session.scalars(select(TicketRow)).all()) == 1


def test_a_rarely_polled_company_file_is_given_its_runs(
    db: sessionmaker[Session], clock: ManualClock, desktop: str
) -> None:
    """A Web Connector set to run every 3 hours is silent only after 4 missed runs."""
    with db() as session, session.begin():
        row = session.get(ConnectionRow, desktop)
        assert row is not None
        row.settings = {"run_every_minutes": 180}
    clock.advance(timedelta(hours=11))
    assert watch(db, clock).check() == []
    clock.advance(timedelta(hours=2))
    assert len(watch(db, clock).check()) == 1


def test_the_monitor_pass_runs_the_watch(
    db: sessionmaker[Session], clock: ManualClock, desktop: str
) -> None:
    """Monitor.tick reports the silent Web Connectors it found."""
    clock.advance(timedelta(hours=8))
    monitor = Monitor(db, clock, incidents=IncidentLog(clock, on_ticket=notice_hook(clock)))
    report = monitor.tick()
    assert report.failed == {}
    assert report.silent_web_connectors == 1


def test_a_web_connector_that_checks_in_again_resolves_its_ticket_and_tells_the_merchant(
    db: sessionmaker[Session], clock: ManualClock, desktop: str
) -> None:
    """The next pass after a check-in resolves the silence ticket with what happened, and
    the merchant's resolved notice is queued; nothing more on later passes."""
    clock.advance(timedelta(hours=7))
    assert len(watch(db, clock).check()) == 1
    assert watch(db, clock).settle() == []  # still silent
    clock.advance(timedelta(minutes=20))
    check_in(db, clock)
    clock.advance(timedelta(minutes=5))
    resolved = watch(db, clock).settle()
    with db() as session:
        ticket = session.scalars(select(TicketRow)).one()
        notices = list(session.scalars(select(NoticeRow).order_by(NoticeRow.id)))
    assert resolved == [ticket.id]
    assert ticket.state == "resolved"
    assert ticket.resolution is not None
    assert ticket.resolution.startswith("The Web Connector checked in again on")
    assert [n.reason for n in notices] == ["action_needed", "resolved"]
    assert watch(db, clock).settle() == []


def test_the_monitor_pass_resolves_the_tickets_of_web_connectors_that_came_back(
    db: sessionmaker[Session], clock: ManualClock, desktop: str
) -> None:
    clock.advance(timedelta(hours=8))
    monitor = Monitor(db, clock, incidents=IncidentLog(clock, on_ticket=notice_hook(clock)))
    assert monitor.tick().silent_web_connectors == 1
    clock.advance(timedelta(minutes=30))
    check_in(db, clock)
    clock.advance(timedelta(minutes=1))
    report = monitor.tick()
    assert report.failed == {}
    assert report.web_connectors_back == 1
    with db() as session:
        assert session.scalars(select(TicketRow.state)).one() == "resolved"
