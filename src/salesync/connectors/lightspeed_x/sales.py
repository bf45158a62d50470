"""An X-Series sale as a salesync sale or refund, or a skip saying why it posts nothing.

What posts is decided by where the sale stands (``standing``), as X-Series documents its
states (https://x-series-api.lightspeedhq.com/docs/sales_statuses):

- a ``closed`` sale is finished, and posts when it happened (``sale_date``);
- an on-account or layby sale is ``pending`` while money is still owed: the goods left
  (or wait) unpaid. It posts nothing until paid off, when it closes; then the whole sale
  posts, with every payment made towards it, on the day it was paid off (its last
  payment);
- ``parked`` sales, sales still awaiting pickup or delivery, and sales voided before they
  were paid post nothing;
- a sale voided after it was paid in full (X-Series voids a completed sale from the sales
  history, giving the money back) had closed and may be in the books already: it becomes
  a refund of the whole sale, linked to it, on the day it was voided (``updated_at``), so
  the books get a reversing adjustment instead of keeping a sale that no longer stands
  (DESIGN.md §2, principle 5); a return voided that way is held, since reversing a refund
  is not a document salesync has.

A return is a closed sale whose lines have negative quantities and whose ``return_for``
names the sale it returns; it becomes a refund linked to that sale. An exchange is a return
to which new goods were added before it closed (https://x-series-api.lightspeedhq.com/docs/
sales_returns): lines of both signs. The client hands it over twice, as a ``sale`` record
(the goods bought, a sale) and a ``sale_return`` record (the goods given back, a refund
linked to ``return_for``); the value given back pays for the new goods through the
``exchange`` tender on both, and money that changed hands goes to the side it paid. Prices are tax
exclusive with each line's tax stated, so documents are in exclusive tax mode. A tip is a
line for the retailer's tip product (SKU ``tip`` unless the connection's ``tip_skus``
setting names others).

Every document carries the sale's ``updated_at`` as when the source last changed it, which
orders a late copy against an edit. X-Series also counts every change in ``version``
(https://x-series-api.lightspeedhq.com/docs/pagination), but that count runs across the
whole retailer and is what sweeps page by, while the document's field is a time.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from salesync.connectors.lightspeed_x.errors import PROVIDER
from salesync.connectors.lightspeed_x.payloads import LineItem, SaleRecord
from salesync.connectors.lightspeed_x.problems import Problems
from salesync.connectors.source import Skip, SourceContext
from salesync.domain.documents import (
    EXCHANGE_TENDER,
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

SALE = "sale"
SALE_RETURN = "sale_return"
"""An exchange's goods given back (the same sale as its ``sale`` record)."""


def is_exchange(quantities: list[Decimal]) -> bool:
    """Whether a sale's lines both sell and take back goods."""
    return any(q < 0 for q in quantities) and any(q > 0 for q in quantities)


def customer_ref(customer_id: str | None) -> str | None:
    return f"{PROVIDER}:{customer_id}" if customer_id else None


def sale_or_refund(
    record: SaleRecord, context: SourceContext, *, given_back: bool = False
) -> Sale | Refund | Skip:
    """The document of a ``sale`` record, or with ``given_back`` of a ``sale_return``
    record (an exchange's goods given back)."""
    sale = record.sale
    stands = sale.standing()
    if stands.state == "voided" and _paid_in_full(record):
        return _reversal(record, context)
    waiting = stands.waiting()
    if waiting is not None:
        return Skip(f"Lightspeed sale {sale.invoice_number or sale.id} {waiting}")
    exchange = is_exchange([li.quantity for li in sale.line_items])
    if given_back and not exchange:
        return Skip(
            f"Lightspeed sale {sale.invoice_number or sale.id} is no exchange (any more): "
            "its sale record carries it"
        )
    problems = Problems(SALE)
    if not stands.known:
        problems.add(
            "unknown_state",
            f"state {stands.state!r} is not one X-Series documents",
            "sale.state",
        )
    if not sale.line_items:
        problems.add("no_lines", "a closed sale has no line items", "sale.line_items")
    returned = [li.quantity < 0 for li in sale.line_items]
    location = problems.location(context, sale.outlet_id, "sale.outlet_id")
    if given_back or (any(returned) and all(returned)):
        return _refund(record, context, problems, location)
    return _sale(record, context, problems, location)


