"""The sales log: every sale and refund, newest first, with where it stands on its way
to the books and how far each location's books have caught up (``views.freshness``).
Every query is scoped to one tenant.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from salesync.domain.documents import DocumentKind, Location
from salesync.domain.money import Money
from salesync.store.repositories import Locations
from salesync.store.tables import CustomerRow, DocumentRow, owned_by
from salesync.views.freshness import LOGGED_KINDS, Freshness, State, freshness, standing

__all__ = [
    "CursorError",
    "LogEntry",
    "SalesLogPage",
    "sales_log",
]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One sale or refund as the sales log shows it."""

    document_id: str
    kind: str
    external_id: str
    number: str | None
    location_id: str
    location_name: str
    occurred_at: datetime
    local_time: datetime
    """``occurred_at`` in the location's time zone."""
    business_day: date
    total: Money
    """What the customer paid (a sale) or was given back (a refund), positive."""
    customer: str | None
    state: State
    status: str
    """The state in a sentence: what it waits for, why it is held, where it went."""
    synced_at: datetime | None
    destination: str | None
    reference: str | None
    """The destination's own id for what was written (a journal entry, a sales receipt)."""
    sale_id: str | None = None
    """For a refund: the sale it reverses."""


@dataclass(frozen=True, slots=True)
class SalesLogPage:
    entries: tuple[LogEntry, ...]
    next_cursor: str | None
    """Pass as ``before`` for the next (older) page; None on the last page."""
    freshness: Freshness


class CursorError(ValueError):
    """A pagination cursor that this log did not hand out."""


def _cursor(row: DocumentRow) -> str:
    raw = f"{row.occurred_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        instant, document_id = raw.split("|", 1)
        at = datetime.fromisoformat(instant)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise CursorError("that page link is not valid; start again from the first page") from None
    if at.tzinfo is None:
        raise CursorError("that page link is not valid; start again from the first page")
    return at, document_id


def sales_log(
    session: Session,
    tenant_id: str,
    *,
    location: str | None = None,
    since: date | None = None,
    until: date | None = None,
    limit: int = 50,
    before: str | None = None,
) -> SalesLogPage:
    """Sales and refunds, newest first, ``limit`` at a time; ``since``/``until`` are
    business days (the location's own calendar), ``before`` a cursor from the last page."""
    if not 1 <= limit <= 500:
        raise ValueError("a page holds between 1 and 500 entries")
    # The page's ids are chosen on narrow columns first, so the sort never carries the
    # documents' bodies; only the page's own rows are then read in full.
    query = select(DocumentRow.id).where(
        DocumentRow.tenant_id == tenant_id, DocumentRow.kind.in_(LOGGED_KINDS)
    )
    if location is not None:
        query = query.where(DocumentRow.location_id == location)
    if since is not None:
        query = query.where(DocumentRow.business_day >= since)
    if until is not None:
        query = query.where(DocumentRow.business_day <= until)
    if before is not None:
        at, document_id = _uncursor(before)
        query = query.where(
            or_(
                DocumentRow.occurred_at < at,
                and_(DocumentRow.occurred_at == at, DocumentRow.id < document_id),
            )
        )
    query = query.order_by(DocumentRow.occurred_at.desc(), DocumentRow.id.desc())
    ids = list(session.scalars(query.limit(limit + 1)))
    more = len(ids) > limit
    ids = ids[:limit]
    found = {
        row.id: row
        for row in session.scalars(
            select(DocumentRow).where(
                owned_by(DocumentRow.tenant_id, tenant_id), DocumentRow.id.in_(ids)
            )
        )
    }
    rows = [found[i] for i in ids]
    locations = {loc.id: loc for loc in Locations(session, tenant_id).all()}
    entries = _entries(session, tenant_id, rows, locations)
    return SalesLogPage(
        entries=tuple(entries),
        next_cursor=_cursor(rows[-1]) if more else None,
        freshness=freshness(session, tenant_id, location),
    )


def _entries(
    session: Session,
    tenant_id: str,
    rows: list[DocumentRow],
    locations: dict[str, Location],
) -> Iterator[LogEntry]:
    states = standing(session, tenant_id, [r.id for r in rows])
    customers = _customers(session, tenant_id, rows)
    for row in rows:
        loc = locations[row.location_id]
        state, status, posting = states[row.id]
        customer_id = _customer_id(row, customers.parents)
        yield LogEntry(
            document_id=row.id,
            kind=row.kind,
            external_id=row.external_id,
            number=row.body.get("number"),
            location_id=loc.id,
            location_name=loc.name,
            occurred_at=row.occurred_at,
            local_time=row.occurred_at.astimezone(loc.zone),
            business_day=row.business_day,
            total=Money.from_minor(row.total_minor, row.currency),
            customer=customers.names.get(customer_id) if customer_id else None,
            state=state,
            status=status,
            synced_at=posting.posted_at if posting else None,
            destination=posting.destination if posting else None,
            reference=posting.remote_ref if posting else None,
            sale_id=row.parent_id,
        )


@dataclass(frozen=True, slots=True)
class _Customers:
    names: dict[str, str]
    parents: dict[str, dict[str, Any]]
    """Bodies of the sales the page's refunds reverse: a refund names no customer itself."""


def _customer_id(row: DocumentRow, parents: dict[str, dict[str, Any]]) -> str | None:
    body = row.body if row.kind == DocumentKind.SALE.value else parents.get(row.parent_id or "")
    value = (body or {}).get("customer_id")
    return str(value) if value else None


def _customers(session: Session, tenant_id: str, rows: list[DocumentRow]) -> _Customers:
    parent_ids = sorted({r.parent_id for r in rows if r.parent_id})
    parents: dict[str, dict[str, Any]] = {}
    if parent_ids:
        query = select(DocumentRow.id, DocumentRow.body).where(
            owned_by(DocumentRow.tenant_id, tenant_id), DocumentRow.id.in_(parent_ids)
        )
        parents = {row.id: row.body for row in session.execute(query)}
    wanted = {c for r in rows if (c := _customer_id(r, parents))}
    names: dict[str, str] = {}
    if wanted:
        query2 = select(CustomerRow).where(
            CustomerRow.tenant_id == tenant_id, CustomerRow.id.in_(sorted(wanted))
        )
        names = {c.id: c.name or c.email or c.id for c in session.scalars(query2)}
    return _Customers(names, parents)
