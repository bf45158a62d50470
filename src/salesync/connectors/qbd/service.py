"""The Web Connector's methods, as salesync answers them (QBWC programmer's guide; WSDL
namespace http://developer.intuit.com/).

A session is one ticket on one company file, and only one runs per company file at a time
("busy" for a second). Each ``sendRequestXML`` hands out one small unit of the company's
FIFO queue and each ``receiveResponseXML`` settles it and answers how far the session has
got: 0-99 asks for the next request, 100 ends the session, a negative number sends the
Web Connector to ``getLastError``. At most ``units_per_session`` units go in one session,
so a long queue is worked through over several runs instead of one that times out.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import system_clock
from salesync.connectors.qbd.companies import QbdCompanies
from salesync.connectors.qbd.errors import hresult_error
from salesync.connectors.qbd.qbxml import VERSION
from salesync.connectors.qbd.queue import WorkQueue, interrupted
from salesync.connectors.qbd.settle import outgoing, settle
from salesync.store.tables import QbdCompanyFileRow, QbdSessionRow

SERVER_VERSION = "salesync QuickBooks Desktop service 1"
NOT_VALID_USER, NO_WORK, BUSY = "nvu", "none", "busy"
ABANDONED_AFTER = timedelta(minutes=2)
"""A session not heard from for this long is over: the Web Connector gives up on a call
after about two minutes."""


class WebConnectorService:
    """What salesync answers each Web Connector call, against the database."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime] = system_clock,
        *,
        units_per_session: int = 50,
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.units_per_session = units_per_session

    def server_version(self) -> str:
        return SERVER_VERSION

    def client_version(self, version: str) -> str:
        """ "" accepts the Web Connector; "E:…" would stop it, "W:…" warn."""
        major = version.split(".", 1)[0]
        if major.isdigit() and int(major) < 2:
            return "E:salesync needs QuickBooks Web Connector 2.0 or later; please update it."
        return ""

    def authenticate(self, username: str, password: str) -> list[str]:
        """[ticket, company file path ("" = the open one) | "none" | "nvu" | "busy"]."""
        now = self.clock()
        ticket = secrets.token_hex(16)
        with self.factory() as session, session.begin():
            company = QbdCompanies(session).signed_in(username, password, now)
            if company is None:
                return ["", NOT_VALID_USER]
            connection = company.connection_id
            open_sessions = list(
                session.scalars(
                    select(QbdSessionRow).where(
                        QbdSessionRow.connection_id == connection,
                        QbdSessionRow.closed_at.is_(None),
                    )
                )
            )
            if any(now - s.seen_at < ABANDONED_AFTER for s in open_sessions):
                return [ticket, BUSY]
            for stale in open_sessions:
                stale.closed_at = now
                stale.last_error = stale.last_error or "the session ended without closing"
            queue = WorkQueue(session, connection)
            queue.recover()
            if queue.waiting() == 0:
                return [ticket, NO_WORK]
            session.add(
                QbdSessionRow(ticket=ticket, connection_id=connection, started_at=now, seen_at=now)
            )
            return [ticket, company.company_file]

    def send_request_xml(
        self, ticket: str, company_file: str, major: int | None, minor: int | None
    ) -> str:
        """The next unit's qbXML, or "" when there is none (then ``getLastError`` says why)."""
        with self.factory() as session, session.begin():
            row = self._session(session, ticket)
            if row is None:
                return ""
            if major is not None and (major, minor or 0) < _version():
                row.last_error = (
                    f"QuickBooks speaks qbXML {major}.{minor or 0}; salesync needs {VERSION}. "
                    "Update QuickBooks Desktop."
                )
                return ""
            if company_file:
                self._remember_file(session, row.connection_id, company_file)
            unit = WorkQueue(session, row.connection_id).next()
            if unit is None:
                return ""
            row.work_id = unit.id
            return outgoing(unit)

    def receive_response_xml(self, ticket: str, response: str, hresult: str, message: str) -> int:
        """How far the session has got, in percent; negative after an error."""
        with self.factory() as session, session.begin():
            row = self._session(session, ticket)
            if row is None:
                return -1
            queue = WorkQueue(session, row.connection_id)
            unit = queue.units_by_id(row.work_id)
            row.work_id = None
            if unit is None:
                row.last_error = "an answer arrived for no request"
                return -1
            if hresult:
                interrupted(unit)
                row.last_error = hresult_error(hresult, message).user_message
                return -1
            problem = settle(unit, response)
            if problem:
                row.last_error = problem
                return -1
            row.handled += 1
            waiting = queue.waiting()
            if waiting == 0 or row.handled >= self.units_per_session:
                return 100
            return min(99, row.handled * 100 // (row.handled + waiting))

    def connection_error(self, ticket: str, hresult: str, message: str) -> str:
        """The Web Connector could not reach QuickBooks: record why, and end the session."""
        with self.factory() as session, session.begin():
            row = self._session(session, ticket)
            if row is not None:
                row.last_error = hresult_error(hresult, message).user_message
        return "done"

    def get_last_error(self, ticket: str) -> str:
        with self.factory() as session, session.begin():
            row = session.get(QbdSessionRow, ticket)
            if row is None:
                return "salesync does not know this session; the Web Connector will sign in again."
            return row.last_error or "Done"

    def close_connection(self, ticket: str) -> str:
        with self.factory() as session, session.begin():
            row = session.get(QbdSessionRow, ticket)
            if row is None:
                return "OK"
            row.closed_at = row.closed_at or self.clock()
            return f"OK: salesync sent {row.handled} request(s) to QuickBooks."

    def _session(self, session: Session, ticket: str) -> QbdSessionRow | None:
        row = session.get(QbdSessionRow, ticket)
        if row is None or row.closed_at is not None:
            return None
        row.seen_at = self.clock()
        return row

    def _remember_file(self, session: Session, connection_id: str, path: str) -> None:
        company = session.get(QbdCompanyFileRow, connection_id)
        if company is not None and company.company_file != path:
            company.company_file = path


def _version() -> tuple[int, int]:
    major, minor = VERSION.split(".")
    return int(major), int(minor)
