"""R-Series records as salesync documents, customers and products.

Record types:

- ``sale``: a sale with its lines, payments and tax category, and for a return the sale
  each returned line came from. A completed sale of positive lines is a ``Sale``; a
  completed sale of negative lines (a return, each line naming the line it gives back by
  ``parentSaleLineID``) is a ``Refund`` of that sale; an open, voided or archived sale is
  skipped with the reason;
- ``sale_return``: the same envelope for an exchange (a sale of both): its ``sale``
  record is the goods bought, this one the ``Refund`` of the goods given back;
- ``customer``: a customer with its contact, listed as ``lightspeed_r:<customerID>``;
- ``item``: an item with its category and default price, listed as a product
  ``lightspeed_r:<itemID>`` under its custom SKU (the system SKU when it has none).

Translation reads nothing but the record, so replaying one always gives the same result.
"""

from __future__ import annotations

from salesync.connectors.lightspeed_r.payloads import LsCustomer, LsItem, SaleRecord
from salesync.connectors.lightspeed_r.problems import PROVIDER, parse, refused
from salesync.connectors.lightspeed_r.sales import currency_of, refund_of, sale_of
from salesync.connectors.source import Skip, SourceContext, Translated
from salesync.domain.documents import Customer, Product
from salesync.domain.money import Money
from salesync.domain.validation import Problem

SALE = "sale"
SALE_RETURN = "sale_return"
CUSTOMER = "customer"
ITEM = "item"
RECORD_TYPES = (SALE, SALE_RETURN, CUSTOMER, ITEM)


def translate(record_type: str, payload: str, context: SourceContext) -> Translated:
    """The domain object a Lightspeed record stands for, or a skip saying why there is none."""
    if record_type in (SALE, SALE_RETURN):
        record = parse(SaleRecord, record_type, payload)
        sale = record.sale
        if sale.voided:
            return Skip(f"Lightspeed sale {sale.saleID} was voided: nothing was sold")
        if not sale.completed:
            state = "archived unfinished" if sale.archived else "still open at the register"
            return Skip(f"Lightspeed sale {sale.saleID} is {state}: it is taken once completed")
        if not sale.SaleLines:
            return Skip(f"Lightspeed sale {sale.saleID} has no lines")
        if record_type == SALE_RETURN or all(line.unitQuantity < 0 for line in sale.SaleLines):
            return refund_of(record, context)
        return sale_of(record, context)
    if record_type == CUSTOMER:
        return customer_of(parse(LsCustomer, record_type, payload), context)
    if record_type == ITEM:
        return product_of(parse(LsItem, record_type, payload), context)
    problem = Problem(
        "unknown_record_type",
        f"{record_type!r} is not a Lightspeed record type ({', '.join(RECORD_TYPES)})",
        "record_type",
    )
    raise refused(record_type, [problem])


def customer_of(customer: LsCustomer, context: SourceContext) -> Customer:
    contact = customer.Contact
    email = next((e.address for e in contact.Emails if e.address), None) if contact else None
    phone = next((p.number for p in contact.Phones if p.number), None) if contact else None
    person = " ".join(n for n in (customer.firstName, customer.lastName) if n)
    name = (
        person or customer.company or email or phone or f"Lightspeed customer {customer.customerID}"
    )
    return Customer(
        id=f"{PROVIDER}:{customer.customerID}",
        tenant_id=context.tenant_id,
        name=name,
        email=email,
        phone=phone,
    )


def product_of(item: LsItem, context: SourceContext) -> Product | Skip:
    if item.archived:
        return Skip(f"Lightspeed item {item.itemID} is archived")
    currency = currency_of(context, "currency")
    price = next((p.amount for p in item.Prices if p.useType == "Default"), None)
    return Product(
        id=f"{PROVIDER}:{item.itemID}",
        tenant_id=context.tenant_id,
        sku=item.sku,
        name=item.description or item.sku,
        category=item.category,
        # An item without a default price is priced at the register; it is listed at zero.
        price=Money.of(price if price is not None else 0, currency),
        taxable=item.tax,
    )
