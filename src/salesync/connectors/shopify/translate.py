"""Stored Shopify records as salesync documents, customers and products.

Record types, by where they come from:

==================== ======================================================= ===========
record type          payload                                                 becomes
==================== ======================================================= ===========
``order``            a REST order (``orders/*`` webhooks)                    sale / skip
``order_refund``     ``{"refund_id", "order"}``: a refund with its REST order refund
``order_node``       a GraphQL ``Order`` node (sweep, history)               sale / skip
``order_node_refund`` ``{"refund_id", "order"}``: a refund with its order node refund
``refund``           a REST refund (``refunds/create``)                      skip
``customer``         a REST customer (``customers/*``)                       customer
``customer_node``    a GraphQL ``Customer`` node                             customer
``product``          ``{"variant_id", "product"}``: a REST product's variant product
``product_node``     ``{"variant_id", "product"}``: a ``Product`` node's variant product
``payout``           a ``ShopifyPaymentsPayout`` with its balance transactions payout
``app_uninstalled``  the ``app/uninstalled`` webhook's shop                  skip
==================== ======================================================= ===========

A refund is always read with its order: the refund alone does not say the order's
location, whether its prices include tax, or what shipping and tip it could give back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

import pydantic

from salesync.connectors.shopify.nodes import (
    CustomerNode,
    OrderNode,
    OrderNodeRefund,
    ProductNodeVariant,
    node_order,
)
from salesync.connectors.shopify.payouts import PayoutRecord, payout_from
from salesync.connectors.shopify.problems import from_pydantic, refused
from salesync.connectors.shopify.refunds import refund_from
from salesync.connectors.shopify.rest import (
    RestCustomer,
    RestOrder,
    RestOrderRefund,
    RestProductVariant,
    rest_order,
)
from salesync.connectors.shopify.sales import amounts, sale_from
from salesync.connectors.source import Skip, SourceContext, Translated
from salesync.domain.documents import Customer, Product
from salesync.domain.validation import Problem

Model = TypeVar("Model", bound=pydantic.BaseModel)
Reader = Callable[[Any, SourceContext], Translated]


def _label(data: Any, record_type: str) -> str:
    if isinstance(data, dict):
        inner = data.get("order") or data.get("product") or data
        if isinstance(inner, dict):
            known = inner.get("name") or inner.get("legacyResourceId") or inner.get("id")
            if known is not None:
                return f"Shopify {record_type} {known}"
    return f"a Shopify {record_type} record"


def _parse(model: type[Model], data: Any, record_type: str) -> Model:
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise refused(_label(data, record_type), from_pydantic(exc)) from None


def customer(
    customer_id: str,
    *,
    first: str | None,
    last: str | None,
    email: str | None,
    phone: str | None,
    context: SourceContext,
) -> Customer:
    name = " ".join(p for p in (first, last) if p) or email or phone
    return Customer(
        id=f"shopify:{customer_id}",
        tenant_id=context.tenant_id,
        name=name or f"Shopify customer {customer_id}",
        email=email or None,
        phone=phone or None,
    )


def product(
    product_id: str,
    *,
    title: str,
    product_type: str,
    variants: dict[str, tuple[str, str | None, Decimal, bool]],
    variant_id: str,
    context: SourceContext,
) -> Product:
    """The salesync product of one variant (title, sku, price, taxable) of a product."""
    what = f"variant {variant_id} of product {product_id}"
    problems = []
    currency = context.settings.get("currency")
    if not isinstance(currency, str) or not currency:
        problems.append(
            Problem(
                "unknown_currency",
                "Shopify states product prices without a currency; set the connection's "
                "currency setting to the shop's currency (such as USD)",
                "settings.currency",
            )
        )
    variant = variants.get(variant_id)
    if variant is None:
        problems.append(Problem("unknown_variant", "the product does not list it", "variant_id"))
    if problems or variant is None or not isinstance(currency, str):
        raise refused(what, problems)
    variant_title, sku, price, taxable = variant
    plain = variant_title in ("", "Default Title")
    return Product(
        id=f"shopify:{variant_id}",
        tenant_id=context.tenant_id,
        sku=sku or f"shopify-variant-{variant_id}",
        name=title if plain else f"{title} - {variant_title}",
        category=product_type,
        price=amounts(currency, what)(price),
        taxable=taxable,
    )


def _order(data: Any, context: SourceContext) -> Translated:
    return sale_from(rest_order(_parse(RestOrder, data, "order")), context)


def _order_node(data: Any, context: SourceContext) -> Translated:
    return sale_from(node_order(_parse(OrderNode, data, "order")), context)


def _order_refund(data: Any, context: SourceContext) -> Translated:
    found = _parse(RestOrderRefund, data, "refund")
    return refund_from(rest_order(found.order), str(found.refund_id), context)


def _order_node_refund(data: Any, context: SourceContext) -> Translated:
    found = _parse(OrderNodeRefund, data, "refund")
    return refund_from(node_order(found.order), found.refund_id, context)


def _refund(data: Any, context: SourceContext) -> Translated:
    known = data.get("id") if isinstance(data, dict) else None
    return Skip(
        f"refund {known or '(no id)'} is booked from its order: Shopify's refund webhook "
        "does not carry the order's location, taxes or shipping, and the order's update "
        "(orders/updated, or the next sweep) does"
    )


def _customer(data: Any, context: SourceContext) -> Translated:
    c = _parse(RestCustomer, data, "customer")
    return customer(
        str(c.id),
        first=c.first_name,
        last=c.last_name,
        email=c.email,
        phone=c.phone,
        context=context,
    )


def _customer_node(data: Any, context: SourceContext) -> Translated:
    c = _parse(CustomerNode, data, "customer")
    return customer(
        c.legacy_resource_id,
        first=c.first_name,
        last=c.last_name,
        email=c.email,
        phone=c.phone,
        context=context,
    )


def _product(data: Any, context: SourceContext) -> Translated:
    found = _parse(RestProductVariant, data, "product")
    p = found.product
    variants = {str(v.id): (v.title, v.sku, v.price, v.taxable) for v in p.variants}
    return product(
        str(p.id),
        title=p.title,
        product_type=p.product_type,
        variants=variants,
        variant_id=str(found.variant_id),
        context=context,
    )


def _product_node(data: Any, context: SourceContext) -> Translated:
    found = _parse(ProductNodeVariant, data, "product")
    p = found.product
    variants = {
        v.legacy_resource_id: (v.title, v.sku, v.price, v.taxable) for v in p.variants.nodes
    }
    return product(
        p.legacy_resource_id,
        title=p.title,
        product_type=p.product_type,
        variants=variants,
        variant_id=found.variant_id,
        context=context,
    )


def _payout(data: Any, context: SourceContext) -> Translated:
    return payout_from(_parse(PayoutRecord, data, "payout"), context)


def _app_uninstalled(data: Any, context: SourceContext) -> Translated:
    shop = (data.get("myshopify_domain") or data.get("domain")) if isinstance(data, dict) else None
    return Skip(
        f"the salesync app was uninstalled from {shop or 'the Shopify store'}: salesync "
        "can no longer read it; reconnect the store to resume syncing"
    )


READERS: dict[str, Reader] = {
    "order": _order,
    "order_refund": _order_refund,
    "order_node": _order_node,
    "order_node_refund": _order_node_refund,
    "refund": _refund,
    "customer": _customer,
    "customer_node": _customer_node,
    "product": _product,
    "product_node": _product_node,
    "payout": _payout,
    "app_uninstalled": _app_uninstalled,
}


def translate(record_type: str, payload: str, context: SourceContext) -> Translated:
    """The document, customer, product or skip a stored Shopify record stands for;
    ``ValidationError`` with every problem when it cannot be read."""
    reader = READERS.get(record_type)
    if reader is None:
        known = ", ".join(sorted(READERS))
        problem = Problem(
            "unknown_record_type", f"Shopify records are one of {known}", "record_type"
        )
        raise refused(f"a Shopify {record_type!r} record", [problem])
    try:
        # Decimals, not floats: tax rates are written as JSON numbers.
        data = json.loads(payload, parse_float=Decimal)
    except ValueError as exc:
        problem = Problem("malformed_json", f"the payload is not JSON ({exc})", "")
        raise refused(f"a Shopify {record_type} record", [problem]) from None
    return reader(data, context)
