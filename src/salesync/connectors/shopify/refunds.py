"""Shopify refunds as salesync refunds, each read with the order it belongs to.

A refund's transactions say how much money went back; its refund line items say which
goods, with their tax. What a refund gives back beyond its lines (the order's shipping,
and the tip, when an order is refunded in full) Shopify states in order adjustments and
refund shipping lines, which the GraphQL schema the connector is built against does not
offer; so that both shapes agree, it is worked out from the order instead: shipping
first, then the tip, across the order's refunds in the order they were made. Anything
still unexplained beyond rounding is held for a person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from salesync.connectors.shopify.orders import ShopifyOrder, ShopifyRefund, ShopifyTax
from salesync.connectors.shopify.problems import refused
from salesync.connectors.shopify.sales import (
    Amount,
    amounts,
    located,
    payments,
    sku_of,
    truncation,
)
from salesync.connectors.source import Skip, SourceContext
from salesync.domain.documents import (
    DocumentKind,
    LineKind,
    Refund,
    RefundLine,
    TaxLine,
    TaxMode,
    document_id,
)
from salesync.domain.money import Money, minor_unit, total
from salesync.domain.validation import Problem


@dataclass(frozen=True, slots=True)
class _Beyond:
    """What one refund gives back beyond its lines."""

    shipping: Decimal
    """Shipping as the order states it (with its tax, when tax is added on top)."""
    tip: Decimal
    unexplained: Decimal


def _lines_value(refund: ShopifyRefund, inclusive: bool) -> Decimal:
    subtotal = sum((r.subtotal for r in refund.lines), Decimal(0))
    tax = Decimal(0) if inclusive else sum((r.tax for r in refund.lines), Decimal(0))
    return subtotal + tax


def _order_key(order: ShopifyOrder, refund: ShopifyRefund) -> tuple[datetime, int, str]:
    when = refund.created_at or order.processed_at
    return when, int(refund.id) if refund.id.isdigit() else 0, refund.id


def _beyond_lines(order: ShopifyOrder) -> dict[str, _Beyond]:
    inclusive = order.taxes_included
    shipping_left = sum((s.price for s in order.shipping), Decimal(0))
    if not inclusive:
        shipping_left += sum((t.amount for s in order.shipping for t in s.taxes), Decimal(0))
    tip_left = order.tip
    out: dict[str, _Beyond] = {}
    for refund in sorted(order.refunds, key=lambda r: _order_key(order, r)):
        given = sum((t.amount for t in refund.tenders), Decimal(0))
        residual = given - _lines_value(refund, inclusive)
        shipping = min(max(residual, Decimal(0)), shipping_left)
        tip = min(max(residual - shipping, Decimal(0)), tip_left)
        shipping_left -= shipping
        tip_left -= tip
        out[refund.id] = _Beyond(shipping, tip, residual - shipping - tip)
    return out


def _split_tax(amount: Money, taxes: tuple[ShopifyTax, ...], money: Amount) -> tuple[TaxLine, ...]:
    """A refunded line's tax spread over the sale line's taxes by their share, to the cent."""
    if not amount:
        return ()
    weights = [abs(money(t.amount).to_minor()) for t in taxes]
    if amount.amount < 0 or not any(weights):
        return (TaxLine("Tax", Decimal(0), amount),)
    parts = amount.allocate(weights)
    return tuple(TaxLine(t.title, t.rate, p) for t, p in zip(taxes, parts, strict=True) if p)


def _shipping(
    order: ShopifyOrder, part: Decimal, money: Amount
) -> tuple[Money | None, tuple[TaxLine, ...]]:
    """The refunded share ``part`` of the order's shipping, and the tax in it."""
    if part <= 0:
        return None, ()
    taxes = [t for s in order.shipping for t in s.taxes]
    whole = sum((s.price for s in order.shipping), Decimal(0))
    if not order.taxes_included:
        whole += sum((t.amount for t in taxes), Decimal(0))
    share = part / whole
    refunded = tuple(
        TaxLine(t.title, t.rate, money(t.amount * share)) for t in taxes if money(t.amount * share)
    )
    amount = money(part)
    if not order.taxes_included:
        amount = amount - total((t.amount for t in refunded), amount.currency)
    return amount, refunded


