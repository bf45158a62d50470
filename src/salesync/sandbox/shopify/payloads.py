"""REST-shaped JSON of Shopify resources, as webhooks carry them (snake_case, money as strings).

Shapes follow the REST Admin API resources and the sample webhook payloads
(https://shopify.dev/docs/api/webhooks).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from salesync.sandbox.shopify.records import (
    DiscountApplication,
    LineItem,
    Order,
    Refund,
    ShippingLine,
    ShopifyCustomer,
    ShopifyProduct,
    TaxLine,
    Transaction,
    gid,
)

if TYPE_CHECKING:
    from salesync.sandbox.shopify.store import ShopifyStore

Json = dict[str, Any]


def timestamp(instant: datetime | None) -> str | None:
    """ISO 8601 with offset, as Shopify writes times."""
    return None if instant is None else instant.isoformat(timespec="seconds")


def amount(value: Decimal) -> str:
    return f"{value:.2f}"


def _money_set(value: Decimal, currency: str) -> Json:
    money = {"amount": amount(value), "currency_code": currency}
    return {"shop_money": money, "presentment_money": money}


def _tax_line(tax: TaxLine, currency: str) -> Json:
    return {
        "title": tax.title,
        "rate": float(tax.rate),
        "price": amount(tax.price),
        "price_set": _money_set(tax.price, currency),
        "channel_liable": False,
    }


def _line_item(item: LineItem, currency: str) -> Json:
    return {
        "id": item.id,
        "admin_graphql_api_id": gid("LineItem", item.id),
        "title": item.title,
        "name": item.title if not item.variant_title else f"{item.title} - {item.variant_title}",
        "variant_title": item.variant_title,
        "sku": item.sku,
        "product_id": item.product_id,
        "variant_id": item.variant_id,
        "quantity": item.quantity,
        "price": amount(item.price),
        "price_set": _money_set(item.price, currency),
        "total_discount": amount(item.total_discount),
        "taxable": item.taxable,
        "gift_card": item.is_gift_card,
        "requires_shipping": item.requires_shipping,
        "tax_lines": [_tax_line(t, currency) for t in item.tax_lines],
        "discount_allocations": [
            {
                "amount": amount(a.amount),
                "amount_set": _money_set(a.amount, currency),
                "discount_application_index": a.application_index,
            }
            for a in item.discount_allocations
        ],
    }


def _shipping_line(line: ShippingLine, currency: str) -> Json:
    return {
        "id": line.id,
        "title": line.title,
        "code": line.code,
        "source": "shopify",
        "price": amount(line.price),
        "price_set": _money_set(line.price, currency),
        "discounted_price": amount(line.price),
        "tax_lines": [_tax_line(t, currency) for t in line.tax_lines],
    }


def _discount_application(application: DiscountApplication) -> Json:
    body: Json = {
        "type": {"code": "discount_code", "manual": "manual", "automatic": "automatic"}[
            application.kind
        ],
        "title": application.title,
        "value": amount(application.value),
        "value_type": application.value_type,
        "allocation_method": application.allocation_method,
        "target_selection": application.target_selection,
        "target_type": application.target_type,
    }
    if application.code is not None:
        body["code"] = application.code
    return body


def transaction_json(txn: Transaction, order: Order) -> Json:
    body: Json = {
        "id": txn.id,
        "admin_graphql_api_id": gid("OrderTransaction", txn.id),
        "order_id": order.id,
        "kind": txn.kind.lower(),
        "gateway": txn.gateway,
        "status": txn.status.lower(),
        "amount": amount(txn.amount),
        "currency": order.currency,
        "processed_at": timestamp(txn.processed_at),
        "created_at": timestamp(txn.processed_at),
        "location_id": txn.location_id,
        "parent_id": txn.parent_id,
        "test": txn.test,
        "source_name": order.source_name,
    }
    if txn.card_brand is not None:
        body["payment_details"] = {
            "credit_card_company": txn.card_brand,
            "credit_card_number": f"•••• •••• •••• {txn.card_last4}",
        }
    return body


def refund_json(refund: Refund, order: Order) -> Json:
    items = {li.id: li for li in order.line_items}
    return {
        "id": refund.id,
        "admin_graphql_api_id": gid("Refund", refund.id),
        "order_id": order.id,
        "created_at": timestamp(refund.created_at),
        "processed_at": timestamp(refund.created_at),
        "note": refund.note,
        "restock": any(r.restock_type != "NO_RESTOCK" for r in refund.refund_line_items),
        "refund_line_items": [
            {
                "id": r.id,
                "line_item_id": r.line_item_id,
                "quantity": r.quantity,
                "restock_type": r.restock_type.lower(),
                "subtotal": amount(r.subtotal),
                "subtotal_set": _money_set(r.subtotal, order.currency),
                "total_tax": amount(r.total_tax),
                "total_tax_set": _money_set(r.total_tax, order.currency),
                "line_item": _line_item(items[r.line_item_id], order.currency),
            }
            for r in refund.refund_line_items
        ],
        "transactions": [transaction_json(t, order) for t in refund.transactions],
        "order_adjustments": [],
    }


def customer_json(customer: ShopifyCustomer) -> Json:
    return {
        "id": customer.id,
        "admin_graphql_api_id": gid("Customer", customer.id),
        "email": customer.email,
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "phone": customer.phone,
        "state": customer.state.lower(),
        "tags": ", ".join(customer.tags),
        "created_at": timestamp(customer.created_at),
        "updated_at": timestamp(customer.updated_at),
    }


def product_json(product: ShopifyProduct) -> Json:
    return {
        "id": product.id,
        "admin_graphql_api_id": gid("Product", product.id),
        "title": product.title,
        "handle": product.handle,
        "vendor": product.vendor,
        "product_type": product.product_type,
        "status": product.status.lower(),
        "created_at": timestamp(product.created_at),
        "updated_at": timestamp(product.updated_at),
        "variants": [
            {
                "id": v.id,
                "admin_graphql_api_id": gid("ProductVariant", v.id),
                "product_id": product.id,
                "title": v.title,
                "sku": v.sku,
                "price": amount(v.price),
                "taxable": v.taxable,
                "created_at": timestamp(v.created_at),
                "updated_at": timestamp(v.updated_at),
            }
            for v in product.variants
        ],
    }


def order_json(order: Order, customer: ShopifyCustomer | None) -> Json:
    currency = order.currency
    return {
        "id": order.id,
        "admin_graphql_api_id": gid("Order", order.id),
        "name": order.name,
        "order_number": order.number,
        "number": order.number - 1000,
        "email": order.email,
        "created_at": timestamp(order.created_at),
        "updated_at": timestamp(order.updated_at),
        "processed_at": timestamp(order.processed_at),
        "cancelled_at": timestamp(order.cancelled_at),
        "cancel_reason": order.cancel_reason,
        "currency": currency,
        "presentment_currency": currency,
        "financial_status": order.financial_status.lower(),
        "source_name": order.source_name,
        "location_id": order.location_id,
        "test": order.test,
        "taxes_included": order.taxes_included,
        "note": order.note,
        "tags": ", ".join(order.tags),
        "subtotal_price": amount(order.subtotal),
        "subtotal_price_set": _money_set(order.subtotal, currency),
        "total_discounts": amount(order.total_discounts),
        "total_discounts_set": _money_set(order.total_discounts, currency),
        "total_tax": amount(order.total_tax),
        "total_tax_set": _money_set(order.total_tax, currency),
        "total_price": amount(order.total_price),
        "total_price_set": _money_set(order.total_price, currency),
        "total_tip_received": amount(order.tip),
        "total_shipping_price_set": _money_set(order.total_shipping, currency),
        "payment_gateway_names": sorted({t.gateway for t in order.transactions}),
        "discount_applications": [_discount_application(d) for d in order.discount_applications],
        "discount_codes": [
            {"code": d.code, "amount": amount(d.value), "type": d.value_type}
            for d in order.discount_applications
            if d.code is not None
        ],
        "line_items": [_line_item(li, currency) for li in order.line_items],
        "shipping_lines": [_shipping_line(s, currency) for s in order.shipping_lines],
        "tax_lines": [_tax_line(t, currency) for t in order.tax_lines],
        "refunds": [refund_json(r, order) for r in order.refunds],
        "customer": None if customer is None else customer_json(customer),
    }


def shop_json(shop: ShopifyStore) -> Json:
    return {
        "id": 1,
        "name": shop.name,
        "email": f"owner@{shop.domain}",
        "domain": shop.domain,
        "myshopify_domain": shop.domain,
        "currency": shop.currency,
        "iana_timezone": shop.timezone,
        "plan_name": shop.plan,
        "taxes_included": False,
    }
