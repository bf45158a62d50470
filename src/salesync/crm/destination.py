"""The CRM as a destination of sales: a sale reaches it when its sync window opens.

The CRM follows the same sync policy as the books: a sale is delivered once its queue
entry is due (at its window under a scheduled policy, at once for realtime sources and
manual entry, at once for backfilled history), whether or not the books have taken it
yet; a sale held for an accounting mapping still reaches the CRM, which needs none.
Delivery is keyed by the document: a sale is in the CRM once, whatever runs twice.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from salesync.domain.documents import DocumentKind, Sale
from salesync.store import codec
from salesync.store.repositories import TenantScoped
from salesync.store.tables import CrmSaleRow, DocumentRow, InboxRecordRow, QueuedDocumentRow

BACKFILL = "backfill"


class CrmSales(TenantScoped):
    def __init__(self, session: Session, tenant_id: str, clock: Callable[[], datetime]) -> None:
        super().__init__(session, tenant_id)
        self.clock = clock

    def waiting(self, *, historical: bool, limit: int) -> list[DocumentRow]:
        """Sales whose window has come and that are not in the CRM yet: live ones, or those
        of the initial import (``historical``)."""
        imported = exists().where(
            InboxRecordRow.tenant_id == self.tenant_id,
            InboxRecordRow.document_id == DocumentRow.id,
            InboxRecordRow.origin == BACKFILL,
        )
        return list(
            self.session.scalars(
                select(DocumentRow)
                .join(QueuedDocumentRow, QueuedDocumentRow.document_id == DocumentRow.id)
                .outerjoin(CrmSaleRow, CrmSaleRow.document_id == DocumentRow.id)
                .where(
                    QueuedDocumentRow.tenant_id == self.tenant_id,
                    QueuedDocumentRow.kind == DocumentKind.SALE.value,
                    QueuedDocumentRow.due_at <= self.clock(),
                    CrmSaleRow.document_id.is_(None),
                    imported if historical else ~imported,
                )
                .order_by(QueuedDocumentRow.due_at, DocumentRow.occurred_at, DocumentRow.id)
                .limit(limit)
            )
        )

    def deliver(self, row: DocumentRow, *, historical: bool) -> CrmSaleRow | None:
        """Put one stored sale into the CRM; None when it is there already."""
        entry = CrmSaleRow(
            document_id=row.id,
            tenant_id=self.tenant_id,
            source=row.source,
            synced_at=self.clock(),
            historical=historical,
        )
        _copy(row, entry)
        try:
            with self.session.begin_nested():
                self.session.add(entry)
                self.session.flush()
        except IntegrityError:
            return None
        return entry

    def edited(self, limit: int) -> int:
        """Copy in the source's later edits of sales already in the CRM (a corrected
        total, a customer added at the till) once the edit's window has come; their
        triggers are not decided again."""
        rows = self.session.execute(
            select(DocumentRow, CrmSaleRow)
            .join(CrmSaleRow, CrmSaleRow.document_id == DocumentRow.id)
            .join(QueuedDocumentRow, QueuedDocumentRow.document_id == DocumentRow.id)
            .where(
                CrmSaleRow.tenant_id == self.tenant_id,
                DocumentRow.revision > CrmSaleRow.revision,
                QueuedDocumentRow.due_at <= self.clock(),
            )
            .limit(limit)
        ).all()
        for row, entry in rows:
            _copy(row, entry)
        self.session.flush()
        return len(rows)

    def get(self, document_id: str) -> CrmSaleRow | None:
        row = self.session.get(CrmSaleRow, document_id)
        return row if row is not None and row.tenant_id == self.tenant_id else None

    def count(self, *, historical: bool | None = None) -> int:
        query = select(func.count()).where(CrmSaleRow.tenant_id == self.tenant_id)
        if historical is not None:
            query = query.where(CrmSaleRow.historical.is_(historical))
        return self.session.scalar(query) or 0


def _copy(row: DocumentRow, entry: CrmSaleRow) -> None:
    """The CRM's fields of stored sale ``row``, at its current revision, into ``entry``."""
    sale = codec.decode(row.kind, row.body)
    if not isinstance(sale, Sale):
        raise TypeError(f"document {row.id} is a {row.kind}, not a sale")
    entry.location_id = row.location_id
    entry.number = sale.number or sale.external_id
    entry.customer_id = sale.customer_id
    entry.associate = sale.associate
    entry.occurred_at = sale.occurred_at
    entry.business_day = row.business_day
    entry.currency = sale.currency
    entry.total_minor = sale.grand_total.to_minor()
    entry.revision = row.revision
