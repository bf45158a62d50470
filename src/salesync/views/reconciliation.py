"""Reconciliation as a bookkeeper reads it: per location and business day, what the
source took against what the books hold, and for one day every document with the reason
it differs.

The comparison itself is ``engine.reconcile.Reconciler``'s; this module only states it.
A day's headline amount is its takings (every tender, less what was paid back), the
number a bookkeeper ticks against the bank; a day is clean only when every measure
(sales, tax, discounts, tenders, fees) agrees, so the table also names the measures that
differ.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from salesync.connectors.destination import Books
from salesync.domain.documents import Location
from salesync.domain.measures import combine, measures
from salesync.domain.money import Money
from salesync.engine.reconcile import DayReconciliation, DocumentDifference, Reconciler
from salesync.store import codec
from salesync.store.repositories import Locations
from salesync.store.tables import DocumentRow, PostingRow, owned_by
from salesync.views.freshness import State, standing


def takings(amounts: dict[str, Decimal]) -> Decimal:
    """What changed hands: every tender measure added up (refunds paid back count
    negative), plus what payouts deposited."""
    return sum(
        (v for k, v in amounts.items() if k.startswith("tender: ") or k == "payouts"),
        Decimal(0),
    )


@dataclass(frozen=True, slots=True)
class DayRow:
    """One location's business day in one currency."""

    location_id: str
    location_name: str
    day: date
    currency: str
    documents: int
    source_total: Money
    books_total: Money
    differing: tuple[str, ...]
    """Names of the measures where source and books differ ("sales", "tax: VAT 20")."""
    differing_documents: int

    @property
    def difference(self) -> Money:
        """Source minus books."""
        return self.source_total - self.books_total

    @property
    def clean(self) -> bool:
        return not self.differing and not self.differing_documents


@dataclass(frozen=True, slots=True)
class ReconciliationView:
    first: date
    last: date
    days: tuple[DayRow, ...]

    @property
    def clean_days(self) -> int:
        return sum(1 for d in self.days if d.clean)

    @property
    def days_with_differences(self) -> int:
        return len(self.days) - self.clean_days

    @property
    def summary(self) -> str:
        if not self.days:
            return "No sales in these days."
        if not self.days_with_differences:
            return f"All {len(self.days)} location-days agree with the books."
        dirty = self.days_with_differences
        return (
            f"{self.clean_days} location-days agree with the books; "
            f"{dirty} {'has' if dirty == 1 else 'have'} differences."
        )


def _reconciler(session: Session, tenant_id: str, books: Books | None) -> Reconciler:
    locations = Locations(session, tenant_id).all()
    if books is None:
        return Reconciler(session, tenant_id, locations)
    return Reconciler(session, tenant_id, locations, destination=books.name, books=books)


def reconciliation(
    session: Session,
    tenant_id: str,
    first: date,
    last: date,
    books: Books | None,
    *,
    location: str | None = None,
) -> ReconciliationView:
    """Source against books per location-day from ``first`` to ``last``. With ``books``
    (e.g. ``LedgerDestination(factory, tenant)``), postings marked posted are also read
    back from the destination, so an entry lost there shows as a difference."""
    if last < first:
        raise ValueError("the last day comes before the first day")
    reconciler = _reconciler(session, tenant_id, books)
    names = {loc.id: loc.name for loc in reconciler.locations.values()}
    days = tuple(
        _row(result, names[result.location_id])
        for result in reconciler.reconcile(first, last, location)
    )
    return ReconciliationView(first, last, days)


def _row(result: DayReconciliation, name: str) -> DayRow:
    currency = result.currency
    return DayRow(
        location_id=result.location_id,
        location_name=name,
        day=result.day,
        currency=currency,
        documents=result.count,
        source_total=Money(takings(result.source), currency),
        books_total=Money(takings(result.books), currency),
        differing=tuple(result.differences),
        differing_documents=len(result.documents),
    )


