"""The seller's resources other than orders, as immutable records.

Money is an integer count of the currency's smallest unit, as Square's ``Money.amount``
is (https://developer.squareup.com/docs/build-basics/common-data-types/working-with-monetary-amounts);
the currency sits on the record.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Literal

TaxInclusion = Literal["ADDITIVE", "INCLUSIVE"]
PaymentSource = Literal["CARD", "CASH", "EXTERNAL"]
PayoutEntryType = Literal["CHARGE", "REFUND", "RETURNED_PAYOUT"]
PayoutStatus = Literal["SENT", "FAILED", "PAID"]


@dataclass(frozen=True, slots=True)
class SquareLocation:
    id: str
    name: str
    address_line_1: str
    locality: str
    region: str
    postal_code: str
    country: str
    timezone: str
    currency: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CatalogCategory:
    id: str
    name: str
    version: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CatalogTax:
    id: str
    name: str
    percentage: Decimal
    inclusion_type: TaxInclusion
    location_ids: tuple[str, ...]
    version: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ItemVariation:
    id: str
    item_id: str
    name: str
    sku: str
    price: int
    currency: str
    version: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class CatalogItem:
    id: str
    name: str
    category_id: str
    tax_ids: tuple[str, ...]
    variations: tuple[ItemVariation, ...]
    version: int
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class SquareCustomer:
    id: str
    given_name: str
    family_name: str
    email_address: str
    phone_number: str | None
    created_at: datetime
    updated_at: datetime
    version: int = 0


@dataclass(frozen=True, slots=True)
class Payment:
    """One tender taken against an order; ``amount`` excludes the tip."""

    id: str
    order_id: str
    location_id: str
    customer_id: str | None
    source_type: PaymentSource
    amount: int
    tip: int
    currency: str
    processing_fee: int
    created_at: datetime
    updated_at: datetime
    card_brand: str | None = None
    last_4: str | None = None
    cash_given: int | None = None
    refunded: int = 0
    refund_ids: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        return self.amount + self.tip


@dataclass(frozen=True, slots=True)
class PaymentRefund:
    id: str
    payment_id: str
    order_id: str
    location_id: str
    amount: int
    currency: str
    reason: str
    destination_type: PaymentSource
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Payout:
    """A transfer of the card balance of one location to the seller's bank account."""

    id: str
    location_id: str
    amount: int
    currency: str
    created_at: datetime
    arrival_date: date
    destination_id: str
    status: PayoutStatus = "PAID"
    version: int = 1
    updated_at: datetime | None = None
    """When the payout last changed; its creation until then."""


@dataclass(frozen=True, slots=True)
class PayoutEntry:
    id: str
    payout_id: str
    effective_at: datetime
    type: PayoutEntryType
    gross: int
    fee: int
    currency: str
    payment_id: str | None
    """The card payment a ``CHARGE`` or ``REFUND`` settles; none for a returned payout."""
    refund_id: str | None = None

    @property
    def net(self) -> int:
        return self.gross - self.fee


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    id: str
    client_id: str
    name: str
    event_types: tuple[str, ...]
    notification_url: str
    api_version: str
    signature_key: str
    created_at: datetime
    enabled: bool = True
