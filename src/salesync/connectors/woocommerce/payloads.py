"""The REST API v3 resources salesync reads, as far as it reads them.

Money comes as decimal strings ("12.25"); times as ``date_x_gmt`` in UTC without an
offset (https://woocommerce.github.io/woocommerce-rest-api-docs/#order-properties).
Refund amounts are negative in their lines and positive in ``amount``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _gmt(value: object) -> object:
    """``2026-03-02T14:00:00`` (UTC, as WooCommerce writes ``_gmt`` fields) with its offset."""
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return value


def _amount(value: object) -> object:
    """An empty string is how WooCommerce writes an amount it has none of."""
    return "0" if value == "" else value


Gmt = Annotated[datetime, BeforeValidator(_gmt)]
MaybeGmt = Annotated[datetime | None, BeforeValidator(_gmt)]
Amount = Annotated[Decimal, BeforeValidator(_amount)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class TaxShare(_Model):
    id: int
    total: Amount


class LineItem(_Model):
    id: int
    name: str = ""
    product_id: int = 0
    quantity: Decimal
    subtotal: Amount
    total: Amount
    total_tax: Amount = Decimal(0)
    taxes: list[TaxShare] = []
    sku: str | None = ""


class TaxLine(_Model):
    rate_id: int
    label: str = ""
    rate_percent: Decimal = Decimal(0)


class ShippingLine(_Model):
    method_title: str = ""
    total: Amount
    total_tax: Amount = Decimal(0)
    taxes: list[TaxShare] = []


class FeeLine(_Model):
    name: str = ""
    total: Amount
    total_tax: Amount = Decimal(0)
    taxes: list[TaxShare] = []


class Billing(_Model):
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    phone: str = ""


class Order(_Model):
    id: int
    number: str = ""
    status: str
    currency: str = Field(min_length=3, max_length=3)
    created_via: str = ""
    prices_include_tax: bool = False
    total: Amount
    customer_id: int = 0
    payment_method: str = ""
    payment_method_title: str = ""
    transaction_id: str = ""
    date_created_gmt: Gmt
    date_modified_gmt: MaybeGmt = None
    date_paid_gmt: MaybeGmt = None
    line_items: list[LineItem] = []
    tax_lines: list[TaxLine] = []
    shipping_lines: list[ShippingLine] = []
    fee_lines: list[FeeLine] = []


class Refund(_Model):
    id: int
    reason: str = ""
    amount: Amount
    date_created_gmt: Gmt
    refunded_payment: bool = False
    line_items: list[LineItem] = []
    shipping_lines: list[ShippingLine] = []
    fee_lines: list[FeeLine] = []


class RefundRecord(_Model):
    """A refund with the order it belongs to, as salesync stores it."""

    refund: Refund
    order: Order


class WooCustomer(_Model):
    id: int
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    username: str = ""
    billing: Billing = Billing()


class Category(_Model):
    name: str = ""


class WooProduct(_Model):
    id: int
    name: str = ""
    sku: str = ""
    status: str = "publish"
    price: Amount = Decimal(0)
    tax_status: str = "taxable"
    categories: list[Category] = []
