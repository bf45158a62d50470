"""What happens in the shop, each change stored and announced to its webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from salesync.sandbox.woocommerce import notify
from salesync.sandbox.woocommerce.orders import (
    Cart,
    build_order,
    build_refund,
    mark_paid,
    refunded_quantity,
    text,
)
from salesync.sandbox.woocommerce.store import Json, WooShop


def add_product(
    shop: WooShop, name: str, sku: str, price: Decimal, category: str, *, taxable: bool = True
) -> Json:
    product_id = shop.next_id()
    product: Json = {
        "id": product_id,
        "name": name,
        "slug": name.lower().replace(" ", "-"),
        "type": "simple",
        "status": "publish",
        "sku": sku,
        "price": text(price),
        "regular_price": text(price),
        "sale_price": "",
        "tax_status": "taxable" if taxable else "none",
        "tax_class": "",
        "categories": [{"id": 10 + len(category), "name": category, "slug": category.lower()}],
        "stock_status": "instock",
    }
    shop.stamp(product, "created", "modified")
    with shop.lock:
        shop.data.products[product_id] = product
    notify.trigger(shop, "product.created", product)
    return product


def reprice(shop: WooShop, product: Json, price: Decimal) -> None:
    with shop.lock:
        product["price"] = product["regular_price"] = text(price)
        shop.stamp(product, "modified")
    notify.trigger(shop, "product.updated", product)


def add_customer(shop: WooShop, first: str, last: str, email: str, phone: str) -> Json:
    customer_id = shop.next_id()
    billing = {"first_name": first, "last_name": last, "email": email, "phone": phone}
    customer: Json = {
        "id": customer_id,
        "email": email,
        "first_name": first,
        "last_name": last,
        "role": "customer",
        "username": email.split("@", 1)[0],
        "billing": billing,
        "shipping": {"first_name": first, "last_name": last},
        "is_paying_customer": False,
    }
    shop.stamp(customer, "created", "modified")
    with shop.lock:
        shop.data.customers[customer_id] = customer
    notify.trigger(shop, "customer.created", customer)
    return customer


def place_order(shop: WooShop, cart: Cart) -> Json:
    order = build_order(shop, cart)
    with shop.lock:
        shop.data.orders[order["id"]] = order
    notify.trigger(shop, "order.created", order)
    return order


def set_status(shop: WooShop, order: Json, status: str) -> None:
    """Move an order on (paid, completed, cancelled...), as the shop manager or gateway does."""
    with shop.lock:
        if status in ("processing", "completed") and order["date_paid_gmt"] is None:
            mark_paid(shop, order)
        if status == "completed":
            shop.stamp(order, "completed")
        order["status"] = status
        shop.stamp(order, "modified")
    notify.trigger(shop, "order.updated", order)


def set_customer(shop: WooShop, order: Json, customer: Json | None) -> None:
    """Give an order to a customer (a guest order claimed by an account), or make it a
    guest's again, as the shop manager does when editing it."""
    with shop.lock:
        order["customer_id"] = int(customer["id"]) if customer else 0
        order["billing"] = dict(customer["billing"]) if customer else {}
        shop.stamp(order, "modified")
    notify.trigger(shop, "order.updated", order)


def refund_order(
    shop: WooShop, order: Json, items: Sequence[tuple[Json, int]], *, shipping: bool, reason: str
) -> Json:
    """Refund ``items`` (line item, quantity); a refund of everything left makes the order
    ``refunded``."""
    with shop.lock:
        refund = build_refund(shop, order, items, shipping=shipping, reason=reason)
        shop.data.refunds.setdefault(order["id"], []).insert(0, refund)
        order["refunds"].insert(
            0, {"id": refund["id"], "reason": reason, "total": text(-Decimal(refund["amount"]))}
        )
        if all(refunded_quantity(shop, order, li) >= li["quantity"] for li in order["line_items"]):
            order["status"] = "refunded"
        shop.stamp(order, "modified")
    notify.trigger(shop, "order.updated", order)
    return refund


def delete_order(shop: WooShop, order: Json) -> None:
    """Move an order to the trash: it is listed no more, and ``order.deleted`` names it."""
    with shop.lock:
        order["status"] = "trash"
        shop.stamp(order, "modified")
    notify.trigger(shop, "order.deleted", order)
