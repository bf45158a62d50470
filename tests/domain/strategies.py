"""Hypothesis strategies for domain documents: valid ones, and valid ones broken on purpose.

``sales()`` builds sales a real till could produce: either tax mode, zero-, two- and
three-decimal currencies, line and order discounts, gift cards, shipping, service charges,
tips, a declared total that may drift by rounding, and split tenders. ``unbalanced_sales()``
breaks one of them in a single way and says which problem validation must report.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from salesync.domain.documents import (
    Charge,
    Discount,
    DocumentKind,
    LineKind,
    Location,
    Payment,
    Payout,
    PayoutTransaction,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
    document_id,
)
from salesync.domain.money import Money, minor_unit, total

CURRENCIES = ("USD", "EUR", "GBP", "JPY", "KWD", "CHF")
ZONES = ("America/New_York", "Europe/London", "Asia/Tokyo", "Asia/Kuwait", "Australia/Sydney")
TENDERS = ("card", "cash", "gift_card", "store_credit", "mobile wallet")
CATEGORIES = ("Apparel", "Coffee", "Home ware")
TAX_REGIMES: tuple[tuple[tuple[str, Decimal], ...], ...] = (
    (),
    (("VAT", Decimal("0.20")),),
    (("State tax", Decimal("0.04")), ("City tax", Decimal("0.04875"))),
    (("Consumption tax", Decimal("0.10")),),
    (("GST", Decimal("0.05")),),
)
QUANTITIES = (Decimal(1), Decimal(1), Decimal(2), Decimal(3), Decimal("0.5"), Decimal("1.25"))
TENANT = "tenant-1"
SOURCE = "hypothesis"

currencies = st.sampled_from(CURRENCIES)
instants = st.datetimes(
    min_value=datetime(2020, 1, 1),  # noqa: DTZ001 - bounds are naive; timezones= makes them aware
    max_value=datetime(2026, 1, 1),  # noqa: DTZ001
    timezones=st.sampled_from([ZoneInfo(z) for z in ZONES]),
)


def quantum(currency: str) -> Decimal:
    """One minor unit of ``currency`` as a Decimal (0.01 for USD, 1 for JPY)."""
    return Decimal(1).scaleb(-minor_unit(currency))


def minor_money(currency: str, low: int, high: int) -> st.SearchStrategy[Money]:
    """Rounded money between ``low`` and ``high`` minor units."""
    return st.integers(low, high).map(lambda units: Money.from_minor(units, currency))


def amounts(max_places: int = 6) -> st.SearchStrategy[Decimal]:
    """Finite decimals with up to ``max_places`` places, well inside a till's range."""
    return st.integers(0, max_places).flatmap(
        lambda places: st.decimals(
            min_value=Decimal(-(10**12)),
            max_value=Decimal(10**12),
            places=places,
            allow_nan=False,
            allow_infinity=False,
        )
    )


def taxes_on(
    base: Money, regime: tuple[tuple[str, Decimal], ...], mode: TaxMode
) -> tuple[TaxLine, ...]:
    """The regime's taxes on ``base``: added on top, or the share already inside it."""
    combined = sum((rate for _, rate in regime), Decimal(0))
    lines = []
    for name, rate in regime:
        if mode is TaxMode.EXCLUSIVE:
            amount = base.amount * rate
        else:
            amount = base.amount * rate / (1 + combined)
        lines.append(TaxLine(name, rate, Money(amount, base.currency).rounded()))
    return tuple(lines)


def line_bases(lines: tuple[SaleLine, ...], order_discount: Money) -> list[Money]:
    """What each line finally cost: its net less its share of the order discount.

    Gift cards take no share of an order discount; product lines share it by their net.
    """
    weights = [ln.net.amount if ln.kind is LineKind.PRODUCT else Decimal(0) for ln in lines]
    shares = order_discount.allocate(weights)
    return [ln.net - share for ln, share in zip(lines, shares, strict=True)]


def location_for(document: Sale | Refund | Payout, zone: str = "Europe/London") -> Location:
    """A location in the document's currency, to date its journal entry."""
    return Location(document.location_id, document.tenant_id, "Store", zone, document.currency)


