"""Square's JSON as pydantic models: the parts of orders, customers, catalog items, payouts
and webhook events that salesync reads, checked where they enter.

Unknown fields are ignored, since Square adds fields in new API versions; a missing or
mistyped field salesync needs is a problem with the path to it. Amounts are ``Money``
objects holding integer minor units
(https://developer.squareup.com/docs/build-basics/common-data-types/working-with-monetary-amounts).

Records are envelopes around Square's objects: an order travels with the catalog facts of
its lines (Square's line items name a variation id, not its SKU or category) and, for a
return, the tenders it refunds (a refund names the original tender only by id); a payout
travels with its entries and the orders their payments and refunds belong to.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, StrictInt, StrictStr, field_validator

from salesync.domain.money import Money, minor_unit


class SquareModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class SquareMoney(SquareModel):
    amount: StrictInt
    currency: StrictStr

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        minor_unit(value)
        return value

    def money(self) -> Money:
        return Money.from_minor(self.amount, self.currency)


class AppliedTax(SquareModel):
    tax_uid: StrictStr
    applied_money: SquareMoney


class AppliedDiscount(SquareModel):
    discount_uid: StrictStr
    applied_money: SquareMoney


class LineItem(SquareModel):
    """A sold line, or in a return, a returned one."""

    uid: str | None = None
    name: str = ""
    quantity: Decimal
    item_type: str = "ITEM"
    catalog_object_id: str | None = None
    variation_name: str | None = None
    base_price_money: SquareMoney
    gross_sales_money: SquareMoney | None = None
    total_discount_money: SquareMoney | None = None
    total_money: SquareMoney | None = None
    applied_taxes: tuple[AppliedTax, ...] = ()
    applied_discounts: tuple[AppliedDiscount, ...] = ()


class OrderTax(SquareModel):
    uid: StrictStr
    name: str = "Tax"
    percentage: Decimal | None = None
    type: str = "ADDITIVE"


class OrderDiscount(SquareModel):
    uid: StrictStr
    name: str = "Discount"


class ServiceCharge(SquareModel):
    name: str = "Service charge"
    applied_money: SquareMoney | None = None
    total_money: SquareMoney | None = None
    applied_taxes: tuple[AppliedTax, ...] = ()


class Card(SquareModel):
    card_brand: str | None = None


class CardDetails(SquareModel):
    card: Card | None = None


class Tender(SquareModel):
    id: StrictStr
    type: StrictStr
    amount_money: SquareMoney
    card_details: CardDetails | None = None

    @property
    def card_brand(self) -> str | None:
        card = self.card_details.card if self.card_details else None
        return card.card_brand if card else None


class OrderReturn(SquareModel):
    source_order_id: str | None = None
    return_line_items: tuple[LineItem, ...] = ()
    return_taxes: tuple[OrderTax, ...] = ()
    return_discounts: tuple[OrderDiscount, ...] = ()


class OrderRefund(SquareModel):
    id: StrictStr
    tender_id: StrictStr
    amount_money: SquareMoney
    reason: str | None = None
    status: str = "COMPLETED"


class Amounts(SquareModel):
    total_money: SquareMoney | None = None


class Order(SquareModel):
    id: StrictStr
    location_id: str | None = None
    state: StrictStr
    version: int = 0
    created_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    """When Square last changed the order
    (https://developer.squareup.com/reference/square/objects/Order): what tells an edit
    from a late delivery. ``version`` also grows with each edit, but documents keep a time."""
    closed_at: AwareDatetime | None = None
    customer_id: str | None = None
    reference_id: str | None = None
    line_items: tuple[LineItem, ...] = ()
    taxes: tuple[OrderTax, ...] = ()
    discounts: tuple[OrderDiscount, ...] = ()
    service_charges: tuple[ServiceCharge, ...] = ()
    tenders: tuple[Tender, ...] = ()
    returns: tuple[OrderReturn, ...] = ()
    refunds: tuple[OrderRefund, ...] = ()
    total_money: SquareMoney
    total_tip_money: SquareMoney | None = None
    return_amounts: Amounts | None = None

    @property
    def completed_at(self) -> AwareDatetime:
        """When the sale or return happened: when the order was closed."""
        return self.closed_at or self.updated_at or self.created_at


class CatalogFacts(SquareModel):
    """What the catalog said about a line's variation when the order was read."""

    sku: StrictStr
    item: str = ""
    category: str = ""


class OrderRecord(SquareModel):
    """An ``order`` or ``order_return`` record: the order, its lines' catalog facts and,
    for a return, the refunded tenders of the orders it returns from, by tender id."""

    order: Order
    catalog: dict[str, CatalogFacts] = {}
    source_tenders: dict[str, Tender] = {}


class SquareCustomer(SquareModel):
    id: StrictStr
    given_name: str | None = None
    family_name: str | None = None
    company_name: str | None = None
    nickname: str | None = None
    email_address: str | None = None
    phone_number: str | None = None


class VariationData(SquareModel):
    name: str = ""
    sku: str | None = None
    price_money: SquareMoney | None = None


class CatalogVariation(SquareModel):
    id: StrictStr
    is_deleted: bool = False
    item_variation_data: VariationData


class ItemData(SquareModel):
    name: str = ""
    tax_ids: tuple[str, ...] = ()


class CatalogItem(SquareModel):
    id: StrictStr
    is_deleted: bool = False
    item_data: ItemData


class VariationRecord(SquareModel):
    """An ``item_variation`` record: one sellable variation, its item, the name of the
    item's category, and the account's currency for a variation with no fixed price."""

    item: CatalogItem
    variation: CatalogVariation
    category: str = ""
    currency: StrictStr

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        minor_unit(value)
        return value


class ChargeDetails(SquareModel):
    payment_id: StrictStr


class RefundDetails(SquareModel):
    refund_id: StrictStr
    payment_id: str | None = None


class PayoutEntry(SquareModel):
    id: StrictStr
    type: StrictStr
    gross_amount_money: SquareMoney
    fee_amount_money: SquareMoney
    net_amount_money: SquareMoney
    type_charge_details: ChargeDetails | None = None
    type_refund_details: RefundDetails | None = None


class SquarePayout(SquareModel):
    id: StrictStr
    status: StrictStr
    location_id: str | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime | None = None
    """When Square last changed the payout, e.g. its status
    (https://developer.squareup.com/reference/square/objects/Payout)."""
    amount_money: SquareMoney


class PayoutRecord(SquareModel):
    """A ``payout`` record: the payout, all its entries, and the order each entry's
    payment (or refund) belongs to, keyed by payment or refund id."""

    payout: SquarePayout
    entries: tuple[PayoutEntry, ...] = ()
    orders: dict[str, str] = {}


class EventData(SquareModel):
    type: str = ""
    id: str = ""
    object: dict[str, Any] | None = None


class SquareEvent(SquareModel):
    """A webhook notification's body
    (https://developer.squareup.com/docs/webhooks/step3validate)."""

    merchant_id: str | None = None
    type: StrictStr
    event_id: StrictStr
    created_at: AwareDatetime
    data: EventData | None = None
