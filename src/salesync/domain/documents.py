"""Normalized business documents: who sold what, where, for how much, paid how.

Every document is an immutable record. Amounts are ``Money``; quantities and rates are
``Decimal``. A document refers to its tenant and location by id and keeps the source's own
id (``external_id``) so it can be traced back to the raw record it came from.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from salesync.domain.money import Money, minor_unit, total


class TaxMode(enum.StrEnum):
    """Whether prices already contain tax (VAT-style) or tax is added on top (US sales tax)."""

    EXCLUSIVE = "exclusive"
    INCLUSIVE = "inclusive"


class LineKind(enum.StrEnum):
    PRODUCT = "product"
    GIFT_CARD = "gift_card"
    """Selling a gift card: the money is a liability until the card is redeemed, not revenue."""


class DocumentKind(enum.StrEnum):
    SALE = "sale"
    REFUND = "refund"
    PAYOUT = "payout"
    CUSTOMER = "customer"
    PRODUCT = "product"


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Location:
    """A store or till group. Its time zone decides business days; its currency, the books."""

    id: str
    tenant_id: str
    name: str
    timezone: str
    currency: str

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"{self.timezone!r} is not an IANA time zone, such as 'America/New_York'"
            ) from None
        minor_unit(self.currency)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class Customer:
    id: str
    tenant_id: str
    name: str
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True, slots=True)
class Product:
    id: str
    tenant_id: str
    sku: str
    name: str
    category: str
    price: Money
    taxable: bool = True


@dataclass(frozen=True, slots=True)
class TaxLine:
    """Tax charged on one line or charge: its name, rate (0.0825 for 8.25 %) and amount."""

    name: str
    rate: Decimal
    amount: Money


@dataclass(frozen=True, slots=True)
class Discount:
    """A reduction, stated as a positive amount."""

    name: str
    amount: Money


@dataclass(frozen=True, slots=True)
class Charge:
    """A service charge or fee added to the order (delivery fee, corkage, service 12.5 %)."""

    name: str
    amount: Money
    taxes: tuple[TaxLine, ...] = ()


@dataclass(frozen=True, slots=True)
class SaleLine:
    sku: str
    name: str
    category: str
    quantity: Decimal
    unit_price: Money
    discounts: tuple[Discount, ...] = ()
    taxes: tuple[TaxLine, ...] = ()
    kind: LineKind = LineKind.PRODUCT

    @property
    def gross(self) -> Money:
        return self.unit_price.times_rounded(self.quantity)

    @property
    def discount_total(self) -> Money:
        if not self.discounts:  # most lines: the cached zero, not a sum of nothing
            return Money.zero(self.unit_price.currency)
        return total((d.amount for d in self.discounts), self.unit_price.currency)

    @property
    def net(self) -> Money:
        """Price after line discounts (including tax when prices are tax-inclusive)."""
        return self.gross - self.discount_total

    @property
    def tax_total(self) -> Money:
        return total((t.amount for t in self.taxes), self.unit_price.currency)


EXCHANGE_TENDER = "exchange"
"""The tender of an exchange: the value of the goods given back pays for the new goods.
The sale and the refund an exchange becomes each carry it, so its clearing account nets
to zero."""


@dataclass(frozen=True, slots=True)
class Payment:
    """One tender of a sale or refund. Split tenders are several payments."""

    tender: str
    amount: Money
    card_brand: str | None = None
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Sale:
    """A completed sale at one location, in one currency."""

    id: str
    tenant_id: str
    location_id: str
    source: str
    external_id: str
    occurred_at: datetime
    currency: str
    tax_mode: TaxMode
    lines: tuple[SaleLine, ...]
    payments: tuple[Payment, ...]
    order_discounts: tuple[Discount, ...] = ()
    shipping: Money | None = None
    shipping_taxes: tuple[TaxLine, ...] = ()
    service_charges: tuple[Charge, ...] = ()
    tip: Money | None = None
    declared_total: Money | None = None
    """The total the source says was charged; compared with what the lines add up to."""
    customer_id: str | None = None
    associate: str | None = None
    number: str | None = None
    source_updated_at: datetime | None = field(default=None, compare=False)
    """When the source last changed the document, as the source says (``None`` when it
    does not say). It orders deliveries that arrive out of turn and tells a revert at the
    source from a stale redelivery; it is not part of the stored body or fingerprint."""

    kind = DocumentKind.SALE

    def _zero(self) -> Money:
        return Money.zero(self.currency)

    @property
    def subtotal(self) -> Money:
        return total((line.net for line in self.lines), self.currency)

    @property
    def order_discount_total(self) -> Money:
        if not self.order_discounts:
            return self._zero()
        return total((d.amount for d in self.order_discounts), self.currency)

    @property
    def shipping_total(self) -> Money:
        return self.shipping or self._zero()

    @property
    def tip_total(self) -> Money:
        return self.tip or self._zero()

    @property
    def service_charge_total(self) -> Money:
        if not self.service_charges:
            return self._zero()
        return total((c.amount for c in self.service_charges), self.currency)

    @property
    def taxes(self) -> tuple[TaxLine, ...]:
        charge_taxes = tuple(t for c in self.service_charges for t in c.taxes)
        line_taxes = tuple(t for line in self.lines for t in line.taxes)
        return line_taxes + self.shipping_taxes + charge_taxes

    @property
    def tax_total(self) -> Money:
        return total((t.amount for t in self.taxes), self.currency)

    @property
    def computed_total(self) -> Money:
        """What the document adds up to: what the customer owes, tip included."""
        return self.total_from(self.subtotal)

    def total_from(self, subtotal: Money) -> Money:
        """``computed_total`` from the sale's ``subtotal`` worked out already."""
        amount = (
            subtotal
            - self.order_discount_total
            + self.shipping_total
            + self.service_charge_total
            + self.tip_total
        )
        if self.tax_mode is TaxMode.EXCLUSIVE:
            amount = amount + self.tax_total
        return amount

    @property
    def grand_total(self) -> Money:
        """The amount charged: the source's declared total when it gave one."""
        return self.declared_total if self.declared_total is not None else self.computed_total

    @property
    def rounding_difference(self) -> Money:
        """Declared minus computed: the source's rounding drift (cash rounding, per-line tax)."""
        return self.grand_total - self.computed_total

    @property
    def paid(self) -> Money:
        return total((p.amount for p in self.payments), self.currency)

    @property
    def amount(self) -> Money:
        """The money that changed hands."""
        return self.grand_total


