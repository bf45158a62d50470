"""GraphQL Admin API views of orders: lines, discounts, taxes, transactions and refunds."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from salesync.sandbox.shopify.records import (
    DiscountApplication,
    LineItem,
    Order,
    Refund,
    RefundLineItem,
    TaxLine,
    Transaction,
    gid,
)
from salesync.sandbox.shopify.search import paginate
from salesync.sandbox.shopify.views import GATEWAY_NAMES, ShopifyViews, iso, keyed, page_args

Json = dict[str, Any]


class OrderViews(ShopifyViews):
    """Every view, orders included; the one a request resolves with."""

    def tax_line(self, tax: TaxLine) -> Json:
        return {
            "title": tax.title,
            "rate": float(tax.rate),
            "ratePercentage": float(tax.rate * 100),
            "priceSet": self.bag(tax.price),
            "channelLiable": False,
        }

    def discount_application(self, application: DiscountApplication) -> Json:
        value: Json
        if application.value_type == "percentage":
            value = {"__typename": "PricingPercentageValue", "percentage": float(application.value)}
        else:
            value = {"__typename": "MoneyV2"} | self.money(application.value)
        typename = {
            "code": "DiscountCodeApplication",
            "manual": "ManualDiscountApplication",
            "automatic": "AutomaticDiscountApplication",
        }[application.kind]
        return {
            "__typename": typename,
            "index": application.index,
            "allocationMethod": application.allocation_method.upper(),
            "targetSelection": application.target_selection.upper(),
            "targetType": application.target_type.upper(),
            "value": value,
            "code": application.code,
            "title": application.title,
            "description": None,
        }

    def line_item(self, order: Order, item: LineItem) -> Json:
        refunded = sum(
            r.quantity
            for refund in order.refunds
            for r in refund.refund_line_items
            if r.line_item_id == item.id
        )
        applications = {d.index: d for d in order.discount_applications}
        unit_after = item.discounted_total / item.quantity if item.quantity else item.price
        return {
            "id": gid("LineItem", item.id),
            "name": item.title
            if not item.variant_title
            else f"{item.title} - {item.variant_title}",
            "title": item.title,
            "variantTitle": item.variant_title,
            "sku": item.sku,
            "quantity": item.quantity,
            "currentQuantity": item.quantity - refunded,
            "variant": lambda _i: self.variant_by_id(item.variant_id),
            "product": lambda _i: (
                None if item.product_id is None else self.product_by_id(item.product_id)
            ),
            "taxable": item.taxable,
            "isGiftCard": item.is_gift_card,
            "requiresShipping": item.requires_shipping,
            "originalUnitPriceSet": self.bag(item.price),
            "discountedUnitPriceAfterAllDiscountsSet": self.bag(
                unit_after.quantize(Decimal("0.01"))
            ),
            "originalTotalSet": self.bag(item.original_total),
            "discountedTotalSet": self.bag(item.discounted_total),
            "totalDiscountSet": self.bag(item.total_discount),
            "discountAllocations": [
                {
                    "allocatedAmountSet": self.bag(a.amount),
                    "discountApplication": self.discount_application(
                        applications[a.application_index]
                    ),
                }
                for a in item.discount_allocations
            ],
            "taxLines": lambda _i, first=None: [self.tax_line(t) for t in item.tax_lines[:first]],
        }

    def transaction(self, order: Order, txn: Transaction) -> Json:
        card = None
        if txn.card_brand is not None:
            card = {
                "__typename": "CardPaymentDetails",
                "company": txn.card_brand,
                "name": None,
                "number": f"•••• •••• •••• {txn.card_last4}",
                "bin": None,
                "wallet": None,
            }
        parents = {t.id: t for t in order.transactions}
        return {
            "id": gid("OrderTransaction", txn.id),
            "kind": txn.kind,
            "status": txn.status,
            "gateway": txn.gateway,
            "formattedGateway": GATEWAY_NAMES.get(txn.gateway, txn.gateway),
            "amountSet": self.bag(txn.amount),
            "processedAt": iso(txn.processed_at),
            "createdAt": iso(txn.processed_at),
            "test": txn.test,
            "parentTransaction": lambda _i: (
                self.transaction(order, parents[txn.parent_id])
                if txn.parent_id in parents
                else None
            ),
            "paymentDetails": card,
            "order": lambda _i: self.order(order),
        }

    def refund(self, order: Order, refund: Refund) -> Json:
        items = {li.id: li for li in order.line_items}

        def row(r: RefundLineItem) -> Json:
            return {
                "id": gid("RefundLineItem", r.id),
                "lineItem": self.line_item(order, items[r.line_item_id]),
                "quantity": r.quantity,
                "restockType": r.restock_type,
                "restocked": r.restock_type != "NO_RESTOCK",
                "priceSet": self.bag(items[r.line_item_id].price),
                "subtotalSet": self.bag(r.subtotal),
                "totalTaxSet": self.bag(r.total_tax),
            }

        return {
            "id": gid("Refund", refund.id),
            "legacyResourceId": str(refund.id),
            "createdAt": iso(refund.created_at),
            "updatedAt": iso(refund.created_at),
            "note": refund.note,
            "order": lambda _i: self.order(order),
            "totalRefundedSet": self.bag(refund.total_refunded),
            "refundLineItems": lambda _i, **a: paginate(
                refund.refund_line_items, key=keyed(lambda r: r.id), node=row, **page_args(a)
            ),
            "transactions": lambda _i, **a: paginate(
                refund.transactions,
                key=keyed(lambda t: t.id),
                node=lambda t: self.transaction(order, t),
                **page_args(a),
            ),
        }

    def order(self, order: Order) -> Json:
        with self.store.lock:
            customer = self.store.data.customers.get(order.customer_id or 0)
            location = self.store.data.locations.get(order.location_id or 0)
        retail = location if order.source_name == "pos" else None
        return {
            "id": gid("Order", order.id),
            "legacyResourceId": str(order.id),
            "name": order.name,
            "email": order.email,
            "createdAt": iso(order.created_at),
            "updatedAt": iso(order.updated_at),
            "processedAt": iso(order.processed_at),
            "cancelledAt": iso(order.cancelled_at),
            "cancelReason": order.cancel_reason,
            "closed": order.financial_status in ("PAID", "REFUNDED"),
            "test": order.test,
            "sourceName": order.source_name,
            "note": order.note,
            "tags": list(order.tags),
            "currencyCode": order.currency,
            "presentmentCurrencyCode": order.currency,
            "taxesIncluded": order.taxes_included,
            "displayFinancialStatus": order.financial_status,
            "customer": None if customer is None else self.customer(customer),
            "retailLocation": None if retail is None else self.location(retail),
            "physicalLocation": None if retail is None else self.location(retail),
            "discountCodes": [d.code for d in order.discount_applications if d.code],
            "paymentGatewayNames": sorted({t.gateway for t in order.transactions}),
            "subtotalPriceSet": self.bag(order.subtotal),
            "totalPriceSet": self.bag(order.total_price),
            "totalTaxSet": self.bag(order.total_tax),
            "totalDiscountsSet": self.bag(order.total_discounts),
            "totalShippingPriceSet": self.bag(order.total_shipping),
            "totalTipReceivedSet": self.bag(order.tip),
            "totalRefundedSet": self.bag(order.total_refunded),
            "totalReceivedSet": self.bag(order.total_received),
            "currentTotalPriceSet": self.bag(order.total_price - order.total_refunded),
            "netPaymentSet": self.bag(order.total_received - order.total_refunded),
            "taxLines": [self.tax_line(t) for t in order.tax_lines],
            "lineItems": lambda _i, **a: paginate(
                order.line_items,
                key=keyed(lambda li: li.id),
                node=lambda li: self.line_item(order, li),
                **page_args(a),
            ),
            "shippingLines": lambda _i, **a: paginate(
                order.shipping_lines,
                key=keyed(lambda s: s.id),
                node=lambda s: {
                    "id": gid("ShippingLine", s.id),
                    "title": s.title,
                    "code": s.code,
                    "source": "shopify",
                    "originalPriceSet": self.bag(s.price),
                    "discountedPriceSet": self.bag(s.price),
                    "taxLines": [self.tax_line(t) for t in s.tax_lines],
                },
                **page_args(a),
            ),
            "discountApplications": lambda _i, **a: paginate(
                order.discount_applications,
                key=lambda d: (d.index, d.index),
                node=self.discount_application,
                **page_args(a),
            ),
            "refunds": lambda _i, first=None: [
                self.refund(order, r) for r in order.refunds[:first]
            ],
            "transactions": lambda _i, first=None: [
                self.transaction(order, t) for t in order.transactions[:first]
            ],
        }
