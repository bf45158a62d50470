"""What a simulated Shopify store holds: immutable records, amounts in the shop currency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

CENT = Decimal("0.01")


def money(value: Decimal) -> Decimal:
    """Round to the cent the way Shopify presents shop-currency amounts."""
    return value.quantize(CENT)


def gid(kind: str, number: int) -> str:
    """Shopify's global ID for a resource, e.g. ``gid://shopify/Order/5001``."""
    return f"gid://shopify/{kind}/{number}"


@dataclass(frozen=True, slots=True)
class ShopifyLocation:
    id: int
    name: str
    address1: str
    city: str
    province_code: str
    country_code: str
    zip: str
    fulfills_online_orders: bool
    created_at: datetime
    updated_at: datetime
    is_active: bool = True


@dataclass(frozen=True, slots=True)
class ShopifyCustomer:
    id: int
    first_name: str
    last_name: str
    email: str
    phone: str | None
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    state: Literal["ENABLED", "DISABLED", "INVITED", "DECLINED"] = "ENABLED"


@dataclass(frozen=True, slots=True)
class ShopifyVariant:
    id: int
    product_id: int
    title: str
    sku: str
    price: Decimal
    taxable: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ShopifyProduct:
    id: int
    title: str
    handle: str
    vendor: str
    product_type: str
    variants: tuple[ShopifyVariant, ...]
    created_at: datetime
    updated_at: datetime
    status: Literal["ACTIVE", "ARCHIVED", "DRAFT"] = "ACTIVE"


@dataclass(frozen=True, slots=True)
class TaxLine:
    title: str
    rate: Decimal
    price: Decimal


@dataclass(frozen=True, slots=True)
class DiscountApplication:
    """How a discount was applied; allocations point at it by ``index``."""

    index: int
    kind: Literal["code", "manual", "automatic"]
    title: str
    value_type: Literal["percentage", "fixed_amount"]
    value: Decimal
    target_type: Literal["line_item", "shipping_line"] = "line_item"
    target_selection: Literal["all", "entitled", "explicit"] = "all"
    allocation_method: Literal["across", "each"] = "across"
    code: str | None = None


@dataclass(frozen=True, slots=True)
class DiscountAllocation:
    amount: Decimal
    application_index: int


@dataclass(frozen=True, slots=True)
class LineItem:
    id: int
    title: str
    quantity: int
    price: Decimal
    sku: str | None
    product_id: int | None
    variant_id: int | None
    variant_title: str | None
    taxable: bool
    is_gift_card: bool
    requires_shipping: bool
    tax_lines: tuple[TaxLine, ...]
    discount_allocations: tuple[DiscountAllocation, ...]

    @property
    def original_total(self) -> Decimal:
        return money(self.price * self.quantity)

    @property
    def total_discount(self) -> Decimal:
        return money(sum((a.amount for a in self.discount_allocations), Decimal(0)))

    @property
    def discounted_total(self) -> Decimal:
        return self.original_total - self.total_discount

    @property
    def total_tax(self) -> Decimal:
        return money(sum((t.price for t in self.tax_lines), Decimal(0)))


@dataclass(frozen=True, slots=True)
class ShippingLine:
    id: int
    title: str
    code: str
    price: Decimal
    tax_lines: tuple[TaxLine, ...]


TransactionKind = Literal["SALE", "CAPTURE", "AUTHORIZATION", "REFUND", "VOID", "CHANGE"]


@dataclass(frozen=True, slots=True)
class Transaction:
    """A movement of money on an order; ``gateway`` says which rail carried it."""

    id: int
    kind: TransactionKind
    gateway: str
    amount: Decimal
    processed_at: datetime
    location_id: int | None
    card_brand: str | None = None
    card_last4: str | None = None
    parent_id: int | None = None
    status: Literal["SUCCESS", "FAILURE", "PENDING", "ERROR"] = "SUCCESS"
    test: bool = False


@dataclass(frozen=True, slots=True)
class RefundLineItem:
    id: int
    line_item_id: int
    quantity: int
    subtotal: Decimal
    total_tax: Decimal
    restock_type: Literal["NO_RESTOCK", "CANCEL", "RETURN", "LEGACY_RESTOCK"] = "RETURN"


@dataclass(frozen=True, slots=True)
class Refund:
    id: int
    order_id: int
    created_at: datetime
    note: str | None
    refund_line_items: tuple[RefundLineItem, ...]
    transactions: tuple[Transaction, ...]

    @property
    def total_refunded(self) -> Decimal:
        return money(sum((t.amount for t in self.transactions), Decimal(0)))


