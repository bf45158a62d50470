"""The sales log and the sales report: what sold, where and when, and how far the books
have caught up.

Sales move to the books in scheduled windows, so the books lag the tills on purpose. Both
views therefore carry a freshness statement ("Sales up to 17:58 on Mon 2 Nov are synced;
14 sales wait for the 06:00 window on Tue 3 Nov") so nobody mistakes batching for loss.

The report's figures follow the books' own rules (``domain.postings``): sales are stated
without tax, discounts as given, refunds without tax, so a day's net sales here equal the
income the books show for it. Every query is scoped to one tenant.
"""

from __future__ import annotations

import base64
import binascii
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any, Literal

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from salesync.domain.documents import (
    DocumentKind,
    LineKind,
    Location,
    TaxMode,
)
from salesync.domain.money import Money, minor_unit
from salesync.engine.outbox import PostingState
from salesync.store.repositories import Locations
from salesync.store.tables import (
    CustomerRow,
    DocumentRow,
    PostingDocumentRow,
    PostingRow,
    QueuedDocumentRow,
)

State = Literal["waiting", "held", "sending", "posted", "failed"]
"""Where a document stands on its way to the books. A record that never became a document
(quarantined) is not in the log; the error log shows it."""

LOGGED_KINDS = (DocumentKind.SALE.value, DocumentKind.REFUND.value)
REPORT_CHUNK = 1000
"""Documents the report fetches at a time from its one query: enough to keep round trips
few, small enough to bound memory whatever the date range."""
UNCATEGORISED = "Uncategorised"


def when(instant: datetime, location: Location) -> str:
    """An instant as the location's people read it: ``17:58 on Mon 2 Nov``."""
    local = instant.astimezone(location.zone)
    return f"{local:%H:%M} on {local:%a} {local.day} {local:%b}"


@dataclass(frozen=True, slots=True)
class LocationFreshness:
    """How current one location's books are."""

    location: Location
    synced_through: datetime | None
    """When the newest sale or refund already in the books happened."""
    last_synced_at: datetime | None
    """When the latest posting of a sale or refund was written."""
    waiting_sales: int
    waiting_refunds: int
    """Sales and refunds waiting for a scheduled window."""
    next_window: datetime | None
    manual: int
    """Sales and refunds whose policy is manual: no window moves them, a person does."""
    held: int
    """Sales and refunds held for a mapping: they wait for a fix, not for a window."""

    @property
    def waiting(self) -> int:
        return self.waiting_sales + self.waiting_refunds + self.manual

    @property
    def text(self) -> str:
        loc = self.location
        if self.synced_through is None:
            parts = [f"{loc.name}: no sales synced yet"]
        else:
            parts = [f"{loc.name}: sales up to {when(self.synced_through, loc)} are synced"]
        scheduled = self.waiting_sales + self.waiting_refunds
        if scheduled and self.next_window is not None:
            local = self.next_window.astimezone(loc.zone)
            window = f"{local:%H:%M} window on {local:%a} {local.day} {local:%b}"
            things = _things(self.waiting_sales, self.waiting_refunds)
            parts.append(f"{things} {_verb(scheduled)} for the {window}")
        if self.manual:
            parts.append(f"{_things(self.manual, 0)} {_verb(self.manual)} for someone to sync")
        if self.held:
            parts.append(f"{_things(self.held, 0)} held until a mapping is fixed")
        if not (self.waiting or self.held):
            parts.append("nothing is waiting")
        return "; ".join(parts) + "."


def _things(sales: int, refunds: int) -> str:
    named = [
        f"{n} {word}{'' if n == 1 else 's'}"
        for n, word in ((sales, "sale"), (refunds, "refund"))
        if n
    ]
    return " and ".join(named)


def _verb(n: int) -> str:
    return "waits" if n == 1 else "wait"