def _split(draw: st.DrawFn, amount: Money, tenders: tuple[str, ...]) -> tuple[Payment, ...]:
    count = draw(st.integers(1, 3))
    weights = draw(st.lists(st.integers(1, 10), min_size=count, max_size=count))
    names = draw(st.lists(st.sampled_from(tenders), min_size=count, max_size=count))
    parts = amount.allocate(weights)
    return tuple(
        Payment(name, part, card_brand="visa" if name == "card" else None)
        for name, part in zip(names, parts, strict=True)
        if part
    )


@st.composite
def _sale_lines(draw: st.DrawFn, currency: str) -> list[SaleLine]:
    q = quantum(currency)
    lines = []
    for i in range(draw(st.integers(1, 4))):
        if i > 0 and draw(st.integers(0, 5)) == 0:
            value = draw(minor_money(currency, 1000, 20_000))
            lines.append(
                SaleLine(
                    f"GIFT-{i}",
                    "Gift card",
                    "Gift cards",
                    Decimal(1),
                    value,
                    kind=LineKind.GIFT_CARD,
                )
            )
            continue
        # Sometimes a unit price carries half a minor unit more than the currency has.
        units = draw(st.integers(500, 200_000))
        extra = draw(st.sampled_from((0, 0, 0, 5)))
        price = Money(units * q + extra * q / 10, currency)
        line = SaleLine(
            f"SKU-{i}",
            f"Item {i}",
            draw(st.sampled_from(CATEGORIES)),
            draw(st.sampled_from(QUANTITIES)),
            price,
        )
        percent = draw(st.sampled_from((0, 0, 10, 25, 50)))
        if percent:
            off = Money(line.gross.amount * percent / 100, currency).rounded()
            line = dataclasses.replace(line, discounts=(Discount(f"{percent}% off", off),))
        lines.append(line)
    return lines


@st.composite
def sales(draw: st.DrawFn, *, allow_drift: bool = True) -> Sale:
    """A sale that balances; with ``allow_drift`` its declared total may differ by rounding."""
    cur = draw(currencies)
    mode = draw(st.sampled_from(TaxMode))
    regime = draw(st.sampled_from(TAX_REGIMES))
    raw = tuple(draw(_sale_lines(cur)))

    product_net = total((ln.net for ln in raw if ln.kind is LineKind.PRODUCT), cur)
    percent = draw(st.sampled_from((0, 0, 0, 5, 20, 50)))
    order_discounts: tuple[Discount, ...] = ()
    if percent:
        off = Money(product_net.amount * percent / 100, cur).rounded()
        order_discounts = (Discount("Order discount", off),)
    bases = line_bases(raw, total((d.amount for d in order_discounts), cur))
    lines = tuple(
        dataclasses.replace(ln, taxes=taxes_on(base, regime, mode))
        if ln.kind is LineKind.PRODUCT
        else ln
        for ln, base in zip(raw, bases, strict=True)
    )

    shipping = draw(st.none() | minor_money(cur, 300, 3_000))
    charges = tuple(
        Charge(f"Service {i}", amount, taxes_on(amount, regime, mode))
        for i, amount in enumerate(draw(st.lists(minor_money(cur, 100, 5_000), max_size=2)))
    )
    external_id = f"S-{draw(st.integers(1, 10**9))}"
    draft = Sale(
        id=document_id(TENANT, SOURCE, DocumentKind.SALE, external_id),
        tenant_id=TENANT,
        location_id="store-1",
        source=SOURCE,
        external_id=external_id,
        occurred_at=draw(instants),
        currency=cur,
        tax_mode=mode,
        lines=lines,
        payments=(),
        order_discounts=order_discounts,
        shipping=shipping,
        shipping_taxes=taxes_on(shipping, regime, mode) if shipping is not None else (),
        service_charges=charges,
        tip=draw(st.none() | minor_money(cur, 1, 5_000)),
    )
    declared = draw(st.sampled_from(("absent", "exact", "drifted") if allow_drift else ("absent",)))
    if declared == "exact":
        draft = dataclasses.replace(draft, declared_total=draft.computed_total)
    elif declared == "drifted":
        # Up to one minor unit for every separately rounded part, as validation allows.
        parts = len(draft.lines) + len(draft.taxes) + 1
        drift = draw(st.integers(-parts, parts)) * quantum(cur)
        draft = dataclasses.replace(draft, declared_total=draft.computed_total + Money(drift, cur))
    return dataclasses.replace(draft, payments=_split(draw, draft.grand_total, TENDERS))


