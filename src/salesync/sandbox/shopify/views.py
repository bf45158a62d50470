"""GraphQL Admin API objects built from the shop's records.

Objects are plain dicts; a field that takes arguments is a callable, which graphql-core's
default resolver calls with the arguments (``info`` first).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from salesync.sandbox.shopify.notify import topic_to_enum
from salesync.sandbox.shopify.records import (
    BalanceTransaction,
    Payout,
    ShopifyCustomer,
    ShopifyLocation,
    ShopifyProduct,
    ShopifyVariant,
    WebhookSubscription,
    gid,
)
from salesync.sandbox.shopify.search import Primary, paginate, sort_value
from salesync.sandbox.shopify.store import API_VERSIONS, ShopifyStore

T = TypeVar("T")
Json = dict[str, Any]
CENT = Decimal("0.01")

GATEWAY_NAMES = {
    "shopify_payments": "Shopify Payments",
    "cash": "Cash",
    "gift_card": "Gift card",
    "manual": "Manual",
    "bogus": "Bogus",
}


def iso(instant: datetime | None) -> str | None:
    """Shopify's DateTime: UTC with a ``Z``."""
    if instant is None:
        return None
    return instant.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def keyed(by: Callable[[T], object]) -> Callable[[T], tuple[Primary, int]]:
    """A pagination key: the sort value, then the record's id to break ties."""
    return lambda record: (sort_value(by(record)), int(getattr(record, "id", 0)))


def page_args(args: dict[str, Any]) -> dict[str, Any]:
    """The pagination arguments of a connection field."""
    return {k: args.get(k) for k in ("first", "after", "last", "before")} | {
        "reverse": bool(args.get("reverse"))
    }


class ShopifyViews:
    """Turns records into GraphQL objects, amounts in the shop currency."""

    def __init__(self, store: ShopifyStore) -> None:
        self.store = store
        self.currency = store.currency

    def money(self, value: Decimal) -> Json:
        return {"amount": f"{value:.2f}", "currencyCode": self.currency}

    def bag(self, value: Decimal) -> Json:
        money = self.money(value)
        return {"shopMoney": money, "presentmentMoney": money}

    def location(self, loc: ShopifyLocation) -> Json:
        return {
            "id": gid("Location", loc.id),
            "legacyResourceId": str(loc.id),
            "name": loc.name,
            "isActive": loc.is_active,
            "fulfillsOnlineOrders": loc.fulfills_online_orders,
            "address": {
                "address1": loc.address1,
                "city": loc.city,
                "provinceCode": loc.province_code,
                "countryCode": loc.country_code,
                "zip": loc.zip,
            },
            "createdAt": iso(loc.created_at),
            "updatedAt": iso(loc.updated_at),
        }

    def customer(self, customer: ShopifyCustomer) -> Json:
        with self.store.lock:
            orders = [o for o in self.store.data.orders.values() if o.customer_id == customer.id]
        spent = sum((o.total_received - o.total_refunded for o in orders), Decimal(0))
        return {
            "id": gid("Customer", customer.id),
            "legacyResourceId": str(customer.id),
            "firstName": customer.first_name,
            "lastName": customer.last_name,
            "displayName": f"{customer.first_name} {customer.last_name}",
            "email": customer.email,
            "defaultEmailAddress": {"emailAddress": customer.email},
            "phone": customer.phone,
            "tags": list(customer.tags),
            "state": customer.state,
            "numberOfOrders": str(len(orders)),
            "amountSpent": self.money(spent),
            "createdAt": iso(customer.created_at),
            "updatedAt": iso(customer.updated_at),
        }

    def variant(self, variant: ShopifyVariant) -> Json:
        return {
            "id": gid("ProductVariant", variant.id),
            "legacyResourceId": str(variant.id),
            "title": variant.title,
            "sku": variant.sku,
            "price": f"{variant.price:.2f}",
            "taxable": variant.taxable,
            "product": lambda _i: self.product_by_id(variant.product_id),
            "createdAt": iso(variant.created_at),
            "updatedAt": iso(variant.updated_at),
        }

    def product_by_id(self, product_id: int) -> Json | None:
        with self.store.lock:
            product = self.store.data.products.get(product_id)
        return None if product is None else self.product(product)

    def variant_by_id(self, variant_id: int | None) -> Json | None:
        with self.store.lock:
            for product in self.store.data.products.values():
                for variant in product.variants:
                    if variant.id == variant_id:
                        return self.variant(variant)
        return None

    def product(self, product: ShopifyProduct) -> Json:
        return {
            "id": gid("Product", product.id),
            "legacyResourceId": str(product.id),
            "title": product.title,
            "handle": product.handle,
            "vendor": product.vendor,
            "productType": product.product_type,
            "status": product.status,
            "createdAt": iso(product.created_at),
            "updatedAt": iso(product.updated_at),
            "variants": lambda _i, **a: paginate(
                product.variants, key=keyed(lambda v: v.id), node=self.variant, **page_args(a)
            ),
        }

    def payout(self, payout: Payout) -> Json:
        zero = self.money(Decimal(0))
        return {
            "id": gid("ShopifyPaymentsPayout", payout.id),
            "legacyResourceId": str(payout.id),
            "issuedAt": iso(payout.issued_at),
            "net": self.money(abs(payout.net)),
            "status": payout.status,
            "transactionType": payout.transaction_type,
            "summary": {
                "chargesGross": self.money(payout.charges_gross),
                "chargesFee": self.money(payout.charges_fee),
                "refundsFeeGross": self.money(payout.refunds_gross),
                "refundsFee": self.money(payout.refunds_fee),
                "adjustmentsGross": self.money(payout.adjustments_gross),
                "adjustmentsFee": self.money(payout.adjustments_fee),
                "reservedFundsGross": zero,
                "reservedFundsFee": zero,
                "retriedPayoutsGross": zero,
                "retriedPayoutsFee": zero,
                "advanceGross": zero,
                "advanceFees": zero,
            },
        }

    def balance_transaction(self, row: BalanceTransaction) -> Json:
        with self.store.lock:
            payout = None if row.payout_id is None else self.store.data.payouts.get(row.payout_id)
        return {
            "id": gid("ShopifyPaymentsBalanceTransaction", row.id),
            "type": row.type,
            "test": row.test,
            "amount": self.money(row.amount),
            "fee": self.money(row.fee),
            "net": self.money(row.net),
            "transactionDate": iso(row.processed_at),
            "sourceType": row.type,
            "sourceId": None if row.source_order_transaction_id is None else str(row.id),
            "sourceOrderTransactionId": (
                None
                if row.source_order_transaction_id is None
                else str(row.source_order_transaction_id)
            ),
            "associatedOrder": (
                None
                if row.order_id is None
                else {"id": gid("Order", row.order_id), "name": row.order_name}
            ),
            "associatedPayout": {
                "id": None if payout is None else gid("ShopifyPaymentsPayout", payout.id),
                "status": "PENDING" if payout is None else payout.status,
            },
            "adjustmentReason": row.adjustment_reason,
        }

    def subscription(self, subscription: WebhookSubscription) -> Json:
        return {
            "id": gid("WebhookSubscription", subscription.id),
            "legacyResourceId": str(subscription.id),
            "topic": topic_to_enum(subscription.topic),
            "format": "JSON",
            "uri": subscription.uri,
            "callbackUrl": subscription.uri,
            "apiVersion": {
                "handle": subscription.api_version,
                "displayName": subscription.api_version,
                "supported": subscription.api_version in API_VERSIONS,
            },
            "createdAt": iso(subscription.created_at),
            "updatedAt": iso(subscription.created_at),
        }
