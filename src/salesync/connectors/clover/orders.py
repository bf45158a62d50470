"""Clover orders as sales, and their refunds as refunds of those sales.

A sale is priced the way Clover prices an order: each line item's price with its
modifications, times its quantity (``unitQty`` in thousandths, else one unit per line
item), less its line discounts; order discounts spread over the lines by their net; each
tax rate (10,000,000 = 100%) applied to a line's share; the service charge a percentage
of the discounted subtotal. Tips are on the payments (``tipAmount``), and a payment's
``amount`` holds its tax and not its tip, so the money charged is the order's ``total``
plus the tips. Only a locked order that was paid is a sale; an open one is skipped.

A refund gives back ``amount`` (its tax, ``taxAmount``, included) to the tender of the
payment it names, for the line items it lists: the amount is spread over those lines by
their net price. A refund listing no line items gives money back without goods, spread
over every line of the order with nothing returned.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from salesync.connectors.clover.payloads import (
    CloverOrder,
    DiscountRow,
    ItemFacts,
    LineItem,
    OrderRecord,
    RefundRecord,
    instant,
)
from salesync.connectors.clover.problems import PROVIDER, Problems
from salesync.connectors.source import Skip, SourceContext
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
from salesync.domain.money import Money

RATE_SCALE = Decimal(10_000_000)
PAID = frozenset({"PAID", "PARTIALLY_REFUNDED", "REFUNDED"})


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal(1), rounding=ROUND_HALF_UP)


def _off(discount: DiscountRow, base: Decimal) -> Decimal:
    """What a discount takes off ``base``, in cents."""
    if discount.percentage is not None:
        return _cents(base * discount.percentage / 100)
    return Decimal(-(discount.amount or 0))


def _quantity(line: LineItem) -> Decimal:
    return Decimal(line.unitQty) / 1000 if line.unitQty else Decimal(1)


def _net(line: LineItem) -> Decimal:
    """The line's price with modifications, times quantity, less line discounts, in cents."""
    base = (line.price + sum(m.amount for m in line.modifications.elements)) * _quantity(line)
    return base - sum((_off(d, base) for d in line.discounts.elements), Decimal(0))


def _sku(line: LineItem, items: dict[str, ItemFacts]) -> tuple[str, str]:
    """The SKU and category of a line: the inventory item's, else the line's own name."""
    if line.item is not None and line.item.id in items:
        facts = items[line.item.id]
        return facts.sku, facts.category
    if line.item is not None:
        return line.item.id, ""
    return f"custom:{line.name or line.id}", ""


def _money(cents: Decimal | int, currency: str) -> Money:
    return Money.from_minor(int(cents), currency)


def _taxes(line: LineItem, share: Decimal, order: CloverOrder) -> tuple[TaxLine, ...]:
    """Each tax rate of a line on its share of the bill (the part of the price that is
    tax, when prices include it)."""
    taxes = []
    for rate in line.taxRates.elements:
        fraction = Decimal(rate.rate) / RATE_SCALE
        amount = share * fraction / (1 + fraction) if order.isVat else share * fraction
        taxes.append(
            TaxLine(rate.name or rate.id, fraction, _money(_cents(amount), order.currency))
        )
    return tuple(taxes)


def _sale_line(
    i: int, line: LineItem, share: Decimal, record: OrderRecord, problems: Problems
) -> SaleLine:
    cur = record.order.currency
    unit = line.price + sum(m.amount for m in line.modifications.elements)
    if unit < 0:
        problems.add(
            "price_out_of_range",
            "modifications make the price negative",
            f"order.lineItems.elements[{i}]",
        )
    base = unit * _quantity(line)
    sku, category = _sku(line, record.items)
    return SaleLine(
        sku=sku,
        name=line.name or sku,
        category=category,
        quantity=_quantity(line),
        unit_price=_money(unit, cur),
        discounts=tuple(
            Discount(d.name or "Discount", _money(_off(d, base), cur))
            for d in line.discounts.elements
        ),
        taxes=_taxes(line, share, record.order),
    )


