"""Square orders as sales and refunds.

Everything at Square is an order (https://developer.squareup.com/blog/everything-is-an-order):
a sale is an order with line items and tenders; a return is a separate order whose
``returns`` name the sale (``source_order_id``) and whose ``refunds`` give money back; an
exchange is one order holding both a return and new line items
(https://developer.squareup.com/docs/orders-api/order-returns-exchanges).

salesync keeps them apart the way the books do: an order's line items become a ``Sale``
(read from its ``order`` record) and its returns a ``Refund`` linked to the returned sale
(read from its ``order_return`` record), so an exchange is both. Only the difference of an
exchange changes hands; the value of the returned goods pays for the new ones. That value
is booked as an ``exchange`` tender on both documents, credited by the refund and debited
by the sale, so its clearing account nets to zero and each document still adds up.

Square spreads every discount, order-wide ones included, over the lines it applies to
(``applied_discounts``), and every tax likewise (``applied_taxes``): salesync keeps them on
the lines as Square computed them rather than recomputing.
"""

from __future__ import annotations

from salesync.connectors.source import Skip, SourceContext
from salesync.connectors.square.payloads import (
    AppliedTax,
    CatalogFacts,
    LineItem,
    Order,
    OrderRecord,
    OrderTax,
    SquareMoney,
    Tender,
)
from salesync.connectors.square.problems import PROVIDER, Problems
from salesync.domain.documents import (
    EXCHANGE_TENDER,
    Charge,
    Discount,
    DocumentKind,
    LineKind,
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

CUSTOM_AMOUNT = "CUSTOM_AMOUNT"
"""The SKU of a line keyed in as an amount, with no catalog item (Square's item type)."""
TENDERS = {
    "CARD": "card",
    "CASH": "cash",
    "SQUARE_GIFT_CARD": "gift_card",
    "THIRD_PARTY_CARD": "third_party_card",
}
"""Square's tender types as salesync's tender names; others are lower-cased."""
NOT_REFUNDED = frozenset({"REJECTED", "FAILED"})
UNFINISHED = {
    "OPEN": "is open: it has not been paid and completed yet",
    "DRAFT": "is a draft: it was never placed",
    "CANCELED": "was canceled: nothing was sold",
}


def unfinished(order: Order) -> Skip | None:
    """Why an order that is not completed carries nothing to post, or None."""
    if order.state == "COMPLETED":
        return None
    why = UNFINISHED.get(order.state, f"is in state {order.state}, not COMPLETED")
    return Skip(f"Square order {order.id} {why}")


def tender_name(square_type: str) -> str:
    return TENDERS.get(square_type, square_type.lower())


def customer_ref(customer_id: str | None) -> str | None:
    return f"square:{customer_id}" if customer_id else None


def _tax_mode(taxes: tuple[OrderTax, ...], path: str, problems: Problems) -> TaxMode:
    kinds = {t.type for t in taxes}
    unknown = sorted(kinds - {"ADDITIVE", "INCLUSIVE"})
    if unknown:
        problems.add(
            "unknown_tax_type",
            f"tax type {', '.join(unknown)} is neither ADDITIVE nor INCLUSIVE",
            path,
        )
    if kinds == {"INCLUSIVE"}:
        return TaxMode.INCLUSIVE
    if {"ADDITIVE", "INCLUSIVE"} <= kinds:
        problems.add(
            "mixed_tax_inclusion",
            "the order has both added and included taxes; salesync books one tax mode "
            "per document, so post it by hand",
            path,
        )
    return TaxMode.EXCLUSIVE


class _Taxes:
    """An order's (or a return's) taxes by uid, turning applied amounts into tax lines."""

    def __init__(self, taxes: tuple[OrderTax, ...], problems: Problems) -> None:
        self.by_uid = {t.uid: t for t in taxes}
        self.problems = problems

    def lines(self, applied: tuple[AppliedTax, ...], path: str) -> tuple[TaxLine, ...]:
        out: list[TaxLine] = []
        for i, entry in enumerate(applied):
            tax = self.by_uid.get(entry.tax_uid)
            where = f"{path}.applied_taxes[{i}]"
            if tax is None:
                self.problems.add(
                    "unknown_tax", f"applies tax {entry.tax_uid}, which the order lacks", where
                )
                continue
            if tax.percentage is None:
                self.problems.add("tax_without_rate", f"tax {tax.name!r} has no percentage", where)
                continue
            out.append(TaxLine(tax.name, tax.percentage / 100, entry.applied_money.money()))
        return tuple(out)


def _describe(line: LineItem, facts: CatalogFacts | None) -> tuple[str, str, str]:
    """The SKU, name and category of a line, from the catalog where it names an item."""
    name = line.name or (facts.item if facts else "") or "Item"
    if line.variation_name and line.variation_name not in (name, "Regular"):
        name = f"{name} ({line.variation_name})"
    if facts is not None:
        return facts.sku, name, facts.category
    # A variation no longer in the catalog keeps its id as the SKU, so its sale and any
    # later return of it still name the same thing.
    return line.catalog_object_id or CUSTOM_AMOUNT, name, ""


def _kind(line: LineItem) -> LineKind:
    return LineKind.GIFT_CARD if line.item_type == "GIFT_CARD" else LineKind.PRODUCT


def _line_gross(line: LineItem) -> Money:
    if line.gross_sales_money is not None:
        return line.gross_sales_money.money()
    return (line.base_price_money.money() * line.quantity).rounded()


def _money_or_zero(amount: SquareMoney | None, order: Order) -> Money:
    return amount.money() if amount is not None else Money.zero(order.total_money.currency)


def _payment(tender: Tender, amount: Money, reference: str) -> Payment:
    return Payment(tender_name(tender.type), amount, tender.card_brand, reference)


def exchange_credit(order: Order) -> Money | None:
    """The value of an exchange's returned goods kept to pay for its new ones: what was
    returned less what was refunded; None for an order that is not an exchange."""
    if not (order.line_items and order.returns):
        return None
    currency = order.total_money.currency
    returned = order.return_amounts.total_money if order.return_amounts else None
    if returned is not None:
        value = returned.money()
    else:
        lines = [li for r in order.returns for li in r.return_line_items]
        value = total((_money_or_zero(li.total_money, order) for li in lines), currency)
    refunded = total(
        (r.amount_money.money() for r in order.refunds if r.status not in NOT_REFUNDED), currency
    )
    credit = value - refunded
    return credit if credit.amount > 0 else None


def sale_of(record: OrderRecord, context: SourceContext) -> Sale | Skip:
    """The sale an ``order`` record holds: its line items, as paid with its tenders."""
    order = record.order
    skipped = unfinished(order)
    if skipped is not None:
        return skipped
    if not order.line_items:
        return Skip(
            f"Square order {order.id} only returns goods; its refund is read from its "
            "order_return record"
        )
    problems = Problems("order")
    location = problems.location(context, order.location_id, "order.location_id")
    mode = _tax_mode(order.taxes, "order.taxes", problems)
    taxes = _Taxes(order.taxes, problems)
    discounts = {d.uid: d.name for d in order.discounts}
    lines: list[SaleLine] = []
    for i, line in enumerate(order.line_items):
        path = f"order.line_items[{i}]"
        sku, name, category = _describe(line, record.catalog.get(line.catalog_object_id or ""))
        applied: list[Discount] = []
        for j, entry in enumerate(line.applied_discounts):
            if entry.discount_uid not in discounts:
                problems.add(
                    "unknown_discount",
                    f"applies discount {entry.discount_uid}, which the order lacks",
                    f"{path}.applied_discounts[{j}]",
                )
                continue
            applied.append(Discount(discounts[entry.discount_uid], entry.applied_money.money()))
        lines.append(
            SaleLine(
                sku=sku,
                name=name,
                category=category,
                quantity=line.quantity,
                unit_price=line.base_price_money.money(),
                discounts=tuple(applied),
                taxes=taxes.lines(line.applied_taxes, path),
                kind=_kind(line),
            )
        )
    charges = tuple(
        Charge(
            charge.name,
            _money_or_zero(charge.applied_money or charge.total_money, order),
            taxes.lines(charge.applied_taxes, f"order.service_charges[{i}]"),
        )
        for i, charge in enumerate(order.service_charges)
    )
    payments = [_payment(t, t.amount_money.money(), t.id) for t in order.tenders]
    credit = exchange_credit(order)
    if credit is not None:
        payments.append(Payment(EXCHANGE_TENDER, credit, reference=order.id))
    tip = order.total_tip_money.money() if order.total_tip_money else None
    problems.check()
    return Sale(
        id=document_id(context.tenant_id, PROVIDER, DocumentKind.SALE, order.id),
        tenant_id=context.tenant_id,
        location_id=location,
        source=PROVIDER,
        external_id=order.id,
        occurred_at=order.completed_at,
        currency=order.total_money.currency,
        tax_mode=mode,
        lines=tuple(lines),
        payments=tuple(p for p in payments if p.amount.amount != 0),
        service_charges=charges,
        tip=tip if tip is not None and tip.amount else None,
        declared_total=order.total_money.money(),
        customer_id=customer_ref(order.customer_id),
        number=order.reference_id,
        source_updated_at=order.updated_at,
    )


def _source_order(order: Order, problems: Problems) -> str:
    sources = [r.source_order_id for r in order.returns]
    for i, source in enumerate(sources):
        if not source:
            problems.add(
                "unlinked_return",
                "Square recorded this return without the sale it came from; salesync links "
                "every refund to its sale, so enter it as a refund of that sale by hand",
                f"order.returns[{i}].source_order_id",
            )
    linked = sorted({s for s in sources if s})
    if len(linked) > 1:
        problems.add(
            "returns_from_several_sales",
            f"one order returns goods from {len(linked)} sales ({', '.join(linked)}); "
            "salesync links a refund to one sale",
            "order.returns",
        )
    return linked[0] if linked else ""


def refund_of(record: OrderRecord, context: SourceContext) -> Refund | Skip:
    """The refund an ``order_return`` record holds: its returns, linked to the sale they
    came from, paid back through the refunded tenders."""
    order = record.order
    skipped = unfinished(order)
    if skipped is not None:
        return skipped
    if not order.returns:
        return Skip(f"Square order {order.id} returns nothing")
    problems = Problems("order_return")
    location = problems.location(context, order.location_id, "order.location_id")
    source = _source_order(order, problems)
    all_taxes = tuple(t for r in order.returns for t in r.return_taxes)
    mode = _tax_mode(all_taxes, "order.returns", problems)
    taxes = _Taxes(all_taxes, problems)
    lines: list[RefundLine] = []
    for i, returned in enumerate(order.returns):
        for j, line in enumerate(returned.return_line_items):
            path = f"order.returns[{i}].return_line_items[{j}]"
            sku, _, category = _describe(line, record.catalog.get(line.catalog_object_id or ""))
            # The refunded price as the sale stated it: after discounts, before added tax
            # (with it, when the tax was included in the price).
            amount = _line_gross(line) - _money_or_zero(line.total_discount_money, order)
            lines.append(
                RefundLine(
                    sku=sku,
                    quantity=line.quantity,
                    amount=amount,
                    category=category,
                    taxes=taxes.lines(line.applied_taxes, path),
                    kind=_kind(line),
                )
            )
    payments: list[Payment] = []
    for i, refund in enumerate(order.refunds):
        if refund.status in NOT_REFUNDED:
            continue
        tender = record.source_tenders.get(refund.tender_id)
        if tender is None:
            problems.add(
                "refunded_tender_unknown",
                f"refunds tender {refund.tender_id}, which was not read with the order; "
                "sweep Square again to read it",
                f"order.refunds[{i}].tender_id",
            )
            continue
        payments.append(_payment(tender, refund.amount_money.money(), refund.id))
    credit = exchange_credit(order)
    if credit is not None:
        payments.append(Payment(EXCHANGE_TENDER, credit, reference=order.id))
    problems.check()
    reasons = [r.reason for r in order.refunds if r.reason]
    return Refund(
        id=document_id(context.tenant_id, PROVIDER, DocumentKind.REFUND, order.id),
        tenant_id=context.tenant_id,
        location_id=location,
        source=PROVIDER,
        external_id=order.id,
        sale_id=document_id(context.tenant_id, PROVIDER, DocumentKind.SALE, source),
        occurred_at=order.completed_at,
        currency=order.total_money.currency,
        tax_mode=mode,
        lines=tuple(lines),
        payments=tuple(payments),
        reason=reasons[0] if reasons else None,
        source_updated_at=order.updated_at,
    )