@dataclass(frozen=True, slots=True)
class Freshness:
    """How current the sales log is, per location."""

    locations: tuple[LocationFreshness, ...]

    @property
    def waiting(self) -> int:
        return sum(f.waiting for f in self.locations)

    @property
    def held(self) -> int:
        return sum(f.held for f in self.locations)

    @property
    def synced_through(self) -> datetime | None:
        instants = [f.synced_through for f in self.locations if f.synced_through]
        return max(instants) if instants else None

    @property
    def next_window(self) -> datetime | None:
        instants = [f.next_window for f in self.locations if f.next_window]
        return min(instants) if instants else None

    @property
    def text(self) -> str:
        if not self.locations:
            return "No locations yet."
        return " ".join(f.text for f in self.locations)


def freshness(session: Session, tenant_id: str, location: str | None = None) -> Freshness:
    """How far the books have caught up, for every location of the tenant (or one).
    Two grouped queries, whatever the number of documents."""
    locations = [loc for loc in Locations(session, tenant_id).all() if location in (None, loc.id)]
    synced = (
        select(
            DocumentRow.location_id,
            func.max(DocumentRow.occurred_at),
            func.max(PostingRow.posted_at),
        )
        .join(PostingDocumentRow, PostingDocumentRow.document_id == DocumentRow.id)
        .join(PostingRow, PostingRow.id == PostingDocumentRow.posting_id)
        .where(
            DocumentRow.tenant_id == tenant_id,
            PostingDocumentRow.tenant_id == tenant_id,
            PostingRow.tenant_id == tenant_id,
            DocumentRow.kind.in_(LOGGED_KINDS),
            PostingRow.state == PostingState.POSTED.value,
        )
        .group_by(DocumentRow.location_id)
    )
    through = {loc: (at, posted) for loc, at, posted in session.execute(synced)}
    queued = (
        select(
            QueuedDocumentRow.location_id,
            QueuedDocumentRow.kind,
            QueuedDocumentRow.held,
            func.count(),
            func.count(QueuedDocumentRow.due_at),
            func.min(QueuedDocumentRow.due_at),
        )
        .where(
            QueuedDocumentRow.tenant_id == tenant_id,
            QueuedDocumentRow.planned.is_(False),
            QueuedDocumentRow.kind.in_(LOGGED_KINDS),
        )
        .group_by(QueuedDocumentRow.location_id, QueuedDocumentRow.kind, QueuedDocumentRow.held)
    )
    counts: dict[tuple[str, str], int] = defaultdict(int)
    due: dict[str, datetime] = {}
    for loc_id, kind, is_held, count, windowed, first_due in session.execute(queued):
        if is_held:
            counts[(loc_id, "held")] += count
            continue
        counts[(loc_id, kind)] += windowed
        counts[(loc_id, "manual")] += count - windowed
        if first_due is not None:
            due[loc_id] = min(first_due, due.get(loc_id, first_due))
    return Freshness(
        tuple(
            LocationFreshness(
                location=loc,
                synced_through=through.get(loc.id, (None, None))[0],
                last_synced_at=through.get(loc.id, (None, None))[1],
                waiting_sales=counts[(loc.id, DocumentKind.SALE.value)],
                waiting_refunds=counts[(loc.id, DocumentKind.REFUND.value)],
                next_window=due.get(loc.id),
                manual=counts[(loc.id, "manual")],
                held=counts[(loc.id, "held")],
            )
            for loc in locations
        )
    )


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
            select(DocumentRow).where(DocumentRow.tenant_id == tenant_id, DocumentRow.id.in_(ids))
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


@dataclass(slots=True)
class _Standing:
    """What the outbox and the queue say about one document."""

    postings: list[PostingRow] = field(default_factory=list)
    queued: QueuedDocumentRow | None = None