@dataclass(frozen=True, slots=True)
class RefundLine:
    """Goods or value given back: the amount is the refunded price, as the sale stated it."""

    sku: str
    quantity: Decimal
    amount: Money
    category: str = ""
    taxes: tuple[TaxLine, ...] = ()
    kind: LineKind = LineKind.PRODUCT


@dataclass(frozen=True, slots=True)
class Refund:
    """A refund or return, always linked to the sale it reverses (possibly to another tender)."""

    id: str
    tenant_id: str
    location_id: str
    source: str
    external_id: str
    sale_id: str
    occurred_at: datetime
    currency: str
    tax_mode: TaxMode
    lines: tuple[RefundLine, ...]
    payments: tuple[Payment, ...]
    shipping: Money | None = None
    shipping_taxes: tuple[TaxLine, ...] = ()
    reason: str | None = None
    source_updated_at: datetime | None = field(default=None, compare=False)
    """When the source last changed the document, as the source says (``None`` when it
    does not say). It orders deliveries that arrive out of turn and tells a revert at the
    source from a stale redelivery; it is not part of the stored body or fingerprint."""

    kind = DocumentKind.REFUND

    @property
    def taxes(self) -> tuple[TaxLine, ...]:
        return tuple(t for line in self.lines for t in line.taxes) + self.shipping_taxes

    @property
    def tax_total(self) -> Money:
        return total((t.amount for t in self.taxes), self.currency)

    @property
    def shipping_total(self) -> Money:
        return self.shipping or Money.zero(self.currency)

    @property
    def computed_total(self) -> Money:
        amount = total((line.amount for line in self.lines), self.currency) + self.shipping_total
        if self.tax_mode is TaxMode.EXCLUSIVE:
            amount = amount + self.tax_total
        return amount

    @property
    def paid(self) -> Money:
        return total((p.amount for p in self.payments), self.currency)

    @property
    def amount(self) -> Money:
        """The money given back."""
        return self.computed_total


@dataclass(frozen=True, slots=True)
class PayoutTransaction:
    """One sale, refund or adjustment a payout settles, with the processor's fee on it."""

    document_external_id: str
    kind: str
    gross: Money
    fee: Money


@dataclass(frozen=True, slots=True)
class Payout:
    """A processor's deposit to the bank: gross, minus fees, plus adjustments, plus money
    returned by earlier failed payouts, equals net."""

    id: str
    tenant_id: str
    location_id: str
    source: str
    external_id: str
    occurred_at: datetime
    currency: str
    gross: Money
    fees: Money
    net: Money
    adjustments: Money | None = None
    transactions: tuple[PayoutTransaction, ...] = field(default=())
    failed_at: datetime | None = None
    """When the source says the deposit failed (the bank refused or returned it, or the
    processor could not send it); ``None`` while it has not. The net went back to the
    processor's balance, so it stays in the clearing account. A payout that fails after
    it was posted is an edit, and its adjustment, dated on the day it failed, takes the
    deposit back out of the bank."""
    returned: Money | None = None
    """Money of earlier failed payouts that this one pays out again (Square's
    ``RETURNED_PAYOUT`` entries): it leaves the clearing account where the failure left it."""
    source_updated_at: datetime | None = field(default=None, compare=False)
    """When the source last changed the document, as the source says (``None`` when it
    does not say). It orders deliveries that arrive out of turn and tells a revert at the
    source from a stale redelivery; it is not part of the stored body or fingerprint."""

    kind = DocumentKind.PAYOUT

    @property
    def adjustment_total(self) -> Money:
        return self.adjustments or Money.zero(self.currency)

    @property
    def failed(self) -> bool:
        return self.failed_at is not None

    @property
    def returned_total(self) -> Money:
        return self.returned or Money.zero(self.currency)

    @property
    def expected_net(self) -> Money:
        """What the parts add up to: gross - fees + adjustments + money returned by
        earlier failed payouts. A payout whose net differs does not balance."""
        return self.gross - self.fees + self.adjustment_total + self.returned_total

    @property
    def amount(self) -> Money:
        """The deposit."""
        return self.net


Document = Sale | Refund | Payout

_NAMESPACE = uuid.UUID("5a1e5e7c-0000-4000-8000-5a1e5e7c0001")


def document_id(tenant_id: str, source: str, kind: DocumentKind, external_id: str) -> str:
    """A stable id: the same source document always gets the same salesync id."""
    return str(uuid.uuid5(_NAMESPACE, f"{tenant_id}/{source}/{kind.value}/{external_id}"))


def business_day(occurred_at: datetime, zone: ZoneInfo) -> date:
    """The calendar date of an instant in a location's time zone (DST-correct)."""
    if occurred_at.tzinfo is None or occurred_at.utcoffset() is None:
        raise ValueError("a document time must carry its UTC offset; naive times are ambiguous")
    return occurred_at.astimezone(zone).date()
