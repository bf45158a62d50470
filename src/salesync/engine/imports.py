"""POS file imports: an export's receipts into the inbox and through intake at once, with
a report of what became of every receipt.

The whole file is stored in one transaction (every receipt's raw rows, or none), then
taken in. A receipt already received is a duplicate and changes nothing; a corrected
receipt is a new record whose document becomes the next revision; a rejected receipt
stays quarantined with its problems, and ``replay`` reads it again after the mapping is
fixed. A file whose header lacks a mapped column is refused before anything is stored.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.posfile import (
    NAME,
    RECORD_TYPE,
    PosFileSource,
    PosMapping,
    group_receipts,
    line_rows,
    locate,
    mapping_of,
    open_export,
    read_record,
    receipt_record,
)
from salesync.connectors.posfile.preview import ExportPreview, preview_export
from salesync.connectors.posfile.receipts import StoredReceipt, scope_of
from salesync.connectors.registry import SourceRegistry
from salesync.connectors.source import SourceContext, context_from
from salesync.domain.documents import Refund, Sale
from salesync.domain.errors import ValidationError
from salesync.domain.validation import Problem
from salesync.engine.inbox import Inbox, Received, RecordState, as_problems
from salesync.engine.runner import Engine
from salesync.store.documents import Documents
from salesync.store.repositories import Locations
from salesync.store.tables import ConnectionRow, InboxRecordRow


class Outcome(enum.StrEnum):
    NEW = "new"
    REVISED = "revised"
    """A corrected receipt: its document's next revision."""
    UNCHANGED = "unchanged"
    """Read again, and its document is as it was."""
    WAITING = "waiting"
    """A return whose sale salesync has not received; taken in when the sale is."""
    REJECTED = "rejected"
    SKIPPED = "skipped"
    DUPLICATE = "duplicate"
    """Received before: nothing done."""
    RECEIVED = "received"
    """Stored, not taken in yet."""


ACCEPTED = frozenset({Outcome.NEW, Outcome.REVISED, Outcome.UNCHANGED})


@dataclass(frozen=True, slots=True)
class ReceiptOutcome:
    receipt: str
    file: str
    rows: tuple[int, ...]
    outcome: Outcome
    record_id: int
    problems: tuple[str, ...] = ()
    """Why it was rejected, skipped or is waiting; for a duplicate of a receipt that is
    still rejected, why that one was."""

    @property
    def still_rejected(self) -> bool:
        return self.outcome is Outcome.DUPLICATE and bool(self.problems)


@dataclass(frozen=True, slots=True)
class ImportReport:
    file: str | None
    """The file imported (``None`` for a replay)."""
    rows: int
    receipts: tuple[ReceiptOutcome, ...]

    def having(self, *outcomes: Outcome) -> list[ReceiptOutcome]:
        return [r for r in self.receipts if r.outcome in outcomes]

    @property
    def accepted(self) -> int:
        return len(self.having(*ACCEPTED))

    @property
    def rejected(self) -> int:
        return len(self.having(Outcome.REJECTED))

    @property
    def duplicates(self) -> int:
        return len(self.having(Outcome.DUPLICATE))


@dataclass(frozen=True, slots=True)
class _Connection:
    id: str
    mapping: PosMapping
    context: SourceContext
    locations: frozenset[str]


def pos_connection(session: Session, tenant_id: str, name: str) -> ConnectionRow | None:
    """The tenant's POS file connection called ``name``."""
    query = select(ConnectionRow).where(
        ConnectionRow.tenant_id == tenant_id,
        ConnectionRow.name == name,
        ConnectionRow.provider == NAME,
    )
    return session.scalars(query).first()


