"""Documents as stored: each tenant's sales, refunds and payouts, their revisions, and
how a delivery is told from an edit, a late redelivery or a stale copy."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.orm import Session

from salesync.domain.documents import (
    Document,
    Location,
    Refund,
    business_day,
)
from salesync.domain.errors import ConflictError
from salesync.store import codec
from salesync.store.repositories import IN_CHUNK, TenantScoped
from salesync.store.tables import (
    DocumentRevisionRow,
    DocumentRow,
    owned_by,
)

_NEW_DOCUMENTS = insert(cast(Table, DocumentRow.__table__))
"""Core, not the ORM's bulk insert: a batch of new documents is one plain statement."""


class Stored(enum.StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    """The same document, byte for byte: nothing to do."""
    REVISED = "revised"
    """An edit from the source: the earlier version is kept as a revision."""


class Documents(TenantScoped):
    def __init__(self, session: Session, tenant_id: str) -> None:
        super().__init__(session, tenant_id)
        self._loaded: dict[str, DocumentRow] = {}
        self._absent: set[str] = set()
        # What this instance stored new, as it stands, and the refunds of the sales
        # ``prefetch_refunds`` read: a refund taken in with its sale in one batch is
        # judged against them without a flush and a query per refund.
        self._added: dict[str, Document] = {}
        self._refunds: dict[str, dict[str, Refund]] = {}
        self.defer = False
        """While set, new documents are kept and written together by ``write_deferred``:
        one statement for a batch instead of a unit of work's bookkeeping per row."""
        self._deferred: dict[str, dict[str, Any]] = {}

    def prefetch(self, document_ids: Iterable[str]) -> None:
        """Read the stored rows of ``document_ids`` in bulk, so that ``add`` and ``get``
        need not ask one by one. A document another writer stores after this read is still
        never stored twice: the second insert fails on the primary key."""
        self.write_deferred()
        ids = sorted(set(document_ids))
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            query = select(DocumentRow).where(
                owned_by(DocumentRow.tenant_id, self.tenant_id), DocumentRow.id.in_(chunk)
            )
            # Held here because the session's identity map keeps rows only weakly.
            self._loaded.update((row.id, row) for row in self.session.scalars(query))
            self._absent.update(i for i in chunk if i not in self._loaded)

    def prefetch_refunds(self, sale_ids: Iterable[str]) -> None:
        """Read the stored refunds of ``sale_ids`` in bulk, for ``refunds_of``."""
        self.write_deferred()
        ids = sorted(set(sale_ids) - self._refunds.keys())
        for start in range(0, len(ids), IN_CHUNK):
            chunk = ids[start : start + IN_CHUNK]
            for sale_id in chunk:
                self._refunds[sale_id] = {}
            query = select(DocumentRow).where(
                DocumentRow.tenant_id == self.tenant_id, DocumentRow.parent_id.in_(chunk)
            )
            for row in self.session.scalars(query):
                refund = codec.decode(row.kind, row.body)
                if isinstance(refund, Refund) and row.parent_id is not None:
                    self._refunds[row.parent_id][refund.id] = refund

    def forget(self) -> None:
        """Forget this instance's own writes, after a rollback that may have undone them."""
        self._added.clear()
        self._refunds.clear()
        self._deferred.clear()

    def write_deferred(self) -> None:
        """Write the new documents kept while ``defer`` was set."""
        if self._deferred:
            rows, self._deferred = list(self._deferred.values()), {}
            self.session.execute(_NEW_DOCUMENTS, rows)

    def _remember(self, document: Document) -> None:
        if isinstance(document, Refund) and document.sale_id in self._refunds:
            self._refunds[document.sale_id][document.id] = document

    def _row(self, document_id: str) -> DocumentRow | None:
        if document_id in self._absent:
            return None
        if document_id in self._deferred:
            self.write_deferred()
        return self.session.get(DocumentRow, document_id)

    def add(self, document: Document, location: Location, *, now: datetime | None = None) -> Stored:
        """Store a validated document; the same one again is a duplicate.

        A different body under the same id is an edit at the source: the stored version is
        kept in ``document_revisions`` and the new one becomes current under the next
        revision number, so what was posted can always be reversed exactly. A delivery
        older than the latest the source has told of (by ``source_updated_at``) is stale
        and counts as a duplicate; a newer one is an edit even when its body equals an
        earlier revision (a revert at the source). Where the source gives no time, a body
        replaced earlier is taken for a stale redelivery. An edit that moves a document to
        another location is refused with a conflict.
        """
        self._own(document.tenant_id, f"document {document.external_id}")
        self._own(location.tenant_id, f"location {location.id}")
        body = codec.encode(document)
        digest = codec.fingerprint(body)
        existing = self._row(document.id)
        if existing is None:
            self._absent.discard(document.id)
            values: dict[str, Any] = {
                "id": document.id,
                "tenant_id": self.tenant_id,
                "location_id": location.id,
                "kind": document.kind.value,
                "source": document.source,
                "external_id": document.external_id,
                "parent_id": document.sale_id if isinstance(document, Refund) else None,
                "occurred_at": document.occurred_at,
                "business_day": business_day(document.occurred_at, location.zone),
                "currency": document.currency,
                "total_minor": document.amount.to_minor(),
                "body": body,
                "body_hash": digest,
                "revision": 1,
                "source_updated_at": document.source_updated_at,
                "created_at": now or datetime.now(UTC),
            }
            if self.defer:
                self._deferred[document.id] = values
            else:
                self.session.add(DocumentRow(**values))
            self._added[document.id] = document
            self._remember(document)
            return Stored.NEW
        self._own(existing.tenant_id, f"document {document.external_id}")
        if existing.body_hash != digest or _later(existing.source_updated_at, document):
            # About to change it (an edit, or a later time): decided on the row as it stands
            # under a lock, not as read earlier, or a worker taking in another delivery of
            # the same document at the same moment could be undone (PostgreSQL; SQLite
            # refuses the second writer's stale snapshot).
            existing = self._locked(document.id)
        turn = _turn(existing.source_updated_at, document.source_updated_at)
        if existing.body_hash == digest:
            # Told again, later: a delivery from between the two is now stale.
            self._told(existing, document)
            return Stored.DUPLICATE
        if turn < 0:
            # Older than the latest the source has told of: delivered out of turn.
            return Stored.DUPLICATE
        if turn == 0 and any(r.body_hash == digest for r in self._revisions(document.id)):
            # No time tells them apart: a version replaced earlier, delivered again late.
            return Stored.DUPLICATE
        if existing.location_id != location.id:
            raise ConflictError(
                f"{document.kind.value} {document.external_id} moved from location "
                f"{existing.location_id} to {location.id} after it was stored",
                user_message=f"{document.kind.value.title()} {document.external_id} was moved "
                "to another location after salesync received it. Record the move as a refund "
                "at the first location and a new sale at the second.",
                code="document_moved",
                tenant=self.tenant_id,
                location=location.id,
                documents=(document.id,),
            )
        self.session.add(
            DocumentRevisionRow(
                document_id=existing.id,
                revision=existing.revision,
                tenant_id=self.tenant_id,
                body=existing.body,
                body_hash=existing.body_hash,
                replaced_at=now or datetime.now(UTC),
            )
        )
        existing.revision += 1
        existing.body = body
        existing.body_hash = digest
        self._told(existing, document)
        existing.occurred_at = document.occurred_at
        existing.business_day = business_day(document.occurred_at, location.zone)
        existing.currency = document.currency
        existing.total_minor = document.amount.to_minor()
        if document.id in self._added:
            self._added[document.id] = document
        self._remember(document)
        return Stored.REVISED

    def _locked(self, document_id: str) -> DocumentRow:
        """The stored row read again, locked until the transaction ends."""
        query = (
            select(DocumentRow)
            .where(DocumentRow.id == document_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return self.session.scalars(query).one()

    @staticmethod
    def _told(row: DocumentRow, document: Document) -> None:
        """Keep the latest time the source has given for the document."""
        if _later(row.source_updated_at, document):
            row.source_updated_at = document.source_updated_at

    def _revisions(self, document_id: str) -> list[DocumentRevisionRow]:
        query = select(DocumentRevisionRow).where(
            DocumentRevisionRow.tenant_id == self.tenant_id,
            DocumentRevisionRow.document_id == document_id,
        )
        return list(self.session.scalars(query.order_by(DocumentRevisionRow.revision)))

    def revision(self, document_id: str) -> int:
        """The current revision of a stored document (0 when it is not stored)."""
        row = self._row(document_id)
        return row.revision if row is not None and row.tenant_id == self.tenant_id else 0

    def at_revision(self, document_id: str, revision: int) -> Document | None:
        """The document as it was at ``revision`` (the current one included)."""
        row = self._row(document_id)
        if row is None or row.tenant_id != self.tenant_id:
            return None
        if row.revision == revision:
            return codec.decode(row.kind, row.body)
        old = self.session.get(DocumentRevisionRow, (document_id, revision))
        return codec.decode(row.kind, old.body) if old is not None else None

    def get(self, document_id: str) -> Document | None:
        added = self._added.get(document_id)
        if added is not None:
            return added
        row = self._row(document_id)
        if row is None or row.tenant_id != self.tenant_id:
            return None
        return codec.decode(row.kind, row.body)

    def for_day(self, location_id: str, day: date) -> list[Document]:
        self.write_deferred()
        query = select(DocumentRow).where(
            DocumentRow.tenant_id == self.tenant_id,
            DocumentRow.location_id == location_id,
            DocumentRow.business_day == day,
        )
        # Sorted here: asked of the database, the order draws SQLite (which takes a tenant
        # for a handful of rows) to the time index and through the tenant's whole history.
        rows = sorted(self.session.scalars(query), key=lambda r: (r.occurred_at, r.id))
        return [codec.decode(r.kind, r.body) for r in rows]

    def refunds_of(self, sale_id: str) -> list[Refund]:
        """Refunds already stored against ``sale_id``, oldest first."""
        known = self._refunds.get(sale_id)
        if known is not None:
            return sorted(known.values(), key=lambda r: (r.occurred_at, r.id))
        self.write_deferred()
        query = (
            select(DocumentRow)
            .where(DocumentRow.tenant_id == self.tenant_id, DocumentRow.parent_id == sale_id)
            .order_by(DocumentRow.occurred_at, DocumentRow.id)
        )
        refunds = [codec.decode(r.kind, r.body) for r in self.session.scalars(query)]
        return [r for r in refunds if isinstance(r, Refund)]

    def count(self) -> int:
        self.write_deferred()
        query = select(func.count()).where(DocumentRow.tenant_id == self.tenant_id)
        return int(self.session.scalar(query.select_from(DocumentRow)) or 0)


def _later(stored: datetime | None, document: Document) -> bool:
    """Whether ``document`` tells of a change later than ``stored`` (or the first time)."""
    told = document.source_updated_at
    return told is not None and (stored is None or told > stored)


def _turn(stored: datetime | None, delivered: datetime | None) -> int:
    """Whether a delivery comes after (1) or before (-1) what is stored, by the times the
    source gave them; 0 when either gave none or both gave the same."""
    if stored is None or delivered is None or stored == delivered:
        return 0
    return 1 if delivered > stored else -1