def refund_from(order: ShopifyOrder, refund_id: str, context: SourceContext) -> Refund | Skip:
    """The refund ``refund_id`` of ``order``, ``Skip`` when no money went back, or
    ``ValidationError`` naming every problem."""
    refund = next((r for r in order.refunds if r.id == refund_id), None)
    what = f"refund {refund_id} of order {order.name}"
    if refund is None:
        problem = Problem("unknown_refund", "the order does not list this refund", "refund_id")
        raise refused(what, [problem])
    if order.test:
        return Skip(f"{what} belongs to a test order; test orders are not booked")
    if not refund.tenders:
        return Skip(f"{what} gave no money back (a return or restock only, or still pending)")
    money = amounts(order.currency, what)
    problems = truncation(order.truncated, "order.") + truncation(refund.truncated, "order.")
    location = located(context, order.location_id, "order.location_id", problems)
    lines: list[RefundLine] = []
    for i, row in enumerate(refund.lines):
        line = order.line(row.line_id)
        if line is None:
            problems.append(
                Problem(
                    "unknown_line",
                    f"refunds line item {row.line_id}, which the order does not list",
                    f"refund.lines[{i}]",
                )
            )
            continue
        lines.append(
            RefundLine(
                sku=sku_of(line),
                quantity=Decimal(row.quantity),
                amount=money(row.subtotal),
                category="",
                taxes=_split_tax(money(row.tax), line.taxes, money),
                kind=LineKind.GIFT_CARD if line.gift_card else LineKind.PRODUCT,
            )
        )
    beyond = _beyond_lines(order)[refund.id]
    # One minor unit per separately rounded part is rounding; more is a real difference.
    tolerance = Decimal(len(refund.lines) + 1).scaleb(-minor_unit(order.currency))
    if abs(beyond.unexplained) > tolerance:
        gap = money(abs(beyond.unexplained))
        more_or_less = "more" if beyond.unexplained > 0 else "less"
        problems.append(
            Problem(
                "refund_unexplained",
                f"gives back {gap} {more_or_less} than its lines, shipping and tip come to "
                "(a refund discrepancy, such as a goodwill amount or a restocking fee); "
                "book this refund by hand",
                "refund.transactions",
            )
        )
    if problems or location is None:
        raise refused(what, problems)
    shipping, shipping_taxes = _shipping(order, beyond.shipping, money)
    extra = money(beyond.tip)
    if lines:
        last = lines[-1]
        lines[-1] = RefundLine(
            last.sku,
            last.quantity,
            last.amount + money(beyond.unexplained),
            last.category,
            last.taxes,
            last.kind,
        )
    else:
        extra = extra + money(beyond.unexplained)
    if extra:
        shipping = extra if shipping is None else shipping + extra
    reason = refund.note
    if beyond.tip:
        # Refund documents have no tip; the tip given back is booked with the shipping so
        # the tenders still match what Shopify returned.
        note = f"gives back the tip of {money(beyond.tip)}, booked as shipping"
        reason = f"{reason} ({note})" if reason else note
    return Refund(
        id=document_id(context.tenant_id, context.source, DocumentKind.REFUND, refund.id),
        tenant_id=context.tenant_id,
        location_id=location,
        source=context.source,
        external_id=refund.id,
        sale_id=document_id(context.tenant_id, context.source, DocumentKind.SALE, order.id),
        occurred_at=(refund.created_at or order.processed_at).astimezone(UTC),
        currency=order.currency,
        tax_mode=TaxMode.INCLUSIVE if order.taxes_included else TaxMode.EXCLUSIVE,
        lines=tuple(lines),
        payments=payments(refund.tenders, money),
        shipping=shipping,
        shipping_taxes=shipping_taxes,
        reason=reason,
        # The order's time, not the refund's: a REST refund, as webhooks carry it, has
        # only created_at and processed_at
        # (https://shopify.dev/docs/api/admin-rest/latest/resources/refund), and the
        # document is read from the whole order (location, tax mode, shipping and tip
        # left), whose updatedAt stamps the state it was read in. A change that leaves
        # the time as it was is told apart by its body, as with no time at all.
        source_updated_at=order.updated_at.astimezone(UTC),
    )