@st.composite
def sales_with_refund(draw: st.DrawFn) -> tuple[Sale, Refund]:
    """A sale and a refund of some of its lines (at what they finally cost), maybe to
    another tender, maybe with the shipping."""
    sale = draw(sales(allow_drift=False))
    bases = line_bases(sale.lines, sale.order_discount_total)
    chosen = draw(
        st.lists(st.integers(0, len(sale.lines) - 1), min_size=1, unique=True).map(sorted)
    )
    lines = tuple(
        RefundLine(
            sale.lines[i].sku,
            sale.lines[i].quantity,
            bases[i],
            sale.lines[i].category,
            sale.lines[i].taxes,
            sale.lines[i].kind,
        )
        for i in chosen
    )
    with_shipping = sale.shipping is not None and draw(st.booleans())
    external_id = f"R-{sale.external_id}"
    draft = Refund(
        id=document_id(TENANT, SOURCE, DocumentKind.REFUND, external_id),
        tenant_id=TENANT,
        location_id=sale.location_id,
        source=SOURCE,
        external_id=external_id,
        sale_id=sale.id,
        occurred_at=sale.occurred_at + timedelta(minutes=draw(st.integers(1, 60 * 24 * 30))),
        currency=sale.currency,
        tax_mode=sale.tax_mode,
        lines=lines,
        payments=(),
        shipping=sale.shipping if with_shipping else None,
        shipping_taxes=sale.shipping_taxes if with_shipping else (),
    )
    tenders = (sale.payments[0].tender, "cash", "store_credit", "gift_card")
    refund = dataclasses.replace(draft, payments=_split(draw, draft.computed_total, tenders))
    return sale, refund