@dataclass(frozen=True, slots=True)
class DocumentLine:
    """One document of the day, the source's amount against the books'."""

    document_id: str
    kind: str
    external_id: str
    occurred_at: datetime
    local_time: datetime
    currency: str
    source_amount: Money
    books_amount: Money
    differences: dict[str, Decimal]
    """Source minus books, per measure; empty when the document agrees."""
    reason: str | None
    """Why it differs, in plain words; None when it agrees."""
    state: State
    reference: str | None

    @property
    def difference(self) -> Money:
        return self.source_amount - self.books_amount

    @property
    def clean(self) -> bool:
        return not self.differences


@dataclass(frozen=True, slots=True)
class DayDetail:
    location: Location
    day: date
    rows: tuple[DayRow, ...]
    """The day's totals, one per currency."""
    documents: tuple[DocumentLine, ...]

    @property
    def clean(self) -> bool:
        return all(r.clean for r in self.rows)

    @property
    def differing(self) -> tuple[DocumentLine, ...]:
        return tuple(d for d in self.documents if not d.clean)


class UnknownLocationError(LookupError):
    """The location is not one of the tenant's."""


def day_detail(
    session: Session, tenant_id: str, location_id: str, day: date, books: Books | None
) -> DayDetail:
    """Every document of one location's business day, each with source and books amounts
    and, where they differ, the reason the reconciler gives."""
    reconciler = _reconciler(session, tenant_id, books)
    location = reconciler.locations.get(location_id)
    if location is None:
        raise UnknownLocationError(f"there is no location {location_id!r}")
    results = reconciler.reconcile(day, day, location_id)
    differing: dict[str, DocumentDifference] = {
        d.document_id: d for result in results for d in result.documents
    }
    query = select(DocumentRow).where(
        DocumentRow.tenant_id == tenant_id,
        DocumentRow.location_id == location_id,
        DocumentRow.business_day == day,
    )
    rows = list(session.scalars(query))
    # A document moved to another day at the source is named on this day while the books
    # still hold it here: listed too, with nothing on the source side.
    elsewhere = sorted(differing.keys() - {r.id for r in rows})
    if elsewhere:
        rows += session.scalars(
            select(DocumentRow).where(
                DocumentRow.id.in_(elsewhere), owned_by(DocumentRow.tenant_id, tenant_id)
            )
        )
    # The day's documents by the day index, sorted here (see ``Documents.for_day``).
    rows.sort(key=lambda r: (r.occurred_at, r.id))
    states = standing(session, tenant_id, [r.id for r in rows])
    lines = tuple(
        _line(row, location, differing.get(row.id), states[row.id], here=row.business_day == day)
        for row in rows
    )
    day_rows = tuple(_row(result, location.name) for result in results if result.day == day)
    return DayDetail(location, day, day_rows, lines)


def _line(
    row: DocumentRow,
    location: Location,
    found: DocumentDifference | None,
    state: tuple[State, str, PostingRow | None],
    *,
    here: bool = True,
) -> DocumentLine:
    """One document's line; ``here``: the document belongs to the day at the source (one
    that does not is on the day only for what the books still hold of it there)."""
    source: dict[str, Decimal] = {}
    if here:
        combine(source, measures(codec.decode(row.kind, row.body)))
    differences = found.differences if found is not None else {}
    books = dict(source)
    for name, gap in differences.items():
        books[name] = books.get(name, Decimal(0)) - gap
    posting = state[2]
    return DocumentLine(
        document_id=row.id,
        kind=row.kind,
        external_id=row.external_id,
        occurred_at=row.occurred_at,
        local_time=row.occurred_at.astimezone(location.zone),
        currency=row.currency,
        source_amount=Money(takings(source), row.currency),
        books_amount=Money(takings(books), row.currency),
        differences=dict(differences),
        reason=found.reason if found is not None else None,
        state=state[0],
        reference=posting.remote_ref if posting is not None else None,
    )
