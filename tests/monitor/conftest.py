"""Support-loop fixtures: a migrated database with one merchant, a movable clock, and a
way to open tickets as the engine would (through the incident log)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Location, Tenant
from salesync.domain.errors import SyncError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import TicketRow

TENANT = "acme"
LOCATION = "soho"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 11, 23, 14, 0, tzinfo=UTC))


@pytest.fixture
def db(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    """The session factory, with tenant ``acme`` and its location ``soho`` set up."""
    with factory() as session, session.begin():
        Tenants(session).add(Tenant(id=TENANT, name="Acme Goods"))
        Locations(session, TENANT).add(
            Location(
                id=LOCATION,
                tenant_id=TENANT,
                name="Soho",
                timezone="America/New_York",
                currency="USD",
            )
        )
    return factory


OpenTicket = Callable[..., TicketRow]


@pytest.fixture
def open_ticket(db: sessionmaker[Session], clock: ManualClock) -> OpenTicket:
    """``open_ticket(error, subject=..., documents=...)`` records a failure the way the
    engine does and returns the (detached) ticket it opened or joined."""
    incidents = IncidentLog(clock)

    def _open(
        error: SyncError,
        *,
        subject: str = "posting:1",
        documents: tuple[str, ...] = (),
        tenant: str = TENANT,
    ) -> TicketRow:
        with db() as session, session.begin():
            incident = incidents.record(
                session,
                tenant,
                Failure(
                    error=error,
                    stage="engine",
                    subject=subject,
                    failed_at=clock(),
                    documents=documents,
                    location_id=LOCATION,
                ),
            )
            ticket = session.get(TicketRow, incident.ticket_id)
            assert ticket is not None
            session.expunge(ticket)
            return ticket

    return _open
