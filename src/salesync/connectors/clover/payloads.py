"""Clover's JSON as salesync reads it: the parts of orders, payments, refunds, customers
and inventory items that become documents, and the records the client stores.

Clover's amounts are whole cents; a nested collection comes as ``{"elements": [...]}``
when it was expanded; times are epoch milliseconds.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from salesync.domain.money import minor_unit

T = TypeVar("T")


def _currency(code: str) -> str:
    minor_unit(code)  # an unknown code raises, and pydantic names the field
    return code


CurrencyCode = Annotated[str, AfterValidator(_currency)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Elements(_Model, Generic[T]):
    elements: list[T] = Field(default_factory=list)


class Ref(_Model):
    id: str


class TaxRate(_Model):
    id: str = ""
    name: str = ""
    rate: int = Field(ge=0)
    """10,000,000 is 100%."""


class Modification(_Model):
    name: str = ""
    amount: int = 0


class DiscountRow(_Model):
    name: str = ""
    amount: int | None = Field(default=None, le=0)
    """Negative cents."""
    percentage: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one_kind(self) -> DiscountRow:
        if (self.amount is None) == (self.percentage is None):
            raise ValueError("a discount has either an amount or a percentage")
        return self


class LineItem(_Model):
    id: str
    name: str = ""
    price: int = Field(ge=0)
    unitQty: int | None = Field(default=None, gt=0)  # noqa: N815  Clover's field
    item: Ref | None = None
    refunded: bool = False
    modifications: Elements[Modification] = Field(default_factory=Elements[Modification])
    discounts: Elements[DiscountRow] = Field(default_factory=Elements[DiscountRow])
    taxRates: Elements[TaxRate] = Field(default_factory=Elements[TaxRate])  # noqa: N815


class Tender(_Model):
    id: str = ""
    labelKey: str = ""  # noqa: N815
    label: str = ""


class CardTransaction(_Model):
    cardType: str | None = None  # noqa: N815


class PaymentRow(_Model):
    id: str
    amount: int
    tipAmount: int = 0  # noqa: N815
    taxAmount: int = 0  # noqa: N815
    tender: Tender | None = None
    result: str = "SUCCESS"
    cardTransaction: CardTransaction | None = None  # noqa: N815


class RefundRow(_Model):
    id: str
    amount: int = Field(gt=0)
    taxAmount: int = Field(default=0, ge=0)  # noqa: N815
    tipAmount: int = Field(default=0, ge=0)  # noqa: N815
    payment: Ref | None = None
    createdTime: int  # noqa: N815
    lineItems: Elements[Ref] = Field(default_factory=Elements[Ref])  # noqa: N815


class ServiceCharge(_Model):
    name: str = ""
    percentage: Decimal = Field(ge=0)


class CloverOrder(_Model):
    id: str
    currency: CurrencyCode
    total: int | None = None
    state: str = ""
    paymentState: str | None = None  # noqa: N815
    isVat: bool = False  # noqa: N815
    createdTime: int  # noqa: N815
    modifiedTime: int | None = None  # noqa: N815
    """When Clover last changed the order (a refund, a customer added): what tells an edit
    from a late delivery (https://docs.clover.com/reference/ordergetorder)."""
    device: Ref | None = None
    lineItems: Elements[LineItem] = Field(default_factory=Elements[LineItem])  # noqa: N815
    payments: Elements[PaymentRow] = Field(default_factory=Elements[PaymentRow])
    refunds: Elements[RefundRow] = Field(default_factory=Elements[RefundRow])
    discounts: Elements[DiscountRow] = Field(default_factory=Elements[DiscountRow])
    serviceCharge: ServiceCharge | None = None  # noqa: N815
    customers: Elements[Ref] = Field(default_factory=Elements[Ref])


class ItemFacts(_Model):
    """What the inventory says about an item sold: its SKU, name and category."""

    sku: str
    name: str = ""
    category: str = ""


class OrderRecord(_Model):
    """An order as the client stores it: the merchant it belongs to and its items' facts."""

    merchant_id: str
    order: CloverOrder
    items: dict[str, ItemFacts] = Field(default_factory=dict)


class RefundRecord(OrderRecord):
    """One refund of an order, with the order it gives money back from."""

    refund: RefundRow


class EmailAddress(_Model):
    emailAddress: str = ""  # noqa: N815


class PhoneNumber(_Model):
    phoneNumber: str = ""  # noqa: N815


class CloverCustomer(_Model):
    id: str
    firstName: str = ""  # noqa: N815
    lastName: str = ""  # noqa: N815
    emailAddresses: Elements[EmailAddress] = Field(default_factory=Elements[EmailAddress])  # noqa: N815
    phoneNumbers: Elements[PhoneNumber] = Field(default_factory=Elements[PhoneNumber])  # noqa: N815


class CustomerRecord(_Model):
    merchant_id: str
    customer: CloverCustomer


class ItemCategory(_Model):
    id: str
    name: str = ""


class CloverItem(_Model):
    id: str
    name: str = ""
    sku: str | None = None
    price: int = Field(default=0, ge=0)
    priceType: str = "FIXED"  # noqa: N815
    hidden: bool = False
    categories: Elements[ItemCategory] = Field(default_factory=Elements[ItemCategory])
    taxRates: Elements[TaxRate] = Field(default_factory=Elements[TaxRate])  # noqa: N815


class ItemRecord(_Model):
    merchant_id: str
    currency: CurrencyCode
    item: CloverItem


class Notification(_Model):
    """One update a webhook names: ``O:<order id>``, ``C:<customer id>``, ``I:<item id>``."""

    merchant_id: str
    objectId: str  # noqa: N815
    type: str
    ts: int


def instant(ms: int) -> datetime:
    """A Clover time (epoch milliseconds) as an aware UTC instant."""
    return datetime.fromtimestamp(ms / 1000, UTC)
