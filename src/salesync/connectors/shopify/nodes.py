"""GraphQL Admin API nodes, as the sweep stores them, read into the connector's records.

Field names follow https://shopify.dev/docs/api/admin-graphql; amounts are read from
``shopMoney`` (the shop currency) as the REST shapes state them.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from salesync.connectors.shopify.orders import (
    ShopifyLine,
    ShopifyOrder,
    ShopifyRefund,
    ShopifyRefundLine,
    ShopifyShipping,
    ShopifyTax,
    ShopifyTender,
    legacy_id,
    rate,
)

SALE_KINDS = {"SALE", "CAPTURE"}


class GraphNode(BaseModel):
    """A GraphQL object: camelCase fields, anything not listed ignored."""

    model_config = ConfigDict(
        extra="ignore", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class MoneyV2(GraphNode):
    amount: Decimal
    currency_code: str | None = None


class MoneyBag(GraphNode):
    shop_money: MoneyV2


class PageInfo(GraphNode):
    has_next_page: bool = False


class Reference(GraphNode):
    legacy_resource_id: str


class GlobalReference(GraphNode):
    id: str


class TaxLineNode(GraphNode):
    title: str
    rate: Decimal | None = None
    price_set: MoneyBag


class DiscountApplicationNode(GraphNode):
    typename: str = Field(default="", alias="__typename")
    code: str | None = None
    title: str | None = None

    @property
    def label(self) -> str:
        if self.typename == "DiscountCodeApplication" and self.code:
            return self.code
        return self.title or self.code or "Discount"


class DiscountAllocationNode(GraphNode):
    allocated_amount_set: MoneyBag
    discount_application: DiscountApplicationNode


class LineItemNode(GraphNode):
    id: str
    name: str
    sku: str | None = None
    quantity: int
    is_gift_card: bool = False
    original_unit_price_set: MoneyBag
    discount_allocations: tuple[DiscountAllocationNode, ...] = ()
    tax_lines: tuple[TaxLineNode, ...] = ()


class LineItemConnection(GraphNode):
    page_info: PageInfo = PageInfo()
    nodes: tuple[LineItemNode, ...]


class ShippingLineNode(GraphNode):
    discounted_price_set: MoneyBag
    tax_lines: tuple[TaxLineNode, ...] = ()


class ShippingLineConnection(GraphNode):
    page_info: PageInfo = PageInfo()
    nodes: tuple[ShippingLineNode, ...] = ()


class TransactionNode(GraphNode):
    kind: str
    status: str
    gateway: str | None = None
    amount_set: MoneyBag


class TransactionConnection(GraphNode):
    page_info: PageInfo = PageInfo()
    nodes: tuple[TransactionNode, ...] = ()


class RefundLineItemNode(GraphNode):
    quantity: int
    line_item: GlobalReference
    subtotal_set: MoneyBag
    total_tax_set: MoneyBag | None = None


class RefundLineItemConnection(GraphNode):
    page_info: PageInfo = PageInfo()
    nodes: tuple[RefundLineItemNode, ...] = ()


class RefundNode(GraphNode):
    legacy_resource_id: str
    created_at: AwareDatetime | None = None
    note: str | None = None
    refund_line_items: RefundLineItemConnection = RefundLineItemConnection()
    transactions: TransactionConnection = TransactionConnection()


class OrderNode(GraphNode):
    legacy_resource_id: str
    name: str
    processed_at: AwareDatetime
    updated_at: AwareDatetime
    test: bool = False
    currency_code: str
    taxes_included: bool = False
    display_financial_status: str | None = None
    customer: Reference | None = None
    retail_location: Reference | None = None
    total_price_set: MoneyBag
    total_tip_received_set: MoneyBag | None = None
    line_items: LineItemConnection
    shipping_lines: ShippingLineConnection = ShippingLineConnection()
    transactions: tuple[TransactionNode, ...] = ()
    refunds: tuple[RefundNode, ...] = ()


class OrderNodeRefund(BaseModel):
    """An order's refund, kept with its order (see ``client.py``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    refund_id: str
    order: OrderNode


class CustomerNode(GraphNode):
    legacy_resource_id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    phone: str | None = None