def standing(
    session: Session, tenant_id: str, ids: list[str]
) -> dict[str, tuple[State, str, PostingRow | None]]:
    """For each document: its state, that state in a sentence, and the latest posting that
    wrote it to the books (for when and where). Two queries, whatever the count."""
    found: dict[str, _Standing] = defaultdict(_Standing)
    if ids:
        covering = (
            select(PostingDocumentRow.document_id, PostingRow)
            .join(PostingRow, PostingRow.id == PostingDocumentRow.posting_id)
            .where(
                PostingDocumentRow.tenant_id == tenant_id,
                PostingRow.tenant_id == tenant_id,
                PostingDocumentRow.document_id.in_(ids),
            )
            .order_by(PostingRow.id)
        )
        for document_id, posting in session.execute(covering):
            found[document_id].postings.append(posting)
        queued = select(QueuedDocumentRow).where(
            QueuedDocumentRow.tenant_id == tenant_id, QueuedDocumentRow.document_id.in_(ids)
        )
        for row in session.scalars(queued):
            found[row.document_id].queued = row
    return {i: _state(found[i]) for i in ids}


def _state(found: _Standing) -> tuple[State, str, PostingRow | None]:
    posted = [p for p in found.postings if p.state == PostingState.POSTED.value]
    last = max(posted, key=lambda p: p.posted_at or p.created_at) if posted else None
    for posting in found.postings:
        if posting.state == PostingState.FAILED.value:
            return "failed", f"could not be written to the books: {_error(posting)}", last
    queued = found.queued
    held = [p for p in found.postings if p.state == PostingState.HELD.value]
    if queued is not None and queued.held:
        reasons = "; ".join(p["message"] for p in queued.problems) or "a mapping is missing"
        return "held", f"held: {reasons}", last
    if held:
        return "held", f"held: {_error(held[0])}", last
    if queued is not None and not queued.planned:
        if queued.due_at is None:
            return "waiting", "waits for someone to sync it (manual policy)", last
        return "waiting", "waits for its sync window", last
    unsent = [p for p in found.postings if p.state != PostingState.POSTED.value]
    if unsent:
        posting = unsent[0]
        if posting.state == PostingState.RETRYING.value:
            return "sending", f"the books did not answer; trying again ({_error(posting)})", last
        return "sending", "being written to the books", last
    if last is not None:
        return "posted", "in the books", last
    return "waiting", "waits to be planned into a posting", last


def _error(posting: PostingRow) -> str:
    error = posting.last_error or {}
    return str(error.get("user_message") or error.get("message") or "no detail was recorded")


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
            DocumentRow.tenant_id == tenant_id, DocumentRow.id.in_(parent_ids)
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


MEASURES = (
    "gross_sales",
    "discounts",
    "refunds",
    "tax",
    "shipping",
    "service_charges",
    "tips",
    "gift_cards",
)


@dataclass(frozen=True, slots=True)
class Figures:
    """What a group of sales and refunds amounts to, in one currency.

    ``gross_sales`` is goods sold before discounts, without tax; ``refunds`` is goods given
    back, without tax; ``tax`` is tax charged less tax refunded. Shipping, service charges,
    tips and gift cards sold belong to whole orders, so they are zero on a category.
    """

    currency: str
    orders: int
    refund_count: int
    gross_sales: Money
    discounts: Money
    refunds: Money
    tax: Money
    shipping: Money
    service_charges: Money
    tips: Money
    gift_cards: Money

    @property
    def net_sales(self) -> Money:
        return self.gross_sales - self.discounts - self.refunds


@cache
def _quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


@dataclass(slots=True)
class _Tally:
    currency: str
    orders: int = 0
    refund_count: int = 0
    sums: dict[str, Decimal] = field(default_factory=lambda: dict.fromkeys(MEASURES, Decimal(0)))

    def round(self, amount: Decimal) -> Decimal:
        return amount.quantize(_quantum(self.currency), ROUND_HALF_UP)

    def add(self, measure: str, amount: Decimal) -> None:
        self.sums[measure] += self.round(amount)

    def absorb(self, other: _Tally) -> None:
        self.orders += other.orders
        self.refund_count += other.refund_count
        for name, value in other.sums.items():
            self.sums[name] += value

    def figures(self) -> Figures:
        money = {n: Money(v, self.currency) for n, v in self.sums.items()}
        return Figures(self.currency, self.orders, self.refund_count, **money)