def _paid_in_full(record: SaleRecord) -> bool:
    """Whether the sale's payments cover it: then it had closed before it was voided (a
    layby or account voided with only a deposit paid never closed, so never posted)."""
    sale = record.sale
    owed = sale.total_price + sale.total_tax
    return bool(sale.payments) and sum(p.amount for p in sale.payments) == owed


def _reversal(record: SaleRecord, context: SourceContext) -> Refund:
    """The refund of everything a voided sale sold, with every payment given back."""
    sale = record.sale
    problems = Problems(SALE)
    location = problems.location(context, sale.outlet_id, "sale.outlet_id")
    if not sale.line_items or any(li.quantity < 0 for li in sale.line_items):
        problems.add(
            "voided_return",
            "a return (or exchange) was voided after it was completed; salesync reverses "
            "voided sales only, so reverse this one in the books by hand",
            "sale.line_items",
        )
    tip_skus = _tip_skus(context)
    lines: list[RefundLine] = []
    for i, line in enumerate(sale.line_items):
        sku, _, category, taxes = _facts(record, line, i, problems)
        if sku in tip_skus and not taxes:
            # A sale books its tip apart from its lines; a refund has no tip to give back.
            problems.add(
                "voided_tip",
                "the voided sale carried a tip, which a refund cannot give back; reverse "
                "it in the books by hand",
                f"sale.line_items[{i}]",
            )
        lines.append(
            RefundLine(
                sku=sku,
                quantity=line.quantity,
                amount=_money(record, line.price_total),
                category=category,
                taxes=taxes,
            )
        )
    problems.check()
    voided = f"{sale.id}:void"
    return Refund(
        id=document_id(context.tenant_id, PROVIDER, DocumentKind.REFUND, voided),
        tenant_id=context.tenant_id,
        location_id=location,
        source=PROVIDER,
        external_id=voided,
        sale_id=document_id(context.tenant_id, PROVIDER, DocumentKind.SALE, sale.id),
        occurred_at=sale.updated_at or sale.sale_date,
        currency=record.currency,
        tax_mode=TaxMode.EXCLUSIVE,
        lines=tuple(lines),
        # A refund's payments are what went back, as positive amounts: all of them.
        payments=_payments(record, 1),
        reason=f"Lightspeed sale {sale.invoice_number or sale.id} was voided",
        source_updated_at=sale.updated_at,
    )


def _money(record: SaleRecord, amount: Decimal) -> Money:
    return Money(amount, record.currency)


def _facts(
    record: SaleRecord, line: LineItem, i: int, problems: Problems
) -> tuple[str, str, str, tuple[TaxLine, ...]]:
    """The SKU, name, category and tax of a line, from the envelope's products and taxes."""
    product = record.products.get(line.product_id)
    if product is None:
        problems.add(
            "unknown_product",
            f"product {line.product_id} is not among the record's products",
            f"sale.line_items[{i}].product_id",
        )
        return line.product_id, "", "", ()
    taxes: tuple[TaxLine, ...] = ()
    if line.tax_total:
        tax = record.taxes.get(line.tax_id or "")
        if tax is None:
            problems.add(
                "unknown_tax",
                f"tax {line.tax_id} is not among the record's taxes",
                f"sale.line_items[{i}].tax_id",
            )
        else:
            taxes = (TaxLine(tax.name, tax.rate, _money(record, abs(line.tax_total))),)
    return product.sku, product.name, product.category, taxes


def _payments(record: SaleRecord, sign: int) -> tuple[Payment, ...]:
    return tuple(
        Payment(p.name or p.payment_type_id or "payment", _money(record, p.amount * sign))
        for p in record.sale.payments
    )


def _tip_skus(context: SourceContext) -> set[str]:
    """The SKUs the retailer rings tips up as: one, or a list, or ``tip``."""
    named = context.settings.get("tip_skus") or ("tip",)
    return {named} if isinstance(named, str) else {str(s) for s in named}


def _occurred(record: SaleRecord) -> datetime:
    sale = record.sale
    if not sale.standing().paid_off:
        return sale.sale_date
    paid = [p.payment_date for p in sale.payments if p.payment_date is not None]
    return max(paid, default=sale.updated_at or sale.sale_date)