@dataclass(frozen=True, slots=True)
class Order:
    id: int
    number: int
    created_at: datetime
    updated_at: datetime
    processed_at: datetime
    currency: str
    source_name: str
    location_id: int | None
    customer_id: int | None
    email: str | None
    line_items: tuple[LineItem, ...]
    shipping_lines: tuple[ShippingLine, ...]
    discount_applications: tuple[DiscountApplication, ...]
    transactions: tuple[Transaction, ...]
    refunds: tuple[Refund, ...] = ()
    tip: Decimal = Decimal("0.00")
    taxes_included: bool = False
    test: bool = False
    note: str | None = None
    tags: tuple[str, ...] = ()
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None

    @property
    def name(self) -> str:
        return f"#{self.number}"

    @property
    def subtotal(self) -> Decimal:
        """Line items after their discounts, before shipping, tax and tips."""
        return money(sum((li.discounted_total for li in self.line_items), Decimal(0)))

    @property
    def total_shipping(self) -> Decimal:
        return money(sum((s.price for s in self.shipping_lines), Decimal(0)))

    @property
    def total_discounts(self) -> Decimal:
        return money(sum((li.total_discount for li in self.line_items), Decimal(0)))

    @property
    def tax_lines(self) -> tuple[TaxLine, ...]:
        """Tax summed by title and rate over lines and shipping, as the order shows it."""
        totals: dict[tuple[str, Decimal], Decimal] = {}
        for tax in [t for li in self.line_items for t in li.tax_lines] + [
            t for s in self.shipping_lines for t in s.tax_lines
        ]:
            key = (tax.title, tax.rate)
            totals[key] = totals.get(key, Decimal(0)) + tax.price
        return tuple(TaxLine(title, rate, money(p)) for (title, rate), p in totals.items())

    @property
    def total_tax(self) -> Decimal:
        return money(sum((t.price for t in self.tax_lines), Decimal(0)))

    @property
    def total_price(self) -> Decimal:
        """What the buyer was charged: lines, shipping, tax (unless included) and tips."""
        tax = Decimal(0) if self.taxes_included else self.total_tax
        return money(self.subtotal + self.total_shipping + tax + self.tip)

    @property
    def total_received(self) -> Decimal:
        sales = [t for t in self.transactions if t.kind in ("SALE", "CAPTURE")]
        change = [t for t in self.transactions if t.kind == "CHANGE"]
        return money(
            sum((t.amount for t in sales), Decimal(0)) - sum((t.amount for t in change), Decimal(0))
        )

    @property
    def total_refunded(self) -> Decimal:
        return money(sum((r.total_refunded for r in self.refunds), Decimal(0)))

    @property
    def financial_status(self) -> str:
        """Shopify's ``displayFinancialStatus`` derived from what was paid and refunded."""
        if self.total_refunded and self.total_refunded >= self.total_received:
            return "REFUNDED"
        if self.total_refunded:
            return "PARTIALLY_REFUNDED"
        if self.total_received >= self.total_price:
            return "PAID"
        return "PARTIALLY_PAID" if self.total_received else "PENDING"


@dataclass(frozen=True, slots=True)
class BalanceTransaction:
    """One movement on the Shopify Payments balance; ``net`` = ``amount`` - ``fee``."""

    id: int
    type: Literal["CHARGE", "REFUND", "ADJUSTMENT", "TRANSFER"]
    amount: Decimal
    fee: Decimal
    currency: str
    processed_at: datetime
    order_id: int | None
    order_name: str | None
    source_order_transaction_id: int | None
    payout_id: int | None = None
    adjustment_reason: str | None = None
    test: bool = False

    @property
    def net(self) -> Decimal:
        return self.amount - self.fee


@dataclass(frozen=True, slots=True)
class Payout:
    """A transfer of the balance to the bank; the summary adds up to ``net``."""

    id: int
    issued_at: datetime
    currency: str
    status: Literal["SCHEDULED", "IN_TRANSIT", "PAID", "FAILED", "CANCELED"]
    charges_gross: Decimal
    charges_fee: Decimal
    refunds_gross: Decimal
    refunds_fee: Decimal
    adjustments_gross: Decimal
    adjustments_fee: Decimal

    @property
    def net(self) -> Decimal:
        return (
            self.charges_gross
            - self.charges_fee
            + self.refunds_gross
            - self.refunds_fee
            + self.adjustments_gross
            - self.adjustments_fee
        )

    @property
    def transaction_type(self) -> str:
        return "DEPOSIT" if self.net >= 0 else "WITHDRAWAL"


@dataclass(frozen=True, slots=True)
class WebhookSubscription:
    id: int
    client_id: str
    topic: str
    uri: str
    created_at: datetime
    api_version: str
    created_by_api: bool = True