@dataclass(frozen=True, slots=True)
class CategoryRow:
    category: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class DayGroup:
    """One location's business day in one currency: per category, and in total."""

    day: date
    location_id: str
    location_name: str
    currency: str
    categories: tuple[CategoryRow, ...]
    totals: Figures


@dataclass(frozen=True, slots=True)
class DayTotal:
    day: date
    figures: Figures


@dataclass(frozen=True, slots=True)
class LocationTotal:
    location_id: str
    location_name: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class SalesReport:
    first: date
    last: date
    location: str | None
    groups: tuple[DayGroup, ...]
    by_day: tuple[DayTotal, ...]
    """Every location together, per day and currency."""
    by_location: tuple[LocationTotal, ...]
    """The whole range, per location and currency."""
    totals: tuple[Figures, ...]
    """The whole range, one per currency."""
    documents: int
    freshness: Freshness


def sales_report(
    session: Session, tenant_id: str, first: date, last: date, *, location: str | None = None
) -> SalesReport:
    """Sales per business day, location and category from ``first`` to ``last``."""
    if last < first:
        raise ValueError("the report's last day comes before its first day")
    locations = {loc.id: loc for loc in Locations(session, tenant_id).all()}
    groups: dict[tuple[date, str, str], _Group] = {}
    count = 0
    for day, loc_id, currency, kind, body in _documents(session, tenant_id, first, last, location):
        count += 1
        key = (day, loc_id, currency)
        groups.setdefault(key, _Group(_Tally(currency))).add(kind, body)
    built = []
    for key in sorted(groups, key=lambda k: (k[0], locations[k[1]].name, k[2])):
        group, loc = groups[key], locations[key[1]]
        rows = tuple(CategoryRow(n, t.figures()) for n, t in sorted(group.categories.items()))
        built.append(DayGroup(key[0], loc.id, loc.name, key[2], rows, group.whole.figures()))
    wholes = {k: g.whole for k, g in groups.items()}
    by_day = _rolled(wholes, lambda k: (k[0], k[2]))
    by_location = _rolled(wholes, lambda k: (locations[k[1]].name, k[1], k[2]))
    overall = _rolled(wholes, lambda k: (k[2],))
    return SalesReport(
        first=first,
        last=last,
        location=location,
        groups=tuple(built),
        by_day=tuple(DayTotal(k[0], f) for k, f in by_day),
        by_location=tuple(LocationTotal(k[1], k[0], f) for k, f in by_location),
        totals=tuple(f for _, f in overall),
        documents=count,
        freshness=freshness(session, tenant_id, location),
    )


def _rolled(
    groups: dict[tuple[date, str, str], _Tally],
    key: Callable[[tuple[date, str, str]], tuple[Any, ...]],
) -> list[tuple[tuple[Any, ...], Figures]]:
    rolled: dict[tuple[Any, ...], _Tally] = {}
    for k, tally in groups.items():
        rolled.setdefault(key(k), _Tally(tally.currency)).absorb(tally)
    return [(k, rolled[k].figures()) for k in sorted(rolled)]


def _documents(
    session: Session, tenant_id: str, first: date, last: date, location: str | None
) -> Iterator[tuple[date, str, str, str, Body]]:
    """Every sale and refund in range as stored: one query, fetched ``REPORT_CHUNK`` rows
    at a time (a server-side cursor where the database has them), so memory stays
    bounded whatever the range."""
    query = select(
        DocumentRow.business_day,
        DocumentRow.location_id,
        DocumentRow.currency,
        DocumentRow.kind,
        DocumentRow.body,
    ).where(
        DocumentRow.tenant_id == tenant_id,
        DocumentRow.kind.in_(LOGGED_KINDS),
        DocumentRow.business_day >= first,
        DocumentRow.business_day <= last,
    )
    if location is not None:
        query = query.where(DocumentRow.location_id == location)
    result = session.execute(query.execution_options(yield_per=REPORT_CHUNK))
    yield from result


Body = dict[str, Any]


def _amount(money: Body | None) -> Decimal:
    return Decimal(money["amount"]) if money else Decimal(0)


def _amounts(items: Iterable[Body]) -> Decimal:
    return sum((_amount(item["amount"]) for item in items), Decimal(0))


