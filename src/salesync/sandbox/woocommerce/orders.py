"""Orders and refunds built the way WooCommerce computes them.

Tax is added to prices (``prices_include_tax`` false, as US shops run) at two rates, and
rounded per line and rate. A percentage coupon is spread over the lines, so each line's
``total`` is after discount and its ``subtotal`` before; ``coupon_lines`` repeat the
amounts. Fees are ``fee_lines`` (a tip is a fee with no tax). Refunds carry negative
line amounts and a positive ``amount``; the order lists them in ``refunds``
(https://woocommerce.github.io/woocommerce-rest-api-docs/#order-refunds).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from salesync.sandbox.woocommerce.store import Json, WooShop

CENT = Decimal("0.01")
RATES = (
    (1, "US-TX-STATE TAX-1", "State Tax", Decimal("6.25")),
    (2, "US-TX-CITY TAX-2", "City Tax", Decimal("2.0000")),
)


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def text(amount: Decimal) -> str:
    return str(cents(amount))


def _taxes(base: Decimal) -> list[tuple[int, Decimal]]:
    return [(rate_id, cents(base * percent / 100)) for rate_id, _, _, percent in RATES]


def _tax_json(
    pairs: list[tuple[int, Decimal]], before: list[tuple[int, Decimal]] | None = None
) -> list[Json]:
    subtotals = dict(before or pairs)
    return [{"id": i, "total": text(t), "subtotal": text(subtotals[i])} for i, t in pairs]


@dataclass(frozen=True, slots=True)
class Cart:
    """What a customer bought and how."""

    channel: str
    """``created_via``: ``checkout`` online, ``pos-rest-api`` at the counter."""
    items: Sequence[tuple[Json, int]]
    payment_method: str
    payment_title: str
    customer: Json | None = None
    coupon: tuple[str, Decimal] | None = None
    """Code and percentage off."""
    shipping: Decimal | None = None
    fees: Sequence[tuple[str, Decimal, bool]] = ()
    """Name, amount, taxable."""
    status: str = "processing"


def build_order(shop: WooShop, cart: Cart) -> Json:
    """A new order for ``cart``, stamped now; the caller stores it."""
    order_id = shop.next_id()
    lines: list[Json] = []
    per_rate: dict[int, Decimal] = {r[0]: Decimal(0) for r in RATES}
    discount = discount_tax = Decimal(0)
    for product, quantity in cart.items:
        price = Decimal(product["regular_price"])
        subtotal = cents(price * quantity)
        off = cents(subtotal * cart.coupon[1] / 100) if cart.coupon else Decimal(0)
        total = subtotal - off
        taxable = product["tax_status"] == "taxable"
        taxes = _taxes(total) if taxable else []
        before = _taxes(subtotal) if taxable else []
        for rate_id, amount in taxes:
            per_rate[rate_id] += amount
        discount += off
        discount_tax += sum((a for _, a in before), Decimal(0)) - sum(
            (a for _, a in taxes), Decimal(0)
        )
        lines.append(
            {
                "id": shop.next_id(),
                "name": product["name"],
                "product_id": product["id"],
                "variation_id": 0,
                "quantity": quantity,
                "tax_class": "",
                "subtotal": text(subtotal),
                "subtotal_tax": text(sum((a for _, a in before), Decimal(0))),
                "total": text(total),
                "total_tax": text(sum((a for _, a in taxes), Decimal(0))),
                "taxes": _tax_json(taxes, before),
                "meta_data": [],
                "sku": product["sku"],
                "price": float(price),
            }
        )
    shipping_lines: list[Json] = []
    shipping_tax = Decimal(0)
    if cart.shipping is not None:
        taxes = _taxes(cart.shipping)
        shipping_tax = sum((a for _, a in taxes), Decimal(0))
        for rate_id, amount in taxes:
            per_rate[rate_id] += amount
        shipping_lines.append(
            {
                "id": shop.next_id(),
                "method_title": "Flat rate",
                "method_id": "flat_rate",
                "total": text(cart.shipping),
                "total_tax": text(shipping_tax),
                "taxes": _tax_json(taxes),
            }
        )
    fee_lines: list[Json] = []
    fee_total = fee_tax = Decimal(0)
    for name, amount, taxable in cart.fees:
        taxes = _taxes(amount) if taxable else []
        tax = sum((a for _, a in taxes), Decimal(0))
        for rate_id, part in taxes:
            per_rate[rate_id] += part
        fee_total += amount
        fee_tax += tax
        fee_lines.append(
            {
                "id": shop.next_id(),
                "name": name,
                "tax_class": "",
                "tax_status": "taxable" if taxable else "none",
                "amount": text(amount),
                "total": text(amount),
                "total_tax": text(tax),
                "taxes": _tax_json(taxes),
            }
        )
    line_total = sum((Decimal(li["total"]) for li in lines), Decimal(0))
    cart_tax = sum((Decimal(li["total_tax"]) for li in lines), Decimal(0))
    total_tax = cart_tax + shipping_tax + fee_tax
    total = line_total + (cart.shipping or Decimal(0)) + fee_total + total_tax
    shipping_by_rate = dict(_taxes(cart.shipping)) if cart.shipping is not None else {}
    tax_lines = [
        {
            "id": shop.next_id(),
            "rate_code": code,
            "rate_id": rate_id,
            "label": label,
            "compound": False,
            "tax_total": text(per_rate[rate_id] - shipping_by_rate.get(rate_id, Decimal(0))),
            "shipping_tax_total": text(shipping_by_rate.get(rate_id, Decimal(0))),
            "rate_percent": float(percent),
        }
        for rate_id, code, label, percent in RATES
        if per_rate[rate_id]
    ]
    customer = cart.customer or {}
    order: Json = {
        "id": order_id,
        "parent_id": 0,
        "number": str(order_id),
        "order_key": f"wc_order_{order_id:08d}",
        "created_via": cart.channel,
        "version": "10.3.0",
        "status": cart.status,
        "currency": shop.currency,
        "prices_include_tax": False,
        "discount_total": text(discount),
        "discount_tax": text(discount_tax),
        "shipping_total": text(cart.shipping or Decimal(0)),
        "shipping_tax": text(shipping_tax),
        "cart_tax": text(cart_tax),
        "total": text(total),
        "total_tax": text(total_tax),
        "customer_id": int(customer.get("id") or 0),
        "billing": dict(customer.get("billing") or {}),
        "payment_method": cart.payment_method,
        "payment_method_title": cart.payment_title,
        "transaction_id": "",
        "date_paid": None,
        "date_paid_gmt": None,
        "date_completed": None,
        "date_completed_gmt": None,
        "line_items": lines,
        "tax_lines": tax_lines,
        "shipping_lines": shipping_lines,
        "fee_lines": fee_lines,
        "coupon_lines": (
            [
                {
                    "id": shop.next_id(),
                    "code": cart.coupon[0],
                    "discount": text(discount),
                    "discount_tax": text(discount_tax),
                }
            ]
            if cart.coupon
            else []
        ),
        "refunds": [],
        "meta_data": [],
    }
    shop.stamp(order, "created", "modified")
    if cart.status in ("processing", "completed"):
        mark_paid(shop, order)
    if cart.status == "completed":
        shop.stamp(order, "completed")
    return order


def mark_paid(shop: WooShop, order: Json) -> None:
    shop.stamp(order, "paid")
    if order["payment_method"] not in ("cod", "bacs", "cheque", "pos_cash"):
        order["transaction_id"] = f"txn_{order['id']}_{shop.next_id()}"


def build_refund(
    shop: WooShop, order: Json, items: Sequence[tuple[Json, int]], *, shipping: bool, reason: str
) -> Json:
    """A refund of ``items`` (line item, quantity) and, when asked, the shipping."""
    lines: list[Json] = []
    amount = Decimal(0)
    for line, quantity in items:
        share = Decimal(quantity) / Decimal(line["quantity"])
        total = cents(Decimal(line["total"]) * share)
        taxes = [(t["id"], cents(Decimal(t["total"]) * share)) for t in line["taxes"]]
        tax = sum((a for _, a in taxes), Decimal(0))
        amount += total + tax
        lines.append(
            {
                "id": shop.next_id(),
                "name": line["name"],
                "product_id": line["product_id"],
                "variation_id": 0,
                "quantity": -quantity,
                "subtotal": text(-total),
                "subtotal_tax": text(-tax),
                "total": text(-total),
                "total_tax": text(-tax),
                "taxes": [{"id": i, "total": text(-a), "subtotal": text(-a)} for i, a in taxes],
                "meta_data": [
                    {"id": shop.next_id(), "key": "_refunded_item_id", "value": str(line["id"])}
                ],
                "sku": line["sku"],
                "price": -float(Decimal(line["total"]) / Decimal(line["quantity"])),
            }
        )
    shipping_lines: list[Json] = []
    if shipping and order["shipping_lines"]:
        ship = order["shipping_lines"][0]
        amount += Decimal(ship["total"]) + Decimal(ship["total_tax"])
        shipping_lines.append(
            {
                "id": shop.next_id(),
                "method_title": ship["method_title"],
                "method_id": ship["method_id"],
                "total": text(-Decimal(ship["total"])),
                "total_tax": text(-Decimal(ship["total_tax"])),
                "taxes": [
                    {"id": t["id"], "total": text(-Decimal(t["total"])), "subtotal": ""}
                    for t in ship["taxes"]
                ],
                "meta_data": [
                    {"id": shop.next_id(), "key": "_refunded_item_id", "value": str(ship["id"])}
                ],
            }
        )
    refund: Json = {
        "id": shop.next_id(),
        "reason": reason,
        "amount": text(amount),
        "refunded_by": 1,
        "refunded_payment": order["payment_method"] not in ("cod", "bacs", "cheque", "pos_cash"),
        "meta_data": [],
        "line_items": lines,
        "shipping_lines": shipping_lines,
        "tax_lines": [],
        "fee_lines": [],
    }
    shop.stamp(refund, "created")
    return refund


def refunded_quantity(shop: WooShop, order: Json, line: Json) -> int:
    """How many of ``line`` earlier refunds gave back."""
    given = 0
    for refund in shop.data.refunds.get(order["id"], []):
        for item in refund["line_items"]:
            refers = {m["value"] for m in item["meta_data"] if m["key"] == "_refunded_item_id"}
            if str(line["id"]) in refers:
                given += -int(item["quantity"])
    return given
