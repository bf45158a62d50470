"""A Clover till: orders rung up with line items, modifications, discounts, a service
charge, taxes, tips and split tenders, and refunds of their line items.

Amounts are in cents. A tax rate's ``rate`` is scaled so that 10,000,000 is 100%
(Clover's TaxRate, e.g. ``1000000`` for 10%); a discount has either ``amount`` (negative
cents) or ``percentage``. Line items are one per unit unless ``unitQty`` (thousandths)
says otherwise. A payment's ``amount`` includes its share of the tax and excludes its
``tipAmount``; the order's ``total`` excludes tips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from salesync.sandbox.clover.platform import CloverMerchant, CloverPlatform

Json = dict[str, Any]
RATE_SCALE = 10_000_000


def cents(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Sold:
    """One line rung up: an item, how many, its modifications and line discount."""

    item_id: str
    quantity: int = 1
    modifications: tuple[tuple[str, int], ...] = ()
    discount: Json | None = None


@dataclass(frozen=True, slots=True)
class Tendered:
    """One tender of a split payment: its tender id and the share of the bill it pays."""

    tender_id: str
    share: Decimal
    tip: int = 0


def line_base(line: Json) -> Decimal:
    """The line's price with its modifications, times its quantity, in cents."""
    mods = sum(int(m["amount"]) for m in line.get("modifications", {}).get("elements", []))
    quantity = Decimal(int(line["unitQty"])) / 1000 if line.get("unitQty") else Decimal(1)
    return (int(line["price"]) + mods) * quantity


def discount_of(discount: Json, base: Decimal) -> Decimal:
    """What a discount takes off ``base`` (positive cents)."""
    if discount.get("percentage") is not None:
        return Decimal(cents(base * Decimal(int(discount["percentage"])) / 100))
    return Decimal(-int(discount["amount"]))


def price(order: Json) -> tuple[int, int]:
    """The order's total and tax, as Clover computes them: line discounts, then order
    discounts spread over the lines by their net, tax on each line's share, then the
    service charge on the discounted subtotal (untaxed)."""
    lines = order["lineItems"]["elements"]
    nets = []
    for line in lines:
        base = line_base(line)
        off = sum(discount_of(d, base) for d in line.get("discounts", {}).get("elements", []))
        nets.append(base - off)
    subtotal = sum(nets, Decimal(0))
    order_off = sum(
        (discount_of(d, subtotal) for d in order.get("discounts", {}).get("elements", [])),
        Decimal(0),
    )
    tax = 0
    for line, net in zip(lines, nets, strict=True):
        share = net - (order_off * net / subtotal if subtotal else Decimal(0))
        for rate in line.get("taxRates", {}).get("elements", []):
            tax += cents(share * int(rate["rate"]) / RATE_SCALE)
    after = subtotal - order_off
    charge = order.get("serviceCharge")
    service = cents(after * Decimal(str(charge["percentage"])) / 100) if charge else 0
    return cents(after) + service + tax, tax


def ring_up(
    platform: CloverPlatform,
    merchant: CloverMerchant,
    sold: Sequence[Sold],
    tenders: Sequence[Tendered],
    *,
    device_id: str,
    discount: Json | None = None,
    service_charge: Json | None = None,
    customer_id: str | None = None,
) -> Json:
    """An order paid with ``tenders`` (left open with none), stored and noted for the
    webhook."""
    now = platform.now_ms()
    order_id = platform.new_id()
    lines: list[Json] = []
    for s in sold:
        item = merchant.items[s.item_id]
        for _ in range(s.quantity):
            line: Json = {
                "id": platform.new_id(),
                "orderRef": {"id": order_id},
                "item": {"id": item["id"]},
                "name": item["name"],
                "price": item["price"],
                "isRevenue": True,
                "refunded": False,
                "exchanged": False,
                "createdTime": now,
                "taxRates": {
                    "elements": [merchant.tax_rates[t["id"]] for t in item["taxRates"]["elements"]]
                },
            }
            if s.modifications:
                line["modifications"] = {
                    "elements": [
                        {"id": platform.new_id(), "name": n, "amount": a}
                        for n, a in s.modifications
                    ]
                }
            if s.discount:
                line["discounts"] = {"elements": [{"id": platform.new_id(), **s.discount}]}
            lines.append(line)
    order: Json = {
        "id": order_id,
        "currency": merchant.currency,
        "title": "",
        # An order nobody paid stays open at the register.
        "state": "locked" if tenders else "open",
        "paymentState": "PAID" if tenders else "OPEN",
        "taxRemoved": False,
        "isVat": False,
        "manualTransaction": False,
        "groupLineItems": True,
        "testMode": False,
        "device": {"id": device_id},
        "createdTime": now,
        "clientCreatedTime": now,
        "modifiedTime": now,
        "lineItems": {"elements": lines},
        "payments": {"elements": []},
        "refunds": {"elements": []},
    }
    if discount:
        order["discounts"] = {"elements": [{"id": platform.new_id(), **discount}]}
    if service_charge:
        order["serviceCharge"] = {"id": platform.new_id(), **service_charge}
    if customer_id:
        order["customers"] = {"elements": [{"id": customer_id}]}
    total, tax = price(order)
    order["total"] = total
    order["payments"]["elements"] = _payments(
        platform, merchant, order, tenders, total=total, tax=tax
    )
    with platform.lock:
        merchant.orders[order_id] = order
    platform.changed(merchant.id, f"O:{order_id}", "CREATE")
    return order


