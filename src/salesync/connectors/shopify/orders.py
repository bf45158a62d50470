"""One Shopify order, whichever shape it came in.

Webhooks carry REST-shaped JSON and the sweep reads GraphQL nodes. Both are first read
into these records, and documents are built from these alone, so the same state of an
order always becomes the same document whichever way it arrived (an order seen through a
webhook and again through the sweep is a duplicate, not an edit).

That is also why only what *both* shapes say is kept: REST line items carry no product
type and REST orders carry no per-tender amounts or card brands, so documents carry
neither (``tenders`` is ``None`` when the shape does not say how much each gateway took).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


def legacy_id(value: str | int) -> str:
    """The numeric id of a global id (``gid://shopify/Order/5001`` gives ``5001``)."""
    return str(value).rsplit("/", 1)[-1]


@dataclass(frozen=True, slots=True)
class ShopifyTax:
    title: str
    rate: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ShopifyLine:
    id: str
    name: str
    sku: str | None
    quantity: int
    gift_card: bool
    unit_price: Decimal
    discounts: tuple[tuple[str, Decimal], ...]
    """Each discount allocated to the line: its code or title, and the amount."""
    taxes: tuple[ShopifyTax, ...]


@dataclass(frozen=True, slots=True)
class ShopifyShipping:
    price: Decimal
    """After shipping discounts."""
    taxes: tuple[ShopifyTax, ...]


@dataclass(frozen=True, slots=True)
class ShopifyTender:
    """Money that moved through a gateway: positive when taken, negative for change given."""

    gateway: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class ShopifyRefundLine:
    line_id: str
    quantity: int
    subtotal: Decimal
    tax: Decimal


@dataclass(frozen=True, slots=True)
class ShopifyRefund:
    id: str
    created_at: datetime | None
    note: str | None
    lines: tuple[ShopifyRefundLine, ...]
    tenders: tuple[ShopifyTender, ...]
    """Successful refund transactions only: the money actually given back."""
    truncated: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ShopifyOrder:
    id: str
    name: str
    processed_at: datetime
    updated_at: datetime
    """When Shopify last changed the order: it stamps the state the sale and refunds
    read from this record were read in, and so orders their deliveries."""
    test: bool
    currency: str
    taxes_included: bool
    financial_status: str
    """``displayFinancialStatus`` in upper case (``PAID``, ``PENDING``...)."""
    customer_id: str | None
    location_id: str | None
    """The POS location that sold it; ``None`` for online orders."""
    total_price: Decimal
    tip: Decimal
    lines: tuple[ShopifyLine, ...]
    shipping: tuple[ShopifyShipping, ...]
    tenders: tuple[ShopifyTender, ...] | None
    gateways: tuple[str, ...]
    refunds: tuple[ShopifyRefund, ...]
    truncated: tuple[str, ...] = ()
    """Paths of connections Shopify returned only part of."""

    def line(self, line_id: str) -> ShopifyLine | None:
        return next((li for li in self.lines if li.id == line_id), None)


def rate(value: Decimal | None) -> Decimal:
    """A tax rate in one canonical form (``0.0450`` and ``0.045`` are the same rate),
    written without an exponent."""
    if value is None:
        return Decimal(0)
    return Decimal(format(value.normalize(), "f"))
