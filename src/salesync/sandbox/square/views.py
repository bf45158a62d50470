"""Records other than orders rendered as Square's JSON: ``Money`` objects, RFC 3339 times."""

from __future__ import annotations

from typing import Any

from salesync.sandbox.square.pages import rfc3339
from salesync.sandbox.square.records import (
    CatalogCategory,
    CatalogItem,
    CatalogTax,
    ItemVariation,
    Payment,
    PaymentRefund,
    Payout,
    PayoutEntry,
    SquareCustomer,
    SquareLocation,
    WebhookSubscription,
)

Json = dict[str, Any]


def money(amount: int, currency: str) -> Json:
    return {"amount": amount, "currency": currency}


def location_json(location: SquareLocation, merchant_id: str) -> Json:
    return {
        "id": location.id,
        "name": location.name,
        "address": {
            "address_line_1": location.address_line_1,
            "locality": location.locality,
            "administrative_district_level_1": location.region,
            "postal_code": location.postal_code,
            "country": location.country,
        },
        "timezone": location.timezone,
        "capabilities": ["CREDIT_CARD_PROCESSING"],
        "status": "ACTIVE",
        "created_at": rfc3339(location.created_at),
        "merchant_id": merchant_id,
        "country": location.country,
        "language_code": "en-US",
        "currency": location.currency,
        "type": "PHYSICAL",
    }


def customer_json(customer: SquareCustomer) -> Json:
    body: Json = {
        "id": customer.id,
        "created_at": rfc3339(customer.created_at),
        "updated_at": rfc3339(customer.updated_at),
        "given_name": customer.given_name,
        "family_name": customer.family_name,
        "email_address": customer.email_address,
        "preferences": {"email_unsubscribed": False},
        "creation_source": "DIRECTORY",
        "version": customer.version,
    }
    if customer.phone_number:
        body["phone_number"] = customer.phone_number
    return body


def _catalog(kind: str, object_id: str, version: int, updated_at: Any, data: Json) -> Json:
    return {
        "type": kind,
        "id": object_id,
        "updated_at": rfc3339(updated_at),
        "version": version,
        "is_deleted": False,
        "present_at_all_locations": True,
        f"{kind.lower()}_data": data,
    }


def category_json(category: CatalogCategory) -> Json:
    return _catalog(
        "CATEGORY", category.id, category.version, category.updated_at, {"name": category.name}
    )


def tax_json(tax: CatalogTax) -> Json:
    body = _catalog(
        "TAX",
        tax.id,
        tax.version,
        tax.updated_at,
        {
            "name": tax.name,
            "calculation_phase": "TAX_SUBTOTAL_PHASE",
            "inclusion_type": tax.inclusion_type,
            "percentage": str(tax.percentage),
            "applies_to_custom_amounts": True,
            "enabled": True,
        },
    )
    body["present_at_all_locations"] = False
    body["present_at_location_ids"] = list(tax.location_ids)
    return body


def variation_json(variation: ItemVariation) -> Json:
    return _catalog(
        "ITEM_VARIATION",
        variation.id,
        variation.version,
        variation.updated_at,
        {
            "item_id": variation.item_id,
            "name": variation.name,
            "sku": variation.sku,
            "pricing_type": "FIXED_PRICING",
            "price_money": money(variation.price, variation.currency),
        },
    )


def item_json(item: CatalogItem) -> Json:
    return _catalog(
        "ITEM",
        item.id,
        item.version,
        item.updated_at,
        {
            "name": item.name,
            "categories": [{"id": item.category_id}],
            "reporting_category": {"id": item.category_id},
            "tax_ids": list(item.tax_ids),
            "variations": [variation_json(v) for v in item.variations],
            "product_type": "REGULAR",
        },
    )


def payment_json(payment: Payment) -> Json:
    c = payment.currency
    body: Json = {
        "id": payment.id,
        "created_at": rfc3339(payment.created_at),
        "updated_at": rfc3339(payment.updated_at),
        "amount_money": money(payment.amount, c),
        "tip_money": money(payment.tip, c),
        "total_money": money(payment.total, c),
        "approved_money": money(payment.total, c),
        "status": "COMPLETED",
        "source_type": payment.source_type,
        "location_id": payment.location_id,
        "order_id": payment.order_id,
        "receipt_number": payment.id[:4],
        "version_token": f"v{len(payment.refund_ids)}-{payment.id[-6:]}",
    }
    if payment.processing_fee:
        body["processing_fee"] = [
            {
                "effective_at": rfc3339(payment.created_at),
                "type": "INITIAL",
                "amount_money": money(payment.processing_fee, c),
            }
        ]
    if payment.refunded:
        body["refunded_money"] = money(payment.refunded, c)
        body["refund_ids"] = list(payment.refund_ids)
    if payment.customer_id:
        body["customer_id"] = payment.customer_id
    if payment.source_type == "CARD":
        body["card_details"] = {
            "status": "CAPTURED",
            "card": {"card_brand": payment.card_brand, "last_4": payment.last_4},
            "entry_method": "EMV",
        }
    elif payment.source_type == "CASH":
        given = payment.cash_given or payment.total
        body["cash_details"] = {
            "buyer_supplied_money": money(given, c),
            "change_back_money": money(given - payment.total, c),
        }
    else:
        body["external_details"] = {"type": "CHECK", "source": "Check"}
    return body


def refund_json(refund: PaymentRefund) -> Json:
    return {
        "id": refund.id,
        "status": "COMPLETED",
        "location_id": refund.location_id,
        "amount_money": money(refund.amount, refund.currency),
        "payment_id": refund.payment_id,
        "order_id": refund.order_id,
        "reason": refund.reason,
        "destination_type": refund.destination_type,
        "created_at": rfc3339(refund.created_at),
        "updated_at": rfc3339(refund.created_at),
    }


def payout_json(payout: Payout) -> Json:
    return {
        "id": payout.id,
        "status": payout.status,
        "location_id": payout.location_id,
        "created_at": rfc3339(payout.created_at),
        "updated_at": rfc3339(payout.updated_at or payout.created_at),
        "amount_money": money(payout.amount, payout.currency),
        "destination": {"type": "BANK_ACCOUNT", "id": payout.destination_id},
        "version": payout.version,
        "type": "BATCH",
        "arrival_date": payout.arrival_date.isoformat(),
    }


def payout_entry_json(entry: PayoutEntry) -> Json:
    c = entry.currency
    body: Json = {
        "id": entry.id,
        "payout_id": entry.payout_id,
        "effective_at": rfc3339(entry.effective_at),
        "type": entry.type,
        "gross_amount_money": money(entry.gross, c),
        "fee_amount_money": money(entry.fee, c),
        "net_amount_money": money(entry.net, c),
    }
    if entry.type == "CHARGE":
        body["type_charge_details"] = {"payment_id": entry.payment_id}
    elif entry.type == "REFUND":
        body["type_refund_details"] = {"payment_id": entry.payment_id, "refund_id": entry.refund_id}
    return body


def subscription_json(subscription: WebhookSubscription, *, with_key: bool) -> Json:
    body: Json = {
        "id": subscription.id,
        "name": subscription.name,
        "enabled": subscription.enabled,
        "event_types": list(subscription.event_types),
        "notification_url": subscription.notification_url,
        "api_version": subscription.api_version,
        "created_at": rfc3339(subscription.created_at),
        "updated_at": rfc3339(subscription.created_at),
    }
    if with_key:
        body["signature_key"] = subscription.signature_key
    return body