@dataclass(slots=True)
class _Group:
    """One location-day-currency's running totals, whole and per category.

    It reads documents in the stored form (``store.codec``: amounts as decimal strings)
    rather than decoding each into domain objects, which made a month's report several
    times slower; ``tests/views`` hold its figures to the books' own measures of the
    decoded documents, so the two cannot drift apart. Amounts are rounded to the
    currency's minor unit per line, as the books round each leg.
    """

    whole: _Tally
    categories: dict[str, _Tally] = field(default_factory=dict)

    def category(self, name: str) -> _Tally:
        return self.categories.setdefault(name or UNCATEGORISED, _Tally(self.whole.currency))

    def add(self, kind: str, body: Body) -> None:
        if kind == DocumentKind.SALE.value:
            self._sale(body)
        elif kind == DocumentKind.REFUND.value:
            self._refund(body)

    def _sale(self, sale: Body) -> None:
        whole = self.whole
        inclusive = sale["tax_mode"] == TaxMode.INCLUSIVE.value
        whole.orders += 1
        touched: set[str] = set()
        goods: list[tuple[str, Decimal]] = []
        for line in sale["lines"]:
            gross = whole.round(_amount(line["unit_price"]) * Decimal(line["quantity"]))
            discount = _amounts(line["discounts"])
            tax = _amounts(line["taxes"])
            if line["kind"] == LineKind.GIFT_CARD.value:
                whole.add("gift_cards", gross - discount - (tax if inclusive else 0))
                whole.add("tax", tax)
                continue
            name = line["category"] or UNCATEGORISED
            touched.add(name)
            goods.append((name, gross - discount))
            for tally in (whole, self.category(name)):
                tally.add("gross_sales", gross - (tax if inclusive else 0))
                tally.add("discounts", discount)
                tally.add("tax", tax)
        if sale["order_discounts"]:
            self._spread_order_discount(_amounts(sale["order_discounts"]), goods)
        if sale["shipping"] is not None:
            tax = _amounts(sale["shipping_taxes"])
            whole.add("shipping", _amount(sale["shipping"]) - (tax if inclusive else 0))
            whole.add("tax", tax)
        for charge in sale["service_charges"]:
            tax = _amounts(charge["taxes"])
            whole.add("service_charges", _amount(charge["amount"]) - (tax if inclusive else 0))
            whole.add("tax", tax)
        whole.add("tips", _amount(sale["tip"]))
        for name in touched:
            self.category(name).orders += 1

    def _refund(self, refund: Body) -> None:
        whole = self.whole
        inclusive = refund["tax_mode"] == TaxMode.INCLUSIVE.value
        whole.refund_count += 1
        touched: set[str] = set()
        for line in refund["lines"]:
            tax = _amounts(line["taxes"])
            amount = _amount(line["amount"]) - (tax if inclusive else 0)
            if line["kind"] == LineKind.GIFT_CARD.value:
                whole.add("gift_cards", -amount)
                whole.add("tax", -tax)
                continue
            name = line.get("category") or UNCATEGORISED
            touched.add(name)
            for tally in (whole, self.category(name)):
                tally.add("refunds", amount)
                tally.add("tax", -tax)
        if refund["shipping"] is not None:
            tax = _amounts(refund["shipping_taxes"])
            whole.add("shipping", -(_amount(refund["shipping"]) - (tax if inclusive else 0)))
            whole.add("tax", -tax)
        for name in touched:
            self.category(name).refund_count += 1

    def _spread_order_discount(self, discount: Decimal, goods: list[tuple[str, Decimal]]) -> None:
        """An order discount split over the goods by their value, so categories add up to
        the order; with no goods to carry it, it stays on the order's total alone."""
        self.whole.add("discounts", discount)
        weights = [max(net, Decimal(0)) for _, net in goods]
        if not any(weights):
            return
        parts = Money(discount, self.whole.currency).allocate(weights)
        for (name, _), part in zip(goods, parts, strict=True):
            self.category(name).add("discounts", part.amount)