def _payments(
    platform: CloverPlatform,
    merchant: CloverMerchant,
    order: Json,
    tenders: Sequence[Tendered],
    *,
    total: int,
    tax: int,
) -> list[Json]:
    payments: list[Json] = []
    paid = taxed = 0
    for i, tendered in enumerate(tenders):
        last = i == len(tenders) - 1
        amount = total - paid if last else cents(total * tendered.share)
        tax_part = tax - taxed if last else cents(tax * tendered.share)
        paid, taxed = paid + amount, taxed + tax_part
        tender = merchant.tenders[tendered.tender_id]
        payments.append(
            {
                "id": platform.new_id(),
                "order": {"id": order["id"]},
                "device": order["device"],
                "tender": {
                    "id": tender["id"],
                    "labelKey": tender["labelKey"],
                    "label": tender["label"],
                },
                "amount": amount,
                "tipAmount": tendered.tip,
                "taxAmount": tax_part,
                "cashbackAmount": 0,
                "result": "SUCCESS",
                "createdTime": order["createdTime"],
                "modifiedTime": order["createdTime"],
            }
        )
    return payments


def refund_lines(
    platform: CloverPlatform, merchant: CloverMerchant, order_id: str, line_ids: Sequence[str]
) -> Json | None:
    """Refund line items of a paid order to its largest payment; None when the refund
    would be more than that payment."""
    now = platform.now_ms()
    with platform.lock:
        order = merchant.orders[order_id]
        lines = order["lineItems"]["elements"]
        chosen = [li for li in lines if li["id"] in line_ids and not li["refunded"]]
        if not chosen:
            return None
        full, tax = price(order)
        payment = max(order["payments"]["elements"], key=lambda p: int(p["amount"]))
        bases = {li["id"]: _line_total(order, li) for li in lines}
        goods = sum(bases.values(), Decimal(0))
        share = sum((bases[li["id"]] for li in chosen), Decimal(0)) / goods if goods else 0
        refund_tax = cents(tax * Decimal(share))
        amount = cents((full - tax) * Decimal(share)) + refund_tax
        if amount <= 0 or amount > int(payment["amount"]):
            return None
        refund: Json = {
            "id": platform.new_id(),
            "orderRef": {"id": order_id},
            "payment": {"id": payment["id"]},
            "device": order["device"],
            "amount": amount,
            "taxAmount": refund_tax,
            "tipAmount": 0,
            "createdTime": now,
            "lineItems": {"elements": [{"id": li["id"]} for li in chosen]},
        }
        for li in chosen:
            li["refunded"] = True
        order["refunds"]["elements"].append(refund)
        refunded = all(li["refunded"] for li in lines)
        order["paymentState"] = "REFUNDED" if refunded else "PARTIALLY_REFUNDED"
        order["modifiedTime"] = now
    platform.changed(merchant.id, f"O:{order_id}", "UPDATE")
    return refund


def _line_total(order: Json, line: Json) -> Decimal:
    base = line_base(line)
    off = sum(discount_of(d, base) for d in line.get("discounts", {}).get("elements", []))
    return base - off
