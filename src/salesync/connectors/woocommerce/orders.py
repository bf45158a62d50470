"""WooCommerce orders as sales and their refunds as refunds.

Which orders are sales follows WooCommerce's order statuses
(https://woocommerce.com/document/managing-orders/order-statuses/): ``processing``
(paid, awaiting fulfilment), ``completed`` (paid and fulfilled) and ``refunded`` (paid,
then given back in full: the sale stands and its refunds reverse it) carry money that
was received. ``pending`` (awaiting payment), ``on-hold`` (awaiting confirmation of a
bank transfer or cheque), ``failed``, ``cancelled``, ``checkout-draft`` and ``trash`` do
not, and are skipped saying why; the sweep reads the order again when it moves on.

WooCommerce keeps line amounts without tax whether or not the shop's prices include it
(``subtotal`` before coupons, ``total`` after, tax beside them), so every document is
tax-exclusive and adds up to the order's ``total``. Coupons are already spread over the
lines: the difference between a line's subtotal and total is its discount. A fee named
like a tip is the tip; a negative fee is a discount; other fees are charges.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from salesync.connectors.source import Skip, SourceContext
from salesync.connectors.woocommerce.payloads import (
    FeeLine,
    LineItem,
    Order,
    RefundRecord,
    ShippingLine,
    TaxShare,
)
from salesync.connectors.woocommerce.problems import PROVIDER, Problems
from salesync.domain.documents import (
    Charge,
    Discount,
    DocumentKind,
    Payment,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
    document_id,
)
from salesync.domain.money import Money, total

POSTED = frozenset({"processing", "completed", "refunded"})
SKIPPED = {
    "pending": "is pending payment: nothing has been paid yet",
    "on-hold": "is on hold awaiting payment confirmation (a bank transfer or cheque)",
    "failed": "failed: the payment was declined or not completed",
    "cancelled": "was cancelled before it was paid",
    "checkout-draft": "is a checkout still in progress",
    "trash": "was moved to the trash",
}
TIP_NAMES = frozenset({"tip", "tips", "gratuity"})
CHANNEL = "created_via"


def _rates(order: Order) -> dict[int, tuple[str, Decimal]]:
    return {
        t.rate_id: (t.label or f"Tax {t.rate_id}", t.rate_percent / 100) for t in order.tax_lines
    }


def _taxes(shares: Iterable[TaxShare], order: Order, currency: str) -> tuple[TaxLine, ...]:
    rates = _rates(order)
    return tuple(
        TaxLine(*rates.get(s.id, (f"Tax {s.id}", Decimal(0))), Money(abs(s.total), currency))
        for s in shares
        if s.total
    )


def _sku(item: LineItem) -> str:
    return item.sku or f"woocommerce-product-{item.product_id}"


def _line(item: LineItem, order: Order, problems: Problems, path: str) -> SaleLine:
    currency = order.currency
    if item.quantity <= 0:
        problems.add(
            "bad_quantity", f"quantity {item.quantity} is not above zero", f"{path}.quantity"
        )
    quantity = item.quantity if item.quantity > 0 else Decimal(1)
    off = item.subtotal - item.total
    return SaleLine(
        sku=_sku(item),
        name=item.name,
        category="",
        quantity=quantity,
        unit_price=Money(item.subtotal / quantity, currency),
        discounts=(Discount("Coupon", Money(off, currency)),) if off > 0 else (),
        taxes=_taxes(item.taxes, order, currency),
    )


def _fees(order: Order) -> tuple[Money | None, tuple[Discount, ...], tuple[Charge, ...]]:
    currency = order.currency
    tips = [f for f in order.fee_lines if f.name.strip().lower() in TIP_NAMES and f.total > 0]
    discounts = tuple(
        Discount(f.name or "Discount", Money(-f.total, currency))
        for f in order.fee_lines
        if f.total < 0
    )
    charges = tuple(
        Charge(f.name or "Fee", Money(f.total, currency), _taxes(f.taxes, order, currency))
        for f in order.fee_lines
        if f.total > 0 and f not in tips
    )
    tip = total((Money(f.total, currency) for f in tips), currency) if tips else None
    return tip, discounts, charges


def _shipping(lines: list[ShippingLine], order: Order) -> tuple[Money | None, tuple[TaxLine, ...]]:
    if not lines:
        return None, ()
    currency = order.currency
    amount = total((Money(abs(s.total), currency) for s in lines), currency)
    return amount, tuple(t for s in lines for t in _taxes(s.taxes, order, currency))


def sale_of(order: Order, context: SourceContext) -> Sale | Skip:
    """The sale a paid order stands for, or why it is skipped."""
    if order.status not in POSTED:
        why = SKIPPED.get(
            order.status, f"has the status {order.status!r}, which is not a paid order"
        )
        return Skip(f"WooCommerce order {order.number or order.id} {why}")
    if order.total <= 0:
        return Skip(f"WooCommerce order {order.number or order.id} was free: nothing was paid")
    problems = Problems("order")
    location = problems.location(context, order.created_via or None, CHANNEL)
    lines = tuple(
        _line(item, order, problems, f"line_items[{i}]") for i, item in enumerate(order.line_items)
    )
    if not lines:
        problems.add("no_lines", "the order has no line items", "line_items")
    problems.check()
    currency = order.currency
    tip, discounts, charges = _fees(order)
    shipping, shipping_taxes = _shipping(order.shipping_lines, order)
    return Sale(
        id=document_id(context.tenant_id, PROVIDER, DocumentKind.SALE, str(order.id)),
        tenant_id=context.tenant_id,
        location_id=location,
        source=PROVIDER,
        external_id=str(order.id),
        occurred_at=order.date_paid_gmt or order.date_created_gmt,
        currency=currency,
        tax_mode=TaxMode.EXCLUSIVE,
        lines=lines,
        payments=(
            Payment(
                order.payment_method or "other",
                Money(order.total, currency),
                reference=order.transaction_id or None,
            ),
        ),
        order_discounts=discounts,
        shipping=shipping,
        shipping_taxes=shipping_taxes,
        service_charges=charges,
        tip=tip,
        declared_total=Money(order.total, currency),
        customer_id=f"woocommerce:{order.customer_id}" if order.customer_id else None,
        number=order.number or str(order.id),
        # "The date the order was last modified, as GMT": every change to the order moves
        # it (https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties).
        source_updated_at=order.date_modified_gmt,
    )


def _refund_fee_problems(fees: list[FeeLine], problems: Problems) -> None:
    for i, fee in enumerate(fees):
        if fee.total:
            problems.add(
                "refunded_fee",
                f"the refund gives back the fee {fee.name!r}, which salesync cannot post as a "
                "refund line; record that part in the books by hand",
                f"refund.fee_lines[{i}]",
            )


def refund_of(record: RefundRecord, context: SourceContext) -> Refund | Skip:
    """A refund of the sale of its order, line by line."""
    refund, order = record.refund, record.order
    if refund.amount == 0:
        return Skip(f"WooCommerce refund {refund.id} of order {order.id} gave nothing back")
    currency = order.currency
    problems = Problems("order_refund")
    location = problems.location(context, order.created_via or None, f"order.{CHANNEL}")
    lines = tuple(
        RefundLine(
            sku=_sku(item),
            quantity=abs(item.quantity),
            amount=Money(abs(item.total), currency),
            taxes=_taxes(item.taxes, order, currency),
        )
        for item in refund.line_items
    )
    shipping, shipping_taxes = _shipping(refund.shipping_lines, order)
    _refund_fee_problems(refund.fee_lines, problems)
    if not lines and shipping is None and not refund.fee_lines:
        problems.add(
            "refund_without_items",
            f"the refund of {refund.amount} names no items or shipping, so what was given back "
            "is unknown; refund by item in WooCommerce, or record it in the books by hand",
            "refund.line_items",
        )
    problems.check()
    result = Refund(
        id=document_id(context.tenant_id, PROVIDER, DocumentKind.REFUND, str(refund.id)),
        tenant_id=context.tenant_id,
        location_id=location,
        source=PROVIDER,
        external_id=str(refund.id),
        sale_id=document_id(context.tenant_id, PROVIDER, DocumentKind.SALE, str(order.id)),
        occurred_at=refund.date_created_gmt,
        currency=currency,
        tax_mode=TaxMode.EXCLUSIVE,
        lines=lines,
        payments=(Payment(order.payment_method or "other", Money(refund.amount, currency)),),
        shipping=shipping,
        shipping_taxes=shipping_taxes,
        reason=refund.reason or None,
        # A refund is never changed once made (the API creates, reads and deletes refunds,
        # and has no update: https://woocommerce.github.io/woocommerce-rest-api-docs/
        # #refunds), so it last changed when it was created. An edit of what it takes from
        # its order (tender, channel) comes with that same time, and is told by its body.
        source_updated_at=refund.date_created_gmt,
    )
    if result.computed_total.rounded() != Money(refund.amount, currency).rounded():
        problems.add(
            "refund_amount_mismatch",
            f"the refunded lines add up to {result.computed_total} but the refund is "
            f"{refund.amount} {currency}",
            "refund.amount",
        )
        problems.check()
    return result