def sale_of(record: OrderRecord, context: SourceContext) -> Sale | Skip:
    order = record.order
    if order.state != "locked" or order.paymentState not in PAID:
        return Skip(
            f"Clover order {order.id} is {order.state or 'without a state'} and "
            f"{(order.paymentState or 'unpaid').lower()}: nothing was sold yet"
        )
    problems = Problems("order")
    location = problems.location(context, record.merchant_id, "merchant_id")
    cur = order.currency
    if not order.lineItems.elements:
        problems.add(
            "no_lines", "the paid order has no line items; expand lineItems", "order.lineItems"
        )
    nets = [_net(line) for line in order.lineItems.elements]
    subtotal = sum(nets, Decimal(0))
    order_off = [(d, _off(d, subtotal)) for d in order.discounts.elements]
    off_total = sum((amount for _, amount in order_off), Decimal(0))
    lines = [
        _sale_line(i, line, net - (off_total * net / subtotal if subtotal else 0), record, problems)
        for i, (line, net) in enumerate(zip(order.lineItems.elements, nets, strict=True))
    ]
    charges: tuple[Charge, ...] = ()
    if order.serviceCharge is not None:
        amount = _cents((subtotal - off_total) * order.serviceCharge.percentage / 100)
        charges = (Charge(order.serviceCharge.name or "Service charge", _money(amount, cur)),)
    paid = [p for p in order.payments.elements if p.result == "SUCCESS"]
    if not paid:
        problems.add(
            "no_payments",
            "the paid order has no successful payment; expand payments",
            "order.payments",
        )
    tips = sum(p.tipAmount for p in paid)
    payments = tuple(
        Payment(
            tender=(p.tender.label or p.tender.labelKey) if p.tender else "Unknown tender",
            amount=_money(p.amount + p.tipAmount, cur),
            card_brand=p.cardTransaction.cardType if p.cardTransaction else None,
            reference=p.id,
        )
        for p in paid
    )
    problems.check()
    return Sale(
        id=document_id(context.tenant_id, PROVIDER, DocumentKind.SALE, order.id),
        tenant_id=context.tenant_id,
        location_id=location,
        source=PROVIDER,
        external_id=order.id,
        occurred_at=instant(order.createdTime),
        currency=cur,
        tax_mode=TaxMode.INCLUSIVE if order.isVat else TaxMode.EXCLUSIVE,
        lines=tuple(lines),
        payments=payments,
        order_discounts=tuple(Discount(d.name or "Discount", _money(a, cur)) for d, a in order_off),
        service_charges=charges,
        tip=_money(tips, cur) if tips else None,
        declared_total=_money(order.total + tips, cur) if order.total is not None else None,
        customer_id=f"clover:{order.customers.elements[0].id}"
        if order.customers.elements
        else None,
        number=order.id,
        source_updated_at=instant(order.modifiedTime) if order.modifiedTime is not None else None,
    )


def refund_of(record: RefundRecord, context: SourceContext) -> Refund:
    order, refund = record.order, record.refund
    problems = Problems("refund")
    location = problems.location(context, record.merchant_id, "merchant_id")
    cur = order.currency
    lines = {line.id: line for line in order.lineItems.elements}
    named = [r.id for r in refund.lineItems.elements]
    for i, line_id in enumerate(named):
        if line_id not in lines:
            problems.add(
                "unknown_line_item",
                f"line item {line_id} is not in order {order.id}",
                f"refund.lineItems.elements[{i}].id",
            )
    returned = [lines[i] for i in named if i in lines] or list(lines.values())
    quantity = Decimal(1) if named else Decimal(0)
    if not returned:
        problems.add(
            "no_lines",
            f"order {order.id} has no line items to refund against; expand lineItems",
            "order.lineItems",
        )
    if refund.tipAmount:
        problems.add(
            "tip_refund", "a refund of a tip has no line to give it back on", "refund.tipAmount"
        )
    if refund.taxAmount > refund.amount:
        problems.add(
            "tax_exceeds_refund",
            f"tax of {refund.taxAmount} is more than the refund of {refund.amount}",
            "refund.taxAmount",
        )
    tender = _tender_of(order, refund.payment.id if refund.payment else None)
    if tender is None:
        problems.add(
            "unknown_payment",
            f"the refunded payment is not among order {order.id}'s payments",
            "refund.payment.id",
        )
    problems.check()
    weights = [max(_net(line), Decimal(0)) or Decimal(1) for line in returned]
    given = refund.amount if order.isVat else refund.amount - refund.taxAmount
    goods = _money(given, cur).allocate(weights)
    tax = _money(refund.taxAmount, cur).allocate(weights)
    refund_lines = []
    for line, amount, line_tax in zip(returned, goods, tax, strict=True):
        sku, category = _sku(line, record.items)
        rates = line.taxRates.elements
        taxes = (
            (TaxLine(rates[0].name or rates[0].id, Decimal(rates[0].rate) / RATE_SCALE, line_tax),)
            if rates and line_tax.amount
            else ()
        )
        refund_lines.append(RefundLine(sku, _quantity(line) * quantity, amount, category, taxes))
    return Refund(
        id=document_id(context.tenant_id, PROVIDER, DocumentKind.REFUND, refund.id),
        tenant_id=context.tenant_id,
        location_id=location,
        source=PROVIDER,
        external_id=refund.id,
        sale_id=document_id(context.tenant_id, PROVIDER, DocumentKind.SALE, order.id),
        occurred_at=instant(refund.createdTime),
        currency=cur,
        tax_mode=TaxMode.INCLUSIVE if order.isVat else TaxMode.EXCLUSIVE,
        lines=tuple(refund_lines),
        payments=(Payment(str(tender), _money(refund.amount, cur), reference=refund.id),),
        # No source time: a Clover refund says when it was created, never when it last
        # changed (https://docs.clover.com/docs/refund-response-reference), and its order's
        # modifiedTime moves with changes that are not the refund's.
    )


def _tender_of(order: CloverOrder, payment_id: str | None) -> str | None:
    for payment in order.payments.elements:
        if payment.id == payment_id:
            return (
                (payment.tender.label or payment.tender.labelKey)
                if payment.tender
                else "Unknown tender"
            )
    return None