class VariantNode(GraphNode):
    legacy_resource_id: str
    title: str
    sku: str | None = None
    price: Decimal
    taxable: bool = True


class VariantConnection(GraphNode):
    page_info: PageInfo = PageInfo()
    nodes: tuple[VariantNode, ...] = ()


class ProductNode(GraphNode):
    legacy_resource_id: str
    title: str
    product_type: str = ""
    variants: VariantConnection = VariantConnection()


class ProductNodeVariant(BaseModel):
    """One variant of a product, kept with its product (see ``client.py``)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    variant_id: str
    product: ProductNode


def _amount(bag: MoneyBag | None) -> Decimal:
    return Decimal(0) if bag is None else bag.shop_money.amount


def _taxes(lines: tuple[TaxLineNode, ...]) -> tuple[ShopifyTax, ...]:
    return tuple(ShopifyTax(t.title, rate(t.rate), _amount(t.price_set)) for t in lines)


def _refund(refund: RefundNode, path: str) -> ShopifyRefund:
    cut = [
        f"{path}.{name}"
        for name, connection in (
            ("refundLineItems", refund.refund_line_items),
            ("transactions", refund.transactions),
        )
        if connection.page_info.has_next_page
    ]
    return ShopifyRefund(
        id=refund.legacy_resource_id,
        created_at=refund.created_at,
        note=refund.note,
        lines=tuple(
            ShopifyRefundLine(
                legacy_id(r.line_item.id),
                r.quantity,
                _amount(r.subtotal_set),
                _amount(r.total_tax_set),
            )
            for r in refund.refund_line_items.nodes
        ),
        tenders=tuple(
            ShopifyTender(t.gateway or "unknown", _amount(t.amount_set))
            for t in refund.transactions.nodes
            if t.kind == "REFUND" and t.status == "SUCCESS"
        ),
        truncated=tuple(cut),
    )


def _tenders(transactions: tuple[TransactionNode, ...]) -> tuple[ShopifyTender, ...]:
    tenders = []
    for t in transactions:
        if t.status != "SUCCESS":
            continue
        if t.kind in SALE_KINDS:
            tenders.append(ShopifyTender(t.gateway or "unknown", _amount(t.amount_set)))
        elif t.kind == "CHANGE":
            tenders.append(ShopifyTender(t.gateway or "unknown", -_amount(t.amount_set)))
    return tuple(tenders)


def node_order(order: OrderNode) -> ShopifyOrder:
    """The connector's record of a GraphQL order node."""
    lines = tuple(
        ShopifyLine(
            id=legacy_id(li.id),
            name=li.name,
            sku=li.sku or None,
            quantity=li.quantity,
            gift_card=li.is_gift_card,
            unit_price=_amount(li.original_unit_price_set),
            discounts=tuple(
                (a.discount_application.label, _amount(a.allocated_amount_set))
                for a in li.discount_allocations
            ),
            taxes=_taxes(li.tax_lines),
        )
        for li in order.line_items.nodes
    )
    cut = [
        name
        for name, connection in (
            ("lineItems", order.line_items),
            ("shippingLines", order.shipping_lines),
        )
        if connection.page_info.has_next_page
    ]
    tenders = _tenders(order.transactions)
    return ShopifyOrder(
        id=order.legacy_resource_id,
        name=order.name,
        processed_at=order.processed_at,
        updated_at=order.updated_at,
        test=order.test,
        currency=order.currency_code,
        taxes_included=order.taxes_included,
        financial_status=(order.display_financial_status or "").upper(),
        customer_id=None if order.customer is None else order.customer.legacy_resource_id,
        location_id=(
            None if order.retail_location is None else order.retail_location.legacy_resource_id
        ),
        total_price=_amount(order.total_price_set),
        tip=_amount(order.total_tip_received_set),
        lines=lines,
        shipping=tuple(
            ShopifyShipping(_amount(s.discounted_price_set), _taxes(s.tax_lines))
            for s in order.shipping_lines.nodes
        ),
        tenders=tenders,
        gateways=tuple(dict.fromkeys(t.gateway for t in tenders)),
        refunds=tuple(_refund(r, f"refunds[{i}]") for i, r in enumerate(order.refunds)),
        truncated=tuple(cut),
    )