def _sale(record: SaleRecord, context: SourceContext, problems: Problems, location: str) -> Sale:
    sale = record.sale
    tip_skus = _tip_skus(context)
    lines: list[SaleLine] = []
    tips: list[Money] = []
    for i, line in enumerate(sale.line_items):
        if line.quantity < 0:
            continue  # given back in an exchange: the sale's ``sale_return`` record
        sku, name, category, taxes = _facts(record, line, i, problems)
        if sku in tip_skus and not taxes:
            tips.append(_money(record, line.price_total))
            continue
        discounts = (
            (Discount("discount", _money(record, line.discount_total)),)
            if line.discount_total
            else ()
        )
        lines.append(
            SaleLine(
                sku=sku,
                name=name,
                category=category,
                quantity=line.quantity,
                unit_price=_money(record, line.price + line.discount),
                discounts=discounts,
                taxes=taxes,
            )
        )
    payments = _payments(record, 1)
    declared = sale.total_price + sale.total_tax
    bought, given = _parts(record)
    if given:
        payments = (
            *(p for p in payments if p.amount.amount > 0),
            _exchange(record, min(bought, given)),
        )
        declared = bought
    problems.check()
    return Sale(
        id=document_id(context.tenant_id, PROVIDER, DocumentKind.SALE, sale.id),
        tenant_id=context.tenant_id,
        location_id=location,
        source=PROVIDER,
        external_id=sale.id,
        occurred_at=_occurred(record),
        currency=record.currency,
        tax_mode=TaxMode.EXCLUSIVE,
        lines=tuple(lines),
        payments=payments,
        tip=total(tips, record.currency) if tips else None,
        declared_total=_money(record, declared),
        customer_id=customer_ref(sale.customer_id),
        associate=sale.user_id,
        number=sale.invoice_number,
        source_updated_at=sale.updated_at,
    )


def _refund(
    record: SaleRecord, context: SourceContext, problems: Problems, location: str
) -> Refund:
    sale = record.sale
    if not sale.return_for:
        problems.add(
            "return_without_sale",
            "the return names no sale it returns (return_for); salesync links every refund "
            "to its sale, so record the return against the original sale in Lightspeed",
            "sale.return_for",
        )
    lines: list[RefundLine] = []
    for i, line in enumerate(sale.line_items):
        if line.quantity >= 0:
            continue  # bought in an exchange: the sale's ``sale`` record
        sku, _, category, taxes = _facts(record, line, i, problems)
        lines.append(
            RefundLine(
                sku=sku,
                quantity=-line.quantity,
                amount=_money(record, -line.price_total),
                category=category,
                taxes=taxes,
            )
        )
    # What went back, as positive amounts; in an exchange, the value of the goods given
    # back that paid for the new ones, and any money handed back on top.
    payments = _payments(record, -1)
    bought, given = _parts(record)
    if bought:
        payments = (
            *(p for p in payments if p.amount.amount > 0),
            _exchange(record, min(bought, given)),
        )
    problems.check()
    return Refund(
        id=document_id(context.tenant_id, PROVIDER, DocumentKind.REFUND, sale.id),
        tenant_id=context.tenant_id,
        location_id=location,
        source=PROVIDER,
        external_id=sale.id,
        sale_id=document_id(context.tenant_id, PROVIDER, DocumentKind.SALE, sale.return_for or ""),
        occurred_at=sale.sale_date,
        currency=record.currency,
        tax_mode=TaxMode.EXCLUSIVE,
        lines=tuple(lines),
        payments=payments,
        reason=sale.note or None,
        source_updated_at=sale.updated_at,
    )


def _parts(record: SaleRecord) -> tuple[Decimal, Decimal]:
    """What an exchange's new goods come to and what the goods given back are worth, tax
    included, both positive (the second is zero for a sale that gives nothing back)."""
    lines = record.sale.line_items
    bought = sum((li.price_total + li.tax_total for li in lines if li.quantity > 0), Decimal(0))
    given = -sum((li.price_total + li.tax_total for li in lines if li.quantity < 0), Decimal(0))
    return bought, given


def _exchange(record: SaleRecord, credit: Decimal) -> Payment:
    return Payment(EXCHANGE_TENDER, _money(record, credit), reference=record.sale.id)
