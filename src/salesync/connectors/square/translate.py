"""Square records as salesync documents, customers and products.

Record types:

- ``order``: a Square order with its lines' catalog facts; a completed order's line items
  are a ``Sale`` (see ``orders.py``), an open, draft or canceled one is skipped;
- ``order_return``: the same for an order holding returns, with the tenders it refunds;
  its returns are a ``Refund`` of the sale they came from;
- ``customer``: a Square customer, listed as ``square:<id>``;
- ``item_variation``: one sellable variation of a catalog item, listed as a product
  ``square:<variation id>`` under its SKU;
- ``payout``: a payout with its entries and the orders they settle, a ``Payout`` whose
  transactions name those orders.

Translation reads nothing but the record, so replaying one always gives the same result.
"""

from __future__ import annotations

from salesync.connectors.source import Skip, SourceContext, Translated
from salesync.connectors.square.orders import refund_of, sale_of
from salesync.connectors.square.payloads import (
    OrderRecord,
    PayoutRecord,
    SquareCustomer,
    VariationRecord,
)
from salesync.connectors.square.problems import PROVIDER, Problems, parse, refused
from salesync.domain.documents import (
    Customer,
    DocumentKind,
    Payout,
    PayoutTransaction,
    Product,
    document_id,
)
from salesync.domain.money import total
from salesync.domain.validation import Problem

ORDER = "order"
ORDER_RETURN = "order_return"
CUSTOMER = "customer"
ITEM_VARIATION = "item_variation"
PAYOUT = "payout"
RECORD_TYPES = (ORDER, ORDER_RETURN, CUSTOMER, ITEM_VARIATION, PAYOUT)


def translate(record_type: str, payload: str, context: SourceContext) -> Translated:
    """The domain object a Square record stands for, or a skip saying why there is none."""
    if record_type == ORDER:
        return sale_of(parse(OrderRecord, record_type, payload), context)
    if record_type == ORDER_RETURN:
        return refund_of(parse(OrderRecord, record_type, payload), context)
    if record_type == CUSTOMER:
        return customer_of(parse(SquareCustomer, record_type, payload), context)
    if record_type == ITEM_VARIATION:
        return product_of(parse(VariationRecord, record_type, payload), context)
    if record_type == PAYOUT:
        return payout_of(parse(PayoutRecord, record_type, payload), context)
    problem = Problem(
        "unknown_record_type",
        f"{record_type!r} is not a Square record type ({', '.join(RECORD_TYPES)})",
        "record_type",
    )
    raise refused(record_type, [problem])


def customer_of(customer: SquareCustomer, context: SourceContext) -> Customer:
    person = " ".join(n for n in (customer.given_name, customer.family_name) if n)
    name = (
        person
        or customer.company_name
        or customer.nickname
        or customer.email_address
        or customer.phone_number
        or f"Square customer {customer.id}"
    )
    return Customer(
        id=f"square:{customer.id}",
        tenant_id=context.tenant_id,
        name=name,
        email=customer.email_address or None,
        phone=customer.phone_number or None,
    )


def product_of(record: VariationRecord, context: SourceContext) -> Product | Skip:
    item, variation = record.item, record.variation
    if item.is_deleted or variation.is_deleted:
        return Skip(f"Square catalog variation {variation.id} was deleted")
    data = variation.item_variation_data
    name = item.item_data.name or data.name or variation.id
    if data.name and data.name not in (name, "Regular"):
        name = f"{name} ({data.name})"
    price = data.price_money.money() if data.price_money else None
    return Product(
        id=f"square:{variation.id}",
        tenant_id=context.tenant_id,
        sku=data.sku or variation.id,
        name=name,
        category=record.category,
        # A variable-priced variation is priced at the till; it is listed at zero.
        price=price if price is not None else total((), record.currency),
        taxable=bool(item.item_data.tax_ids),
    )


def payout_of(record: PayoutRecord, context: SourceContext) -> Payout:
    """A payout: card charges and refunds are the transactions it settles (naming the
    orders they belong to); a ``RETURNED_PAYOUT`` entry is the money of an earlier failed
    payout paid out again; any other entry (a fee, a hold, an adjustment) adds to its
    adjustments, so gross - fees + adjustments + returned is the deposit.

    A ``FAILED`` payout never reached the bank, but what it settled and the fees on it
    stand: it is a payout that failed, and its money waits in the clearing account for the
    payout that pays it out again. One read as ``SENT`` or ``PAID`` and posted before
    comes again as a new version once it fails, and is adjusted."""
    payout = record.payout
    problems = Problems(PAYOUT)
    location = problems.location(context, payout.location_id, "payout.location_id")
    currency = payout.amount_money.currency
    transactions: list[PayoutTransaction] = []
    adjustments = returned = total((), currency)
    for i, entry in enumerate(record.entries):
        path = f"entries[{i}]"
        if entry.type == "CHARGE" and entry.type_charge_details is not None:
            paid_by, kind = entry.type_charge_details.payment_id, "charge"
        elif entry.type == "REFUND" and entry.type_refund_details is not None:
            paid_by, kind = entry.type_refund_details.refund_id, "refund"
        elif entry.type == "RETURNED_PAYOUT":
            returned = returned + entry.net_amount_money.money()
            continue
        else:
            adjustments = adjustments + entry.net_amount_money.money()
            continue
        order_id = record.orders.get(paid_by)
        if order_id is None:
            problems.add(
                "payout_entry_without_order",
                f"{entry.type.lower()} {paid_by} was not matched to its Square order; "
                "sweep payouts again to read it",
                path,
            )
            continue
        transactions.append(
            PayoutTransaction(
                order_id,
                kind,
                entry.gross_amount_money.money(),
                entry.fee_amount_money.money(),
            )
        )
    problems.check()
    return Payout(
        id=document_id(context.tenant_id, PROVIDER, DocumentKind.PAYOUT, payout.id),
        tenant_id=context.tenant_id,
        location_id=location,
        source=PROVIDER,
        external_id=payout.id,
        occurred_at=payout.created_at,
        currency=currency,
        gross=total((t.gross for t in transactions), currency),
        fees=total((t.fee for t in transactions), currency),
        net=payout.amount_money.money(),
        adjustments=adjustments if adjustments.amount else None,
        transactions=tuple(transactions),
        # A failed payout's last change is its failure
        # (https://developer.squareup.com/reference/square/objects/Payout).
        failed_at=(payout.updated_at or payout.created_at) if payout.status == "FAILED" else None,
        returned=returned if returned.amount else None,
        source_updated_at=payout.updated_at,
    )
