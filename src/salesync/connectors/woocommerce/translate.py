"""WooCommerce records as salesync documents, customers and products.

Record types:

- ``order``: an order as the REST API (or a webhook) gives it: a ``Sale`` when it was
  paid, else a skip saying why (see ``orders.py``);
- ``order_refund``: ``{"refund": ..., "order": ...}``, a ``Refund`` of the order's sale;
- ``customer``: a customer, listed as ``woocommerce:<id>``;
- ``product``: a product, listed as ``woocommerce:<id>`` under its SKU, priced in the
  connection's ``currency`` (products do not state one);
- ``order_deleted``: an ``order.deleted`` delivery (``{"id": N}``), skipped: a trashed
  order was never paid, or its refunds already reverse it.

Translation reads nothing but the record, so replaying one always gives the same result.
"""

from __future__ import annotations

from salesync.connectors.source import Skip, SourceContext, Translated
from salesync.connectors.woocommerce.orders import refund_of, sale_of
from salesync.connectors.woocommerce.payloads import (
    Order,
    RefundRecord,
    WooCustomer,
    WooProduct,
)
from salesync.connectors.woocommerce.problems import parse, refused
from salesync.domain.documents import Customer, Product
from salesync.domain.money import Money
from salesync.domain.validation import Problem

ORDER = "order"
ORDER_REFUND = "order_refund"
ORDER_DELETED = "order_deleted"
CUSTOMER = "customer"
PRODUCT = "product"
RECORD_TYPES = (ORDER, ORDER_REFUND, ORDER_DELETED, CUSTOMER, PRODUCT)


def translate(record_type: str, payload: str, context: SourceContext) -> Translated:
    """The domain object a WooCommerce record stands for, or a skip saying why none."""
    if record_type == ORDER:
        return sale_of(parse(Order, record_type, payload), context)
    if record_type == ORDER_REFUND:
        return refund_of(parse(RefundRecord, record_type, payload), context)
    if record_type == ORDER_DELETED:
        return Skip("a WooCommerce order was moved to the trash; nothing to post")
    if record_type == CUSTOMER:
        return customer_of(parse(WooCustomer, record_type, payload), context)
    if record_type == PRODUCT:
        return product_of(parse(WooProduct, record_type, payload), context)
    problem = Problem(
        "unknown_record_type",
        f"{record_type!r} is not a WooCommerce record type ({', '.join(RECORD_TYPES)})",
        "record_type",
    )
    raise refused(record_type, [problem])


def customer_of(customer: WooCustomer, context: SourceContext) -> Customer:
    person = " ".join(n for n in (customer.first_name, customer.last_name) if n)
    email = customer.email or customer.billing.email
    return Customer(
        id=f"woocommerce:{customer.id}",
        tenant_id=context.tenant_id,
        name=person or customer.username or email or f"WooCommerce customer {customer.id}",
        email=email or None,
        phone=customer.billing.phone or None,
    )


def product_of(product: WooProduct, context: SourceContext) -> Product | Skip:
    if product.status == "trash":
        return Skip(f"WooCommerce product {product.id} is in the trash")
    currency = context.settings.get("currency")
    if not isinstance(currency, str) or len(currency) != 3:
        problem = Problem(
            "missing_setting", "set the shop's currency (e.g. USD) in the connection", "currency"
        )
        raise refused(PRODUCT, [problem])
    return Product(
        id=f"woocommerce:{product.id}",
        tenant_id=context.tenant_id,
        sku=product.sku or f"woocommerce-product-{product.id}",
        name=product.name or f"Product {product.id}",
        category=product.categories[0].name if product.categories else "",
        price=Money(product.price, currency),
        taxable=product.tax_status == "taxable",
    )
