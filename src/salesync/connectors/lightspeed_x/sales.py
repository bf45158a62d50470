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
names the sale it returns; it becomes a refund linked to that sale. Prices are tax
exclusive with each line's tax stated, so documents are in exclusive tax mode. A tip is a
line for the retailer's tip product (SKU ``tip`` unless the connection's ``tip_skus``
setting names others).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from salesync.connectors.lightspeed_x.errors import PROVIDER
from salesync.connectors.lightspeed_x.payloads import LineItem, SaleRecord
from salesync.connectors.lightspeed_x.problems import Problems
from salesync.connectors.source import Skip, SourceContext
from salesync.domain.documents import (
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


def customer_ref(customer_id: str | None) -> str | None:
    return f"{PROVIDER}:{customer_id}" if customer_id else None


def sale_or_refund(record: SaleRecord, context: SourceContext) -> Sale | Refund | Skip:
    sale = record.sale
    stands = sale.standing()
    if stands.state == "voided" and _paid_in_full(record):
        return _reversal(record, context)
    waiting = stands.waiting()
    if waiting is not None:
        return Skip(f"Lightspeed sale {sale.invoice_number or sale.id} {waiting}")
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
    if any(returned) and not all(returned):
        problems.add(
            "mixed_return",
            "the sale both returns and sells goods; salesync reads a return and a new sale "
            "as two sales",
            "sale.line_items",
        )
    location = problems.location(context, sale.outlet_id, "sale.outlet_id")
    if any(returned) and all(returned):
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
        payments=_payments(record, 1),
        tip=total(tips, record.currency) if tips else None,
        declared_total=_money(record, sale.total_price + sale.total_tax),
        customer_id=customer_ref(sale.customer_id),
        associate=sale.user_id,
        number=sale.invoice_number,
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
        payments=_payments(record, -1),
        reason=sale.note or None,
    )
