"""The CRM's sales log and how current it is.

Sales reach the CRM in their sync windows (twice a day by default), so the CRM lags the
tills on purpose. The log lists every sale in the CRM with when it happened and when it
synced, and carries the same freshness sentence as the books' sales log ("Brooklyn:
sales up to 17:58 on Mon 2 Nov are synced; 3 sales wait for the 06:00 window on Tue 3
Nov"), counted here from what the CRM has and what still waits for it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from salesync.domain.documents import DocumentKind, Location
from salesync.domain.money import Money
from salesync.store.repositories import Locations
from salesync.store.tables import (
    CrmClientRow,
    CrmLinkRow,
    CrmSaleRow,
    QueuedDocumentRow,
)
from salesync.views.freshness import Freshness, LocationFreshness
from salesync.views.sales_report import SalesReport, sales_report


@dataclass(frozen=True, slots=True)
class CrmLogEntry:
    document_id: str
    number: str | None
    location_id: str
    location_name: str
    occurred_at: datetime
    local_time: datetime
    business_day: date
    synced_at: datetime
    lag: timedelta
    """How long after the sale it reached the CRM: mostly the wait for its window."""
    total: Money
    client_id: int | None
    client: str | None
    associate: str | None
    historical: bool


@dataclass(frozen=True, slots=True)
class CrmSalesLog:
    entries: tuple[CrmLogEntry, ...]
    freshness: Freshness


def crm_sales_log(
    session: Session,
    tenant_id: str,
    *,
    location: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 50,
) -> CrmSalesLog:
    """The newest ``limit`` sales in the CRM (by when they happened), with freshness."""
    locations = {loc.id: loc for loc in Locations(session, tenant_id).all()}
    query = (
        select(CrmSaleRow, CrmLinkRow.client_id)
        .outerjoin(
            CrmLinkRow,
            and_(
                CrmLinkRow.tenant_id == CrmSaleRow.tenant_id,
                CrmLinkRow.customer_id == CrmSaleRow.customer_id,
            ),
        )
        .where(CrmSaleRow.tenant_id == tenant_id)
    )
    if location is not None:
        query = query.where(CrmSaleRow.location_id == location)
    if since is not None:
        query = query.where(CrmSaleRow.business_day >= since)
    if until is not None:
        query = query.where(CrmSaleRow.business_day <= until)
    rows = session.execute(
        query.order_by(CrmSaleRow.occurred_at.desc(), CrmSaleRow.document_id).limit(limit)
    ).all()
    names = _client_names(session, {c for _, c in rows if c is not None})
    entries = []
    for sale, linked in rows:
        loc = locations[sale.location_id]
        client = names.get(linked) if linked is not None else None
        entries.append(
            CrmLogEntry(
                document_id=sale.document_id,
                number=sale.number,
                location_id=loc.id,
                location_name=loc.name,
                occurred_at=sale.occurred_at,
                local_time=sale.occurred_at.astimezone(loc.zone),
                business_day=sale.business_day,
                synced_at=sale.synced_at,
                lag=sale.synced_at - sale.occurred_at,
                total=Money.from_minor(sale.total_minor, sale.currency),
                client_id=client[0] if client else None,
                client=client[1] if client else None,
                associate=sale.associate,
                historical=sale.historical,
            )
        )
    return CrmSalesLog(tuple(entries), crm_freshness(session, tenant_id, location))


def _client_names(session: Session, ids: set[int]) -> dict[int, tuple[int, str]]:
    """Each client id's current client (after merges) and name."""
    found: dict[int, tuple[int, str]] = {}
    for client_id in ids:
        row = session.get(CrmClientRow, client_id)
        while row is not None and row.merged_into is not None:
            row = session.get(CrmClientRow, row.merged_into)
        if row is not None:
            found[client_id] = (row.id, row.name)
    return found


def crm_freshness(session: Session, tenant_id: str, location: str | None = None) -> Freshness:
    """How far the CRM has caught up with the sales salesync holds, per location."""
    locations = [loc for loc in Locations(session, tenant_id).all() if location in (None, loc.id)]
    synced: dict[str, tuple[datetime | None, datetime | None]] = {
        loc: (through, last)
        for loc, through, last in session.execute(
            select(
                CrmSaleRow.location_id,
                func.max(CrmSaleRow.occurred_at),
                func.max(CrmSaleRow.synced_at),
            )
            .where(CrmSaleRow.tenant_id == tenant_id)
            .group_by(CrmSaleRow.location_id)
        )
    }
    waiting = session.execute(
        select(
            QueuedDocumentRow.location_id,
            func.count(),
            func.count(QueuedDocumentRow.due_at),
            func.min(QueuedDocumentRow.due_at),
        )
        .outerjoin(CrmSaleRow, CrmSaleRow.document_id == QueuedDocumentRow.document_id)
        .where(
            QueuedDocumentRow.tenant_id == tenant_id,
            QueuedDocumentRow.kind == DocumentKind.SALE.value,
            CrmSaleRow.document_id.is_(None),
        )
        .group_by(QueuedDocumentRow.location_id)
    )
    counts: dict[str, tuple[int, int, datetime | None]] = defaultdict(lambda: (0, 0, None))
    for loc_id, count, windowed, first_due in waiting:
        counts[loc_id] = (count, windowed, first_due)
    return Freshness(tuple(_location(loc, synced, counts[loc.id]) for loc in locations))


def _location(
    loc: Location,
    synced: dict[str, tuple[datetime | None, datetime | None]],
    waiting: tuple[int, int, datetime | None],
) -> LocationFreshness:
    count, windowed, first_due = waiting
    through, last = synced.get(loc.id, (None, None))
    return LocationFreshness(
        location=loc,
        synced_through=through,
        last_synced_at=last,
        waiting_sales=windowed,
        waiting_refunds=0,
        next_window=first_due,
        manual=count - windowed,
        held=0,
    )


def crm_sales_report(
    session: Session, tenant_id: str, first: date, last: date, *, location: str | None = None
) -> SalesReport:
    """The sales report over the sales in the CRM, with the CRM's freshness."""
    found = sales_report(session, tenant_id, first, last, location=location, crm=True)
    return replace(found, freshness=crm_freshness(session, tenant_id, location))
