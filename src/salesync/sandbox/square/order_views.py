"""Orders rendered as Square's JSON: string quantities, ``Money`` objects, applied uids."""

from __future__ import annotations

from typing import Any

from salesync.sandbox.square.orders import (
    Amounts,
    LineItem,
    Order,
    OrderDiscount,
    OrderRefund,
    OrderReturn,
    OrderServiceCharge,
    OrderTax,
    Tender,
)
from salesync.sandbox.square.pages import rfc3339
from salesync.sandbox.square.views import money

Json = dict[str, Any]


def _applied(entries: tuple[tuple[str, int], ...], key: str, currency: str) -> list[Json]:
    return [
        {"uid": f"{uid}-{index}", f"{key}_uid": uid, "applied_money": money(amount, currency)}
        for index, (uid, amount) in enumerate(entries)
    ]


def line_item_json(line: LineItem, currency: str) -> Json:
    body: Json = {
        "uid": line.uid,
        "name": line.name,
        "quantity": str(line.quantity),
        "item_type": "ITEM" if line.catalog_object_id else "CUSTOM_AMOUNT",
        "base_price_money": money(line.base_price, currency),
        "variation_total_price_money": money(line.gross, currency),
        "gross_sales_money": money(line.gross, currency),
        "total_tax_money": money(line.total_tax, currency),
        "total_discount_money": money(line.total_discount, currency),
        "total_money": money(line.total, currency),
        "applied_taxes": _applied(line.applied_taxes, "tax", currency),
        "applied_discounts": _applied(line.applied_discounts, "discount", currency),
    }
    if line.catalog_object_id:
        body["catalog_object_id"] = line.catalog_object_id
        body["catalog_version"] = 1
        body["variation_name"] = line.variation_name
    if line.source_line_item_uid:
        body["source_line_item_uid"] = line.source_line_item_uid
    return body


def tax_line_json(tax: OrderTax, currency: str) -> Json:
    body: Json = {
        "uid": tax.uid,
        "name": tax.name,
        "percentage": str(tax.percentage),
        "type": tax.type,
        "scope": tax.scope,
        "applied_money": money(tax.applied, currency),
    }
    if tax.catalog_object_id:
        body["catalog_object_id"] = tax.catalog_object_id
    if tax.source_tax_uid:
        body["source_tax_uid"] = tax.source_tax_uid
    return body


def discount_line_json(discount: OrderDiscount, currency: str) -> Json:
    body: Json = {
        "uid": discount.uid,
        "name": discount.name,
        "type": discount.type,
        "scope": discount.scope,
        "applied_money": money(discount.applied, currency),
    }
    if discount.percentage is not None:
        body["percentage"] = str(discount.percentage)
    if discount.amount is not None:
        body["amount_money"] = money(discount.amount, currency)
    if discount.source_discount_uid:
        body["source_discount_uid"] = discount.source_discount_uid
    return body


def service_charge_json(charge: OrderServiceCharge, currency: str) -> Json:
    body: Json = {
        "uid": charge.uid,
        "name": charge.name,
        "calculation_phase": "SUBTOTAL_PHASE",
        "taxable": False,
        "applied_money": money(charge.applied, currency),
        "total_money": money(charge.applied, currency),
        "total_tax_money": money(0, currency),
        "type": "CUSTOM",
    }
    if charge.percentage is not None:
        body["percentage"] = str(charge.percentage)
    else:
        body["amount_money"] = money(charge.amount, currency)
    return body


def tender_json(tender: Tender, order: Order) -> Json:
    currency = order.currency
    body: Json = {
        "id": tender.id,
        "location_id": order.location_id,
        "transaction_id": order.id,
        "created_at": rfc3339(tender.created_at),
        "amount_money": money(tender.amount, currency),
        "tip_money": money(tender.tip, currency),
        "type": tender.type,
        "payment_id": tender.payment_id,
    }
    if order.customer_id:
        body["customer_id"] = order.customer_id
    if tender.type == "CARD":
        body["card_details"] = {
            "status": "CAPTURED",
            "card": {"card_brand": tender.card_brand, "last_4": tender.last_4},
            "entry_method": "EMV",
        }
    elif tender.type == "CASH":
        body["cash_details"] = {
            "buyer_tendered_money": money(tender.amount, currency),
            "change_back_money": money(0, currency),
        }
    if tender.note:
        body["note"] = tender.note
    return body


def return_json(returned: OrderReturn, currency: str) -> Json:
    return {
        "uid": returned.uid,
        "source_order_id": returned.source_order_id,
        "return_line_items": [line_item_json(li, currency) for li in returned.line_items],
        "return_taxes": [tax_line_json(t, currency) for t in returned.taxes],
        "return_discounts": [discount_line_json(d, currency) for d in returned.discounts],
    }


def refund_line_json(refund: OrderRefund, currency: str) -> Json:
    return {
        "id": refund.id,
        "location_id": refund.location_id,
        "transaction_id": refund.transaction_id,
        "tender_id": refund.tender_id,
        "created_at": rfc3339(refund.created_at),
        "reason": refund.reason,
        "amount_money": money(refund.amount, currency),
        "status": "COMPLETED",
    }


def amounts_json(amounts: Amounts, currency: str) -> Json:
    return {
        "total_money": money(amounts.total, currency),
        "tax_money": money(amounts.tax, currency),
        "discount_money": money(amounts.discount, currency),
        "tip_money": money(amounts.tip, currency),
        "service_charge_money": money(amounts.service_charge, currency),
    }


def order_json(order: Order) -> Json:
    c = order.currency
    body: Json = {
        "id": order.id,
        "location_id": order.location_id,
        "source": {"name": order.source_name},
        "created_at": rfc3339(order.created_at),
        "updated_at": rfc3339(order.updated_at),
        "state": order.state,
        "version": order.version,
        "total_money": money(order.amounts.total, c),
        "total_tax_money": money(order.amounts.tax, c),
        "total_discount_money": money(order.amounts.discount, c),
        "total_tip_money": money(order.amounts.tip, c),
        "total_service_charge_money": money(order.amounts.service_charge, c),
        "net_amounts": amounts_json(order.net_amounts, c),
        "net_amount_due_money": money(_due(order), c),
    }
    optional: Json = {
        "closed_at": rfc3339(order.closed_at) if order.closed_at else None,
        "customer_id": order.customer_id,
        "reference_id": order.reference_id,
        "line_items": [line_item_json(li, c) for li in order.line_items],
        "taxes": [tax_line_json(t, c) for t in order.taxes],
        "discounts": [discount_line_json(d, c) for d in order.discounts],
        "service_charges": [service_charge_json(s, c) for s in order.service_charges],
        "tenders": [tender_json(t, order) for t in order.tenders],
        "returns": [return_json(r, c) for r in order.returns],
        "refunds": [refund_line_json(r, c) for r in order.refunds],
        "return_amounts": amounts_json(order.return_amounts, c) if order.returns else None,
    }
    body.update({k: v for k, v in optional.items() if v})
    return body


def _due(order: Order) -> int:
    if order.state != "OPEN":
        return 0
    paid = sum(t.amount for t in order.tenders) - sum(r.amount for r in order.refunds)
    return max(order.net_amounts.total - paid, 0)


def order_entry_json(order: Order) -> Json:
    return {"order_id": order.id, "version": order.version, "location_id": order.location_id}
