"""REST-shaped Shopify JSON, as webhooks carry it, read into the connector's records.

Field names follow the REST Admin API resources and the webhook sample payloads
(https://shopify.dev/docs/api/webhooks); money is a decimal string in the shop currency.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict

from salesync.connectors.shopify.orders import (
    ShopifyLine,
    ShopifyOrder,
    ShopifyRefund,
    ShopifyRefundLine,
    ShopifyShipping,
    ShopifyTax,
    ShopifyTender,
    rate,
)


class _Rest(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RestTax(_Rest):
    title: str
    rate: Decimal | None = None
    price: Decimal


class RestAllocation(_Rest):
    amount: Decimal
    discount_application_index: int


class RestDiscountApplication(_Rest):
    type: str
    title: str | None = None
    code: str | None = None

    @property
    def label(self) -> str:
        if self.type == "discount_code" and self.code:
            return self.code
        return self.title or self.code or "Discount"


class RestLineItem(_Rest):
    id: int
    name: str
    sku: str | None = None
    quantity: int
    gift_card: bool = False
    price: Decimal
    tax_lines: tuple[RestTax, ...] = ()
    discount_allocations: tuple[RestAllocation, ...] = ()


class RestShippingLine(_Rest):
    price: Decimal
    discounted_price: Decimal | None = None
    tax_lines: tuple[RestTax, ...] = ()


class RestTransaction(_Rest):
    kind: str
    status: str
    gateway: str
    amount: Decimal


class RestRefundLine(_Rest):
    line_item_id: int
    quantity: int
    subtotal: Decimal
    total_tax: Decimal = Decimal(0)


class RestRefund(_Rest):
    id: int
    created_at: AwareDatetime | None = None
    note: str | None = None
    refund_line_items: tuple[RestRefundLine, ...] = ()
    transactions: tuple[RestTransaction, ...] = ()


class RestReference(_Rest):
    id: int


class RestOrder(_Rest):
    id: int
    name: str
    processed_at: AwareDatetime
    updated_at: AwareDatetime
    test: bool = False
    currency: str
    taxes_included: bool = False
    financial_status: str | None = None
    source_name: str | None = None
    location_id: int | None = None
    customer: RestReference | None = None
    total_price: Decimal
    total_tip_received: Decimal = Decimal(0)
    line_items: tuple[RestLineItem, ...]
    shipping_lines: tuple[RestShippingLine, ...] = ()
    discount_applications: tuple[RestDiscountApplication, ...] = ()
    payment_gateway_names: tuple[str, ...] = ()
    refunds: tuple[RestRefund, ...] = ()


class RestOrderRefund(_Rest):
    """An order's refund, kept with its order (see ``webhooks.py``)."""

    refund_id: int
    order: RestOrder


class RestCustomer(_Rest):
    id: int
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None


class RestVariant(_Rest):
    id: int
    title: str
    sku: str | None = None
    price: Decimal
    taxable: bool = True


class RestProduct(_Rest):
    id: int
    title: str
    product_type: str = ""
    variants: tuple[RestVariant, ...] = ()


class RestProductVariant(_Rest):
    """One variant of a product, kept with its product (see ``webhooks.py``)."""

    variant_id: int
    product: RestProduct


def _taxes(lines: tuple[RestTax, ...]) -> tuple[ShopifyTax, ...]:
    return tuple(ShopifyTax(t.title, rate(t.rate), t.price) for t in lines)


def _refund(refund: RestRefund) -> ShopifyRefund:
    return ShopifyRefund(
        id=str(refund.id),
        created_at=refund.created_at,
        note=refund.note,
        lines=tuple(
            ShopifyRefundLine(str(r.line_item_id), r.quantity, r.subtotal, r.total_tax)
            for r in refund.refund_line_items
        ),
        tenders=tuple(
            ShopifyTender(t.gateway, t.amount)
            for t in refund.transactions
            if t.kind.lower() == "refund" and t.status.lower() == "success"
        ),
    )


def rest_order(order: RestOrder) -> ShopifyOrder:
    """The connector's record of a REST order."""
    applications = order.discount_applications

    def label(index: int) -> str:
        return applications[index].label if 0 <= index < len(applications) else "Discount"

    lines = tuple(
        ShopifyLine(
            id=str(li.id),
            name=li.name,
            sku=li.sku or None,
            quantity=li.quantity,
            gift_card=li.gift_card,
            unit_price=li.price,
            discounts=tuple(
                (label(a.discount_application_index), a.amount) for a in li.discount_allocations
            ),
            taxes=_taxes(li.tax_lines),
        )
        for li in order.line_items
    )
    # The REST location_id is where an order was assigned for fulfilment; only a POS
    # order's is where it was sold (GraphQL's retailLocation, which the sweep reads).
    location = order.location_id if order.source_name == "pos" else None
    return ShopifyOrder(
        id=str(order.id),
        name=order.name,
        processed_at=order.processed_at,
        updated_at=order.updated_at,
        test=order.test,
        currency=order.currency,
        taxes_included=order.taxes_included,
        financial_status=(order.financial_status or "").upper(),
        customer_id=None if order.customer is None else str(order.customer.id),
        location_id=None if location is None else str(location),
        total_price=order.total_price,
        tip=order.total_tip_received,
        lines=lines,
        shipping=tuple(
            ShopifyShipping(
                s.price if s.discounted_price is None else s.discounted_price, _taxes(s.tax_lines)
            )
            for s in order.shipping_lines
        ),
        tenders=None,
        gateways=order.payment_gateway_names,
        refunds=tuple(_refund(r) for r in order.refunds),
    )
