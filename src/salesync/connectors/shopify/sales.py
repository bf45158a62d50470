"""Shopify orders as salesync sales, or the reason one is not booked."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC
from decimal import Decimal

from salesync.connectors.shopify.orders import ShopifyLine, ShopifyOrder, ShopifyTender
from salesync.connectors.shopify.problems import refused
from salesync.connectors.source import Skip, SourceContext
from salesync.domain.documents import (
    Discount,
    DocumentKind,
    LineKind,
    Payment,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
    document_id,
)
from salesync.domain.errors import ValidationError
from salesync.domain.money import CurrencyError, Money, minor_unit
from salesync.domain.validation import Problem

Amount = Callable[[Decimal], Money]

# Shopify Payments is the card processor whose payouts empty the card clearing account;
# every other gateway keeps its own name (and clearing account) in the books.
TENDERS = {"shopify_payments": "card", "cash": "cash", "gift_card": "gift_card"}
BOOKED = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED"})
UNPAID = {
    "PENDING": "is waiting for payment",
    "AUTHORIZED": "is authorized but not yet captured",
    "PARTIALLY_PAID": "is only partly paid",
    "VOIDED": "was voided before it was paid",
    "EXPIRED": "expired unpaid",
}


def tender(gateway: str) -> str:
    """The tender a Shopify payment gateway stands for."""
    return TENDERS.get(gateway, gateway.strip().lower() or "unknown")


def sku_of(line: ShopifyLine) -> str:
    """The line's SKU; custom items without one are known by their line item id."""
    return line.sku or f"shopify-line-{line.id}"


def amounts(currency: str, what: str) -> Amount:
    """Money in ``currency``, rounded to its minor unit: Shopify states amounts to the
    cent, and rounding makes ``10.0`` and ``10.00`` the same amount in a document."""
    try:
        minor_unit(currency)
    except CurrencyError as exc:
        raise refused(what, [Problem("unknown_currency", str(exc), "currency")]) from None
    return lambda amount: Money.of(amount, currency).rounded()


def located(
    context: SourceContext, provider_location: str | None, path: str, problems: list[Problem]
) -> str | None:
    """The salesync location of a Shopify location, or None with the problem noted."""
    try:
        return context.location_for(provider_location, path)
    except ValidationError as exc:
        problems.extend(exc.problems)
        return None


def payments(tenders: Iterable[ShopifyTender], money: Amount) -> tuple[Payment, ...]:
    """One payment per gateway, in the order the gateways were first used."""
    by_gateway: dict[str, Decimal] = {}
    for t in tenders:
        by_gateway[t.gateway] = by_gateway.get(t.gateway, Decimal(0)) + t.amount
    return tuple(Payment(tender(g), money(a)) for g, a in by_gateway.items() if a)


def truncation(paths: Iterable[str], prefix: str = "") -> list[Problem]:
    return [
        Problem(
            "truncated",
            "Shopify returned only part of this list; read the order again to book it whole",
            f"{prefix}{path}",
        )
        for path in paths
    ]


def skip_reason(order: ShopifyOrder) -> str | None:
    """Why the order books nothing, or None when it is a sale."""
    if order.test:
        return f"order {order.name} is a test order; test orders are not booked"
    status = order.financial_status
    if status in UNPAID:
        return f"order {order.name} {UNPAID[status]}; it is booked once Shopify marks it paid"
    if status not in BOOKED:
        shown = status.lower().replace("_", " ") or "unknown"
        return f"order {order.name} has payment status {shown}; only paid orders are booked"
    if order.total_price == 0:
        return f"order {order.name} came to 0.00; no money changed hands"
    return None


def _payments(order: ShopifyOrder, money: Amount) -> tuple[Payment, ...] | Skip:
    if order.tenders is not None:
        return payments(order.tenders, money)
    if len(order.gateways) == 1:
        return (Payment(tender(order.gateways[0]), money(order.total_price)),)
    # https://shopify.dev/docs/api/admin-rest/latest/resources/order: a REST order lists
    # its gateways but not what each took; the GraphQL transactions the sweep reads do.
    gateways = ", ".join(order.gateways) or "no named gateway"
    return Skip(
        f"order {order.name} was paid through {gateways}; Shopify's order webhook does "
        "not say how much each took, so the sale is booked from the next sweep"
    )


def _line(line: ShopifyLine, money: Amount) -> SaleLine:
    return SaleLine(
        sku=sku_of(line),
        name=line.name,
        # REST line items carry no product type, so neither shape sets a category (see
        # orders.py); mapping rules place Shopify lines by SKU.
        category="",
        quantity=Decimal(line.quantity),
        unit_price=money(line.unit_price),
        discounts=tuple(Discount(name, money(a)) for name, a in line.discounts if a),
        taxes=tuple(TaxLine(t.title, t.rate, money(t.amount)) for t in line.taxes),
        kind=LineKind.GIFT_CARD if line.gift_card else LineKind.PRODUCT,
    )


def sale_from(order: ShopifyOrder, context: SourceContext) -> Sale | Skip:
    """The sale an order stands for, ``Skip`` when it books nothing, or ``ValidationError``
    naming every problem."""
    reason = skip_reason(order)
    if reason is not None:
        return Skip(reason)
    what = f"order {order.name}"
    money = amounts(order.currency, what)
    paid = _payments(order, money)
    if isinstance(paid, Skip):
        return paid
    problems = truncation(order.truncated)
    location = located(context, order.location_id, "location_id", problems)
    if problems or location is None:
        raise refused(what, problems)
    shipping = order.shipping
    return Sale(
        id=document_id(context.tenant_id, context.source, DocumentKind.SALE, order.id),
        tenant_id=context.tenant_id,
        location_id=location,
        source=context.source,
        external_id=order.id,
        occurred_at=order.processed_at.astimezone(UTC),
        currency=order.currency,
        tax_mode=TaxMode.INCLUSIVE if order.taxes_included else TaxMode.EXCLUSIVE,
        lines=tuple(_line(li, money) for li in order.lines),
        payments=paid,
        shipping=money(sum((s.price for s in shipping), Decimal(0))) if shipping else None,
        shipping_taxes=tuple(
            TaxLine(t.title, t.rate, money(t.amount)) for s in shipping for t in s.taxes
        ),
        tip=money(order.tip) if order.tip else None,
        declared_total=money(order.total_price),
        customer_id=None if order.customer_id is None else f"shopify:{order.customer_id}",
        number=order.name,
        # Order.updatedAt (https://shopify.dev/docs/api/admin-graphql/latest/objects/Order),
        # updated_at in REST and webhooks
        # (https://shopify.dev/docs/api/admin-rest/latest/resources/order).
        source_updated_at=order.updated_at.astimezone(UTC),
    )
