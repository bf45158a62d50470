"""Orders and their parts, as immutable records.

"Everything is an order": a sale carries line items and tenders; a return is a separate
order whose ``returns`` point back at the sale and whose ``refunds`` send money back; an
exchange is one order holding both a return and a new sale
(https://developer.squareup.com/blog/everything-is-an-order,
https://developer.squareup.com/docs/orders-api/order-returns-exchanges).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from salesync.sandbox.square.records import TaxInclusion

OrderState = Literal["OPEN", "COMPLETED", "CANCELED"]
Scope = Literal["ORDER", "LINE_ITEM"]
DiscountType = Literal["FIXED_PERCENTAGE", "FIXED_AMOUNT"]
TenderType = Literal["CARD", "CASH", "OTHER"]
Applied = tuple[tuple[str, int], ...]
"""(uid of an order-level tax or discount, amount it applied to this line)."""


@dataclass(frozen=True, slots=True)
class OrderTax:
    uid: str
    name: str
    percentage: Decimal
    type: TaxInclusion
    scope: Scope
    catalog_object_id: str | None = None
    applied: int = 0
    source_tax_uid: str | None = None


@dataclass(frozen=True, slots=True)
class OrderDiscount:
    uid: str
    name: str
    type: DiscountType
    scope: Scope
    percentage: Decimal | None = None
    amount: int | None = None
    applied: int = 0
    source_discount_uid: str | None = None


@dataclass(frozen=True, slots=True)
class OrderServiceCharge:
    uid: str
    name: str
    percentage: Decimal | None
    amount: int
    applied: int = 0


@dataclass(frozen=True, slots=True)
class LineItem:
    """A sold (or, with ``source_line_item_uid``, returned) line and what it came to."""

    uid: str
    name: str
    quantity: int
    base_price: int
    catalog_object_id: str | None = None
    variation_name: str | None = None
    applied_taxes: Applied = ()
    applied_discounts: Applied = ()
    total_tax: int = 0
    total_discount: int = 0
    total: int = 0
    source_line_item_uid: str | None = None

    @property
    def gross(self) -> int:
        return self.base_price * self.quantity


@dataclass(frozen=True, slots=True)
class Tender:
    """Money taken for the order; ``amount`` includes ``tip``, as Square's tenders do."""

    id: str
    type: TenderType
    amount: int
    tip: int
    payment_id: str
    created_at: datetime
    card_brand: str | None = None
    last_4: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class OrderReturn:
    uid: str
    source_order_id: str
    line_items: tuple[LineItem, ...]
    taxes: tuple[OrderTax, ...]
    discounts: tuple[OrderDiscount, ...]


@dataclass(frozen=True, slots=True)
class OrderRefund:
    id: str
    tender_id: str
    transaction_id: str
    location_id: str
    amount: int
    reason: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Amounts:
    total: int = 0
    tax: int = 0
    discount: int = 0
    tip: int = 0
    service_charge: int = 0

    def minus(self, other: Amounts) -> Amounts:
        return Amounts(
            self.total - other.total,
            self.tax - other.tax,
            self.discount - other.discount,
            self.tip - other.tip,
            self.service_charge - other.service_charge,
        )


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    location_id: str
    currency: str
    state: OrderState
    version: int
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None = None
    customer_id: str | None = None
    reference_id: str | None = None
    source_name: str = "Square Point of Sale"
    line_items: tuple[LineItem, ...] = ()
    taxes: tuple[OrderTax, ...] = ()
    discounts: tuple[OrderDiscount, ...] = ()
    service_charges: tuple[OrderServiceCharge, ...] = ()
    tenders: tuple[Tender, ...] = ()
    returns: tuple[OrderReturn, ...] = ()
    refunds: tuple[OrderRefund, ...] = ()
    amounts: Amounts = field(default_factory=Amounts)
    return_amounts: Amounts = field(default_factory=Amounts)

    @property
    def net_amounts(self) -> Amounts:
        return self.amounts.minus(self.return_amounts)
