"""X-Series records as salesync's documents, customers and products."""

from __future__ import annotations

from salesync.connectors.lightspeed_x.errors import PROVIDER
from salesync.connectors.lightspeed_x.payloads import (
    LightspeedCustomer,
    ProductRecord,
    RegisterClosure,
    SaleRecord,
)
from salesync.connectors.lightspeed_x.problems import parse, refused
from salesync.connectors.lightspeed_x.sales import SALE, SALE_RETURN, sale_or_refund
from salesync.connectors.source import Skip, SourceContext, Translated
from salesync.domain.documents import Customer, Product
from salesync.domain.money import Money
from salesync.domain.validation import Problem

CUSTOMER = "customer"
PRODUCT = "product"
REGISTER_CLOSURE = "register_closure"
RECORD_TYPES = (SALE, SALE_RETURN, CUSTOMER, PRODUCT, REGISTER_CLOSURE)


def translate(record_type: str, payload: str, context: SourceContext) -> Translated:
    """The domain object an X-Series record stands for, or a skip saying why there is none."""
    if record_type in (SALE, SALE_RETURN):
        record = parse(SaleRecord, record_type, payload)
        return sale_or_refund(record, context, given_back=record_type == SALE_RETURN)
    if record_type == CUSTOMER:
        return customer_of(parse(LightspeedCustomer, record_type, payload), context)
    if record_type == PRODUCT:
        return product_of(parse(ProductRecord, record_type, payload), context)
    if record_type == REGISTER_CLOSURE:
        closure = parse(RegisterClosure, record_type, payload)
        return Skip(
            f"register closure {closure.id} counts the till; the sales it covers post one by one"
        )
    problem = Problem(
        "unknown_record_type",
        f"{record_type!r} is not a Lightspeed record type ({', '.join(RECORD_TYPES)})",
        "record_type",
    )
    raise refused(record_type, [problem])


def customer_of(customer: LightspeedCustomer, context: SourceContext) -> Customer:
    person = " ".join(n for n in (customer.first_name, customer.last_name) if n)
    name = (
        person
        or customer.name
        or customer.email
        or customer.customer_code
        or f"Lightspeed customer {customer.id}"
    )
    return Customer(
        id=f"{PROVIDER}:{customer.id}",
        tenant_id=context.tenant_id,
        name=name,
        email=customer.email or None,
        phone=customer.phone or customer.mobile or None,
    )


def product_of(record: ProductRecord, context: SourceContext) -> Product | Skip:
    product = record.product
    if product.deleted_at or not product.is_active:
        return Skip(f"Lightspeed product {product.sku or product.id} is no longer sold")
    tax = record.taxes.get(product.tax_id or "")
    return Product(
        id=f"{PROVIDER}:{product.id}",
        tenant_id=context.tenant_id,
        sku=product.sku or product.id,
        name=product.name or product.sku or product.id,
        category=product.product_type.name if product.product_type else "",
        price=Money(product.price_excluding_tax, record.currency),
        taxable=tax is not None and tax.rate > 0,
    )