@st.composite
def payouts(draw: st.DrawFn) -> Payout:
    """A deposit whose gross, fees and adjustments add up to its net."""
    cur = draw(currencies)
    charges = draw(st.lists(st.integers(100, 1_000_000), min_size=1, max_size=6))
    rate = draw(st.sampled_from((Decimal("0.015"), Decimal("0.029"), Decimal("0.0325"))))
    transactions = tuple(
        PayoutTransaction(
            f"S-{i}",
            "charge",
            Money.from_minor(units, cur),
            Money(Money.from_minor(units, cur).amount * rate, cur).rounded(),
        )
        for i, units in enumerate(charges)
    )
    gross = total((t.gross for t in transactions), cur)
    fees = total((t.fee for t in transactions), cur)
    adjustments = draw(st.none() | minor_money(cur, -5_000, 5_000))
    net = gross - fees + (adjustments or Money.zero(cur))
    external_id = f"PO-{draw(st.integers(1, 10**9))}"
    return Payout(
        id=document_id(TENANT, SOURCE, DocumentKind.PAYOUT, external_id),
        tenant_id=TENANT,
        location_id="store-1",
        source=SOURCE,
        external_id=external_id,
        occurred_at=draw(instants),
        currency=cur,
        gross=gross,
        fees=fees,
        net=net,
        adjustments=adjustments,
        transactions=transactions if draw(st.booleans()) else (),
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Broken:
    """A sale broken in one way, and the problem validation must report for it."""

    sale: Sale
    code: str
    path: str


def _replace_at(items: tuple[Any, ...], index: int, item: Any) -> tuple[Any, ...]:
    return (*items[:index], item, *items[index + 1 :])


def _currency_swaps(sale: Sale, other: str) -> dict[str, Sale]:
    """Every way to put one of ``sale``'s amounts in ``other``, by the path validation names."""

    def moved(money: Money) -> Money:
        return Money(money.amount, other)

    def taxes_moved(taxes: tuple[TaxLine, ...], j: int) -> tuple[TaxLine, ...]:
        return _replace_at(taxes, j, dataclasses.replace(taxes[j], amount=moved(taxes[j].amount)))

    swaps: dict[str, Sale] = {}
    for name in ("shipping", "tip", "declared_total"):
        value = getattr(sale, name)
        if value is not None:
            swaps[name] = dataclasses.replace(sale, **{name: moved(value)})
    for i, p in enumerate(sale.payments):
        paid = dataclasses.replace(p, amount=moved(p.amount))
        swaps[f"payments[{i}].amount"] = dataclasses.replace(
            sale, payments=_replace_at(sale.payments, i, paid)
        )
    for i, line in enumerate(sale.lines):

        def with_line(new: SaleLine, i: int = i) -> Sale:
            return dataclasses.replace(sale, lines=_replace_at(sale.lines, i, new))

        swaps[f"lines[{i}].unit_price"] = with_line(
            dataclasses.replace(line, unit_price=moved(line.unit_price))
        )
        for j, d in enumerate(line.discounts):
            off = dataclasses.replace(d, amount=moved(d.amount))
            swaps[f"lines[{i}].discounts[{j}]"] = with_line(
                dataclasses.replace(line, discounts=_replace_at(line.discounts, j, off))
            )
        for j in range(len(line.taxes)):
            swaps[f"lines[{i}].taxes[{j}].amount"] = with_line(
                dataclasses.replace(line, taxes=taxes_moved(line.taxes, j))
            )
    for j, d in enumerate(sale.order_discounts):
        off = dataclasses.replace(d, amount=moved(d.amount))
        swaps[f"order_discounts[{j}]"] = dataclasses.replace(
            sale, order_discounts=_replace_at(sale.order_discounts, j, off)
        )
    for j in range(len(sale.shipping_taxes)):
        swaps[f"shipping.taxes[{j}].amount"] = dataclasses.replace(
            sale, shipping_taxes=taxes_moved(sale.shipping_taxes, j)
        )
    for i, charge in enumerate(sale.service_charges):
        charged = dataclasses.replace(charge, amount=moved(charge.amount))
        swaps[f"service_charges[{i}].amount"] = dataclasses.replace(
            sale, service_charges=_replace_at(sale.service_charges, i, charged)
        )
    return swaps


def _beyond(tolerance: int) -> st.SearchStrategy[int]:
    """Minor units past ``tolerance``, often just one past it, where a lax check would miss."""
    return st.integers(1, 3).map(lambda k: tolerance + k) | st.integers(
        tolerance + 1, tolerance + 10_000
    )


@st.composite
def unbalanced_sales(draw: st.DrawFn) -> Broken:
    """A valid sale broken once: a tender off by at least a minor unit, a declared total off
    by more than rounding, or one amount in another currency."""
    sale = draw(sales())
    cur = sale.currency
    q = quantum(cur)
    sign = draw(st.sampled_from((1, -1)))
    how = draw(st.sampled_from(("payment", "declared_total", "currency")))
    if how == "payment":
        i = draw(st.integers(0, len(sale.payments) - 1))
        off = Money(sign * draw(_beyond(0)) * q, cur)
        paid = dataclasses.replace(sale.payments[i], amount=sale.payments[i].amount + off)
        broken = dataclasses.replace(sale, payments=_replace_at(sale.payments, i, paid))
        return Broken(broken, "tenders_do_not_cover_total", "payments")
    if how == "declared_total":
        tolerance = len(sale.lines) + len(sale.taxes) + 1
        off = Money(sign * draw(_beyond(tolerance)) * q, cur)
        broken = dataclasses.replace(sale, declared_total=sale.computed_total + off)
        return Broken(broken, "total_mismatch", "declared_total")
    other = draw(st.sampled_from([c for c in CURRENCIES if c != cur]))
    swaps = _currency_swaps(sale, other)
    path = draw(st.sampled_from(sorted(swaps)))
    return Broken(swaps[path], "currency_mismatch", path)
