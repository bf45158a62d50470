"""The QuickBooks Web Connector's check-in watch.

QuickBooks Desktop is reached only when the merchant's Web Connector calls in, so a
Web Connector that stops (the computer asleep, QuickBooks closed, Auto-Run unticked) is
silent: nothing fails, sales just stop reaching the books. Each pass looks at every
company file: one that has not checked in for ``silence`` (and for more than a few of its
own scheduled runs) becomes an incident, "The Web Connector has not checked in for N
hours", once per silence; its ticket asks the merchant to act and queues their notice.
When the Web Connector checks in again, the ticket is resolved with what happened, so
the merchant is told it is working again (``settle``) and nobody chases a fixed problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.qbd.errors import PROVIDER
from salesync.connectors.qbd.settings import read_settings
from salesync.domain.errors import SyncError, TransientError
from salesync.domain.tickets import TicketState
from salesync.engine.incidents import Failure, IncidentLog
from salesync.monitor.desk import DeskError, TicketDesk
from salesync.store.tables import ConnectionRow, IncidentRow, QbdCompanyFileRow, TicketRow

CODE = "web_connector_silent"
SILENCE = timedelta(hours=6)
RUNS_MISSED = 4
"""A company file polled rarely is given this many of its own runs before it counts as
silent, whatever ``silence`` says."""


@dataclass(frozen=True, slots=True)
class Silent:
    tenant_id: str
    connection_id: str
    hours: int
    incident_id: int


class WebConnectorWatch:
    """Turns a silent Web Connector into an incident and a ticket for the merchant."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        incidents: IncidentLog,
        *,
        silence: timedelta = SILENCE,
        desk: TicketDesk | None = None,
    ) -> None:
        """``desk`` resolves the tickets of Web Connectors that came back (one that tells
        the merchant by default)."""
        self.factory = factory
        self.clock = clock
        self.incidents = incidents
        self.silence = silence
        self.desk = desk or TicketDesk(factory, clock)

    def check(self) -> list[Silent]:
        """Record an incident for each company file silent too long and not yet reported
        since it last checked in."""
        now = self.clock()
        found: list[Silent] = []
        with self.factory() as session, session.begin():
            rows = session.execute(
                select(QbdCompanyFileRow, ConnectionRow).join(
                    ConnectionRow, ConnectionRow.id == QbdCompanyFileRow.connection_id
                )
            ).all()
            for company, connection in rows:
                if connection.status == "disabled":
                    continue
                since = company.last_checkin_at or company.created_at
                if now - since < self._allowed(connection) or _reported(session, company, since):
                    continue
                hours = int((now - since).total_seconds() // 3600)
                incident = self.incidents.record(
                    session,
                    company.tenant_id,
                    Failure(
                        error=_silent(connection, hours, since),
                        stage="connector",
                        subject=f"connection:{connection.id}",
                        failed_at=now,
                        connection_id=connection.id,
                    ),
                )
                found.append(Silent(company.tenant_id, connection.id, hours, incident.id))
        return found

    def settle(self) -> list[int]:
        """Resolve each open silence ticket whose Web Connector has checked in since its
        last silence was reported; returns the tickets resolved."""
        active = [s.value for s in TicketState if s.active]
        with self.factory() as session:
            rows = session.execute(
                select(TicketRow.id, QbdCompanyFileRow.last_checkin_at, IncidentRow.failed_at)
                .join(IncidentRow, IncidentRow.ticket_id == TicketRow.id)
                .join(
                    QbdCompanyFileRow,
                    QbdCompanyFileRow.connection_id == IncidentRow.connection_id,
                )
                .where(IncidentRow.code == CODE, TicketRow.state.in_(active))
            ).all()
        latest: dict[int, tuple[datetime | None, datetime]] = {}
        for ticket_id, checked_in, failed_at in rows:
            _, seen = latest.get(ticket_id, (None, failed_at))
            latest[ticket_id] = (checked_in, max(seen, failed_at))
        resolved = []
        for ticket_id, (checked_in, silent_at) in sorted(latest.items()):
            if checked_in is None or checked_in <= silent_at:
                continue
            try:
                self.desk.resolve(ticket_id, "salesync", _back(checked_in))
            except DeskError:
                continue  # something else on the ticket still needs a person
            resolved.append(ticket_id)
        return resolved

    def _allowed(self, connection: ConnectionRow) -> timedelta:
        try:
            minutes = read_settings(connection.settings or {}).run_every_minutes
        except SyncError:
            minutes = 0
        return max(self.silence, timedelta(minutes=minutes * RUNS_MISSED))


def _reported(session: Session, company: QbdCompanyFileRow, since: datetime) -> bool:
    """Whether this silence (since ``since``) already has its incident."""
    return (
        session.scalar(
            select(IncidentRow.id).where(
                IncidentRow.tenant_id == company.tenant_id,
                IncidentRow.subject == f"connection:{company.connection_id}",
                IncidentRow.code == CODE,
                IncidentRow.failed_at >= since,
            )
        )
        is not None
    )


def _back(checked_in: datetime) -> str:
    return (
        f"The Web Connector checked in again on {checked_in:%Y-%m-%d at %H:%M} UTC, so "
        "QuickBooks Desktop is being updated again: the sales that waited are on their way "
        "to your books, in order."
    )


def _silent(connection: ConnectionRow, hours: int, since: datetime) -> SyncError:
    return TransientError(
        "the QuickBooks Web Connector has stopped checking in",
        user_message=f"The Web Connector has not checked in for {hours} hours, so sales are "
        f"waiting to reach QuickBooks Desktop ({connection.name}). On the computer with "
        "QuickBooks: make sure it is on and QuickBooks can open the company file, open the "
        "QuickBooks Web Connector, tick Auto-Run for salesync and press Update Selected.",
        code=CODE,
        provider=PROVIDER,
        connection=connection.id,
        operation="check_in",
        details={"last_checkin_at": since.isoformat(), "hours": hours},
    )
