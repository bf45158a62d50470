"""One QuickBooks Desktop company file's books, reached through the Web Connector.

QuickBooks Desktop cannot be called: the Web Connector on the merchant's machine polls
salesync. So ``post`` queues each posting's qbXML in the database under its key (a key
already queued or written is not queued again), gives the Web Connector a chance to run
(``pump``: a no-op in production, where it comes on its own schedule; a driven session in
tests and the demo), and answers from what the company file has said. A posting still
waiting makes the whole call a transient failure: the sender retries after the Web
Connector's interval and, as after any ambiguous outcome, reads back by key first.

Each posting becomes the qbXML ``shapes`` chooses (a journal entry; with the connection's
``sales_form`` "sales_receipt", sales receipts and deposits where they carry the entry
exactly), whose RefNumber is the key's short reference and whose memo carries the full
key, so a lookup can tell salesync's transaction from a person's that shares the number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.destination import (
    DestinationCapabilities,
    DestinationConnection,
    Posting,
    Written,
)
from salesync.connectors.qbd.errors import PROVIDER, status_error
from salesync.connectors.qbd.queue import WorkQueue
from salesync.connectors.qbd.responses import Status
from salesync.connectors.qbd.settings import QbdSettings
from salesync.connectors.qbd.shapes import REFERENCE_LIMIT, units_for
from salesync.domain.errors import AuthError, SyncError, TransientError
from salesync.store.tables import QbdCompanyFileRow, QbdSessionRow, QbdWorkRow

NAME = "qbd"
CAPABILITIES = DestinationCapabilities(
    forms=frozenset({"journal_entry", "sales_receipt", "deposit"}),
    batch_size=25,
    find_batch=100,
    reference_limit=REFERENCE_LIMIT,
)
Pump = Callable[[str, str], None]
"""``pump(connection_id, purpose)``: let the Web Connector run for the company file
(``purpose`` is ``post`` or ``find``)."""


def no_pump(connection_id: str, purpose: str) -> None:
    """Production: the Web Connector comes on its own schedule."""


class QbdBooks:
    """One connection's company file."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        connection: DestinationConnection,
        settings: QbdSettings,
        pump: Pump = no_pump,
    ) -> None:
        self.factory = factory
        self.connection = connection
        self.settings = settings
        self.pump = pump
        self._unknown: set[str] = set()
        """Keys read back with no unit in the queue. The sender reads back what may have
        been written; a key this database holds no work for may still be in the company
        file (written after the backup it was restored from), so its unit is looked up in
        the file before it is added."""

    @property
    def name(self) -> str:
        return NAME

    @property
    def capabilities(self) -> DestinationCapabilities:
        return CAPABILITIES

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        with self.factory() as session, session.begin():
            self._company(session)
            queue = WorkQueue(session, self.connection.id)
            for posting in postings:
                items, unit = units_for(posting, self.settings)
                for item in items:
                    queue.add(item.key, item.reference, item.request, item.lookup)
                queue.add(
                    unit.key,
                    unit.reference,
                    unit.request,
                    unit.lookup,
                    verify=unit.key in self._unknown,
                )
        self.pump(self.connection.id, "post")
        with self.factory() as session:
            units = WorkQueue(session, self.connection.id).units([p.key for p in postings])
            waiting = [p.key for p in postings if units[p.key].state not in ("done", "failed")]
            if waiting:
                raise self._waiting(session, len(waiting))
            return [self._written(units[p.key], p) for p in postings]

    def find(self, keys: Sequence[str]) -> dict[str, str]:
        """What the queue holds as written. The company file itself is asked through the
        Web Connector, by the units: a key with no unit is looked up there when posted."""
        found = self._found(keys)
        self._unknown.update(k for k in keys if k not in found)
        if any(state not in ("done", "failed", "queued") for state, _ in found.values()):
            self.pump(self.connection.id, "find")
            found = self._found(keys)
        return {key: ref for key, (state, ref) in found.items() if state == "done"}

    def batch_group(self, posting: Posting) -> str:
        """Every posting is one transaction of its own, whatever its form."""
        return ""

    def close(self) -> None:
        return None

    def _found(self, keys: Sequence[str]) -> dict[str, tuple[str, str]]:
        with self.factory() as session:
            units = WorkQueue(session, self.connection.id).units(keys)
        return {k: (u.state, str(u.result.get("ref") or "")) for k, u in units.items()}

    def _written(self, unit: QbdWorkRow, posting: Posting) -> Written:
        if unit.state == "done":
            return Written(posting.key, ref=str(unit.result.get("ref") or ""))
        status = Status(int(unit.error_code or 0), "Error", unit.error_message or "")
        error: SyncError = status_error(
            status,
            "JournalEntryAdd",
            connection=self.connection.id,
            documents=posting.document_ids,
        )
        return Written(posting.key, error=error)

    def _company(self, session: Session) -> QbdCompanyFileRow:
        company = session.get(QbdCompanyFileRow, self.connection.id)
        if company is None:
            raise AuthError(
                f"connection {self.connection.id} has no Web Connector set up",
                user_message="Set up the QuickBooks Web Connector for this connection: "
                "download its .qwc file, add it to the Web Connector and enter its password.",
                code="web_connector_not_set_up",
                provider=PROVIDER,
                connection=self.connection.id,
                operation="post",
            )
        return company

    def _waiting(self, session: Session, count: int) -> TransientError:
        last = session.scalars(
            select(QbdSessionRow)
            .where(QbdSessionRow.connection_id == self.connection.id)
            .order_by(QbdSessionRow.started_at.desc())
            .limit(1)
        ).one_or_none()
        why = f" The last run reported: {last.last_error}" if last and last.last_error else ""
        wait = timedelta(minutes=self.settings.run_every_minutes).total_seconds()
        return TransientError(
            f"{count} posting(s) wait for the Web Connector.{why}",
            user_message=f"{count} posting(s) are queued for QuickBooks Desktop and go when "
            f"the Web Connector next runs.{why}",
            code="awaiting_web_connector",
            provider=PROVIDER,
            connection=self.connection.id,
            operation="post",
            retry_after=wait,
        )
