"""The sales report: what sold per business day, location, associate and category, with
how far the books (or the built-in CRM) have caught up (``views.freshness``).

The report's figures follow the books' own rules (``domain.postings``): sales are stated
without tax, discounts as given, refunds without tax, so a day's net sales here equal the
income the books show for it. Every query is scoped to one tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from salesync.domain.documents import DocumentKind, LineKind, TaxMode
from salesync.domain.money import Money, minor_unit
from salesync.store.repositories import Locations
from salesync.store.tables import CrmSaleRow, DocumentRow
from salesync.views.freshness import LOGGED_KINDS, Freshness, freshness

REPORT_CHUNK = 1000
"""Documents the report fetches at a time from its one query: enough to keep round trips
few, small enough to bound memory whatever the date range."""
UNCATEGORISED = "Uncategorised"

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
class AssociateTotal:
    """What one associate sold over the whole range, in one currency; refunds count
    against whoever made the sale."""

    associate: str
    figures: Figures


@dataclass(frozen=True, slots=True)
class CategoryTotal:
    category: str
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
    by_associate: tuple[AssociateTotal, ...] = ()
    """The whole range, per associate and currency."""
    by_category: tuple[CategoryTotal, ...] = ()
    """The whole range, per category and currency."""


UNATTRIBUTED = "No associate"


def sales_report(
    session: Session,
    tenant_id: str,
    first: date,
    last: date,
    *,
    location: str | None = None,
    crm: bool = False,
) -> SalesReport:
    """Sales per business day, location, associate and category from ``first`` to
    ``last``; with ``crm``, only the sales already in the built-in CRM."""
    if last < first:
        raise ValueError("the report's last day comes before its first day")
    locations = {loc.id: loc for loc in Locations(session, tenant_id).all()}
    groups: dict[tuple[date, str, str], _Group] = {}
    sellers: dict[tuple[str, str], _Group] = {}
    count = 0
    # Every location named, so the day index narrows by location and day at once.
    wanted = [location] if location is not None else sorted(locations)
    found = _documents(session, tenant_id, first, last, wanted, crm=crm)
    for day, loc_id, currency, kind, body, associate in found:
        count += 1
        key = (day, loc_id, currency)
        groups.setdefault(key, _Group(_Tally(currency))).add(kind, body)
        seller = (associate or UNATTRIBUTED, currency)
        sellers.setdefault(seller, _Group(_Tally(currency))).add(kind, body)
    built = []
    for key in sorted(groups, key=lambda k: (k[0], locations[k[1]].name, k[2])):
        group, loc = groups[key], locations[key[1]]
        rows = tuple(CategoryRow(n, t.figures()) for n, t in sorted(group.categories.items()))
        built.append(DayGroup(key[0], loc.id, loc.name, key[2], rows, group.whole.figures()))
    wholes = {k: g.whole for k, g in groups.items()}
    by_day = _rolled(wholes, lambda k: (k[0], k[2]))
    by_location = _rolled(wholes, lambda k: (locations[k[1]].name, k[1], k[2]))
    overall = _rolled(wholes, lambda k: (k[2],))
    kinds: dict[tuple[str, str], _Tally] = {}
    for (_, _, currency), group in groups.items():
        for name, tally in group.categories.items():
            kinds.setdefault((name, currency), _Tally(currency)).absorb(tally)
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
        by_associate=tuple(
            AssociateTotal(name, sellers[(name, cur)].whole.figures())
            for name, cur in sorted(sellers)
        ),
        by_category=tuple(
            CategoryTotal(name, kinds[(name, cur)].figures()) for name, cur in sorted(kinds)
        ),
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
    session: Session,
    tenant_id: str,
    first: date,
    last: date,
    locations: list[str],
    *,
    crm: bool = False,
) -> Iterator[tuple[date, str, str, str, Body, str | None]]:
    """Every sale and refund in range as stored, with the associate who made the sale
    (a refund's from its sale): one query, fetched ``REPORT_CHUNK`` rows at a time (a
    server-side cursor where the database has them), so memory stays bounded whatever
    the range."""
    parent = aliased(DocumentRow)
    associate = func.coalesce(
        DocumentRow.body["associate"].as_string(), parent.body["associate"].as_string()
    )
    query = (
        select(
            DocumentRow.business_day,
            DocumentRow.location_id,
            DocumentRow.currency,
            DocumentRow.kind,
            DocumentRow.body,
            associate,
        ).outerjoin(parent, parent.id == DocumentRow.parent_id)
    ).where(
        DocumentRow.tenant_id == tenant_id,
        DocumentRow.kind.in_(LOGGED_KINDS),
        DocumentRow.business_day >= first,
        DocumentRow.business_day <= last,
    )
    query = query.where(DocumentRow.location_id.in_(locations))
    if crm:
        query = query.join(CrmSaleRow, CrmSaleRow.document_id == DocumentRow.id)
    result = session.execute(query.execution_options(yield_per=REPORT_CHUNK))
    for row in result:
        yield row[0], row[1], row[2], row[3], row[4], row[5]


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
