"""Clover records as salesync documents, customers and products.

Record types:

- ``order``: an order with its line items, discounts, service charge, payments and
  refunds expanded, and the inventory facts of its items; a paid, locked order is a
  ``Sale`` (see ``orders.py``), any other is skipped;
- ``refund``: one refund of an order, with the order; a ``Refund`` of that order's sale;
- ``customer``: a Clover customer, listed as ``clover:<id>``;
- ``item``: an inventory item, listed as a product ``clover:<id>`` under its SKU;
- ``notification``: one update a webhook named (``O:<id>`` and the like); it carries no
  content, so it is skipped here and the client fetches the object it names.

Translation reads nothing but the record, so replaying one always gives the same result.
"""

from __future__ import annotations

from salesync.connectors.clover.orders import refund_of, sale_of
from salesync.connectors.clover.payloads import (
    CustomerRecord,
    ItemRecord,
    Notification,
    OrderRecord,
    RefundRecord,
    instant,
)
from salesync.connectors.clover.problems import parse, refused
from salesync.connectors.source import Skip, SourceContext, Translated
from salesync.domain.documents import Customer, Product
from salesync.domain.money import Money
from salesync.domain.validation import Problem

ORDER = "order"
REFUND = "refund"
CUSTOMER = "customer"
ITEM = "item"
NOTIFICATION = "notification"
RECORD_TYPES = (ORDER, REFUND, CUSTOMER, ITEM, NOTIFICATION)
OBJECT_KINDS = {"O": "order", "C": "customer", "I": "inventory item", "P": "payment"}


def translate(record_type: str, payload: str, context: SourceContext) -> Translated:
    """The domain object a Clover record stands for, or a skip saying why there is none."""
    if record_type == ORDER:
        return sale_of(parse(OrderRecord, record_type, payload), context)
    if record_type == REFUND:
        return refund_of(parse(RefundRecord, record_type, payload), context)
    if record_type == CUSTOMER:
        return customer_of(parse(CustomerRecord, record_type, payload), context)
    if record_type == ITEM:
        return product_of(parse(ItemRecord, record_type, payload), context)
    if record_type == NOTIFICATION:
        return notification_of(parse(Notification, record_type, payload))
    problem = Problem(
        "unknown_record_type",
        f"{record_type!r} is not a Clover record type ({', '.join(RECORD_TYPES)})",
        "record_type",
    )
    raise refused(record_type, [problem])


def customer_of(record: CustomerRecord, context: SourceContext) -> Customer:
    customer = record.customer
    emails = [e.emailAddress for e in customer.emailAddresses.elements if e.emailAddress]
    phones = [p.phoneNumber for p in customer.phoneNumbers.elements if p.phoneNumber]
    person = " ".join(n for n in (customer.firstName, customer.lastName) if n)
    return Customer(
        id=f"clover:{customer.id}",
        tenant_id=context.tenant_id,
        name=person or (emails[0] if emails else "") or f"Clover customer {customer.id}",
        email=emails[0] if emails else None,
        phone=phones[0] if phones else None,
    )


def product_of(record: ItemRecord, context: SourceContext) -> Product | Skip:
    item = record.item
    if item.hidden:
        return Skip(f"Clover item {item.id} is hidden from the register")
    categories = [c.name for c in item.categories.elements if c.name]
    return Product(
        id=f"clover:{item.id}",
        tenant_id=context.tenant_id,
        sku=item.sku or item.id,
        name=item.name or item.sku or item.id,
        category=categories[0] if categories else "",
        # A variable-priced item is priced at the register; it is listed at its base price.
        price=Money.from_minor(item.price, record.currency),
        taxable=bool(item.taxRates.elements),
    )


def notification_of(note: Notification) -> Skip:
    prefix, _, object_id = note.objectId.partition(":")
    if note.type == "VERIFY":
        return Skip(
            f"Clover's webhook verification code is {object_id}: enter it on the app's "
            "Webhooks page in the Clover Developer Dashboard to start notifications"
        )
    kind = OBJECT_KINDS.get(prefix, f"{prefix!r} object")
    return Skip(
        f"Clover notified a {note.type.lower()} of {kind} {object_id or note.objectId} at "
        f"{instant(note.ts).isoformat()}; a notification carries no content, the "
        "object itself is fetched from Clover"
    )