class PosImports:
    """Imports, previews and replays of POS export files for one database."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        registry: SourceRegistry | None = None,
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.source = PosFileSource()
        self.engine = Engine(factory, clock, registry=registry)

    def _connection(self, session: Session, tenant_id: str, connection_id: str) -> _Connection:
        row = session.get(ConnectionRow, connection_id)
        if row is None or row.tenant_id != tenant_id or row.provider != NAME:
            raise ValidationError(
                f"no POS file connection {connection_id} for tenant {tenant_id}",
                code="unknown_connection",
                problems=(Problem("unknown_connection", "no such POS file connection", ""),),
            )
        context = context_from(tenant_id, NAME, row.id, row.settings or {})
        locations = frozenset(loc.id for loc in Locations(session, tenant_id).all())
        return _Connection(row.id, mapping_of(context.settings), context, locations)

    def preview(self, tenant_id: str, connection_id: str, path: Path) -> ExportPreview:
        """Every receipt of the file read and checked as an import would; nothing written."""
        with self.factory() as session:
            connection = self._connection(session, tenant_id, connection_id)
        export = open_export(path, connection.mapping)
        return preview_export(
            export,
            connection.mapping,
            connection.context,
            locations=connection.locations,
            now=self.clock(),
        )

    def import_file(self, tenant_id: str, connection_id: str, path: Path) -> ImportReport:
        """Store every receipt of the file and take them in; ``ValidationError`` (with
        nothing stored) when the file cannot be read or lacks a mapped column."""
        with self.factory() as session:
            connection = self._connection(session, tenant_id, connection_id)
        export = open_export(path, connection.mapping)
        scope = scope_of(connection.context)
        records = [
            receipt_record(r, export.name, scope)
            for r in group_receipts(export, connection.mapping)
        ]
        with self.factory() as session, session.begin():
            inbox = Inbox(session, tenant_id, self.clock)
            # A file is history: its receipts are due at once, after live records.
            received = [
                inbox.receive(
                    NAME,
                    record.record_type,
                    record.payload,
                    event_id=record.event_id,
                    connection_id=connection.id,
                    origin="backfill",
                )
                for record in records
            ]
            fresh = [r.record_id for r in received if not r.is_duplicate]
            before = self._revisions(session, tenant_id, connection, fresh)
        self.engine.take_in(tenant_id)
        return self._report(
            tenant_id, connection, export.name, len(export.rows), received, before=before
        )

    def replay(self, tenant_id: str, connection_id: str) -> ImportReport:
        """Read every rejected receipt of the connection again (after a mapping fix) and
        report what became of them."""
        with self.factory() as session, session.begin():
            connection = self._connection(session, tenant_id, connection_id)
            inbox = Inbox(session, tenant_id, self.clock)
            query = select(InboxRecordRow.id).where(
                InboxRecordRow.tenant_id == tenant_id,
                InboxRecordRow.source == NAME,
                InboxRecordRow.connection_id == connection.id,
                InboxRecordRow.state == RecordState.QUARANTINED.value,
            )
            ids = list(session.scalars(query.order_by(InboxRecordRow.id)))
            before = self._revisions(session, tenant_id, connection, ids)
            for record_id in ids:
                inbox.replay(record_id)
        self.engine.take_in(tenant_id)
        received = [Received(i, None) for i in ids]
        with self.factory() as session:
            rows = sum(len(self._stored(session, i).receipt.receipt.rows) for i in ids)
        return self._report(tenant_id, connection, None, rows, received, before=before)

    def _stored(self, session: Session, record_id: int) -> _StoredRow:
        row = session.get(InboxRecordRow, record_id)
        if row is None:
            raise KeyError(f"inbox record {record_id} is gone")
        return _StoredRow(row, read_record(RECORD_TYPE, row.payload))

    def _revisions(
        self, session: Session, tenant_id: str, connection: _Connection, ids: Iterable[int]
    ) -> dict[int, int]:
        """The stored revision of each record's document before it is taken in (0: new)."""
        documents = Documents(session, tenant_id)
        before: dict[int, int] = {}
        for record_id in ids:
            row = session.get(InboxRecordRow, record_id)
            if row is None:
                continue
            try:
                document = self.source.translate(row.record_type, row.payload, connection.context)
            except ValidationError:
                continue
            if isinstance(document, Sale | Refund):
                before[record_id] = documents.revision(document.id)
        return before

    def _report(
        self,
        tenant_id: str,
        connection: _Connection,
        file: str | None,
        rows: int,
        received: list[Received],
        *,
        before: dict[int, int],
    ) -> ImportReport:
        outcomes = []
        with self.factory() as session:
            documents = Documents(session, tenant_id)
            for got in received:
                stored = self._stored(session, got.record_id)
                problems: tuple[str, ...] = ()
                if got.duplicate_of is not None:
                    original = self._stored(session, got.duplicate_of)
                    outcome = Outcome.DUPLICATE
                    if original.row.state == RecordState.QUARANTINED.value:
                        problems = self._problems(original, connection.mapping)
                else:
                    outcome = self._outcome(stored.row, documents, before.get(got.record_id, 0))
                    problems = self._problems(stored, connection.mapping)
                outcomes.append(
                    ReceiptOutcome(
                        receipt=stored.receipt.receipt.number,
                        file=stored.receipt.file,
                        rows=stored.receipt.receipt.row_numbers,
                        outcome=outcome,
                        record_id=got.record_id,
                        problems=problems,
                    )
                )
        return ImportReport(file, rows, tuple(outcomes))

    @staticmethod
    def _outcome(row: InboxRecordRow, documents: Documents, before: int) -> Outcome:
        state = RecordState(row.state)
        if state is RecordState.NORMALIZED and row.document_id is not None:
            now = documents.revision(row.document_id)
            if before == 0:
                return Outcome.NEW
            return Outcome.REVISED if now > before else Outcome.UNCHANGED
        return {
            RecordState.PARKED: Outcome.WAITING,
            RecordState.QUARANTINED: Outcome.REJECTED,
            RecordState.SKIPPED: Outcome.SKIPPED,
            RecordState.DUPLICATE: Outcome.DUPLICATE,
        }.get(state, Outcome.RECEIVED)

    @staticmethod
    def _problems(stored: _StoredRow, mapping: PosMapping) -> tuple[str, ...]:
        lines = line_rows(stored.receipt, mapping)
        return tuple(locate(p, lines) for p in as_problems(stored.row.problems))


@dataclass(frozen=True, slots=True)
class _StoredRow:
    row: InboxRecordRow
    receipt: StoredReceipt
