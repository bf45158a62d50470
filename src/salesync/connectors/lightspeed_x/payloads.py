"""X-Series JSON as pydantic models: the parts of sales, customers, products and register
closures that salesync reads, checked where they enter.

Unknown fields are ignored; a missing or mistyped field salesync needs is a problem with
the path to it. Amounts are decimals in the retailer's currency, tax exclusive, with each
line's tax beside it. A sale names its products by id only, and X-Series states the
currency once for the retailer, so a sale travels in an envelope with the currency, the
products its lines name and the taxes they charge.
"""

from __future__ import annotations

from decimal import Decimal

from pydantic import AwareDatetime, BaseModel, ConfigDict, StrictStr, field_validator

from salesync.connectors.lightspeed_x.standing import Standing, standing
from salesync.domain.money import minor_unit


class LightspeedModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LineItem(LightspeedModel):
    id: StrictStr
    product_id: StrictStr
    quantity: Decimal
    """Negative for goods coming back."""
    price: Decimal
    """Unit price after discount, tax exclusive."""
    price_total: Decimal
    discount: Decimal = Decimal(0)
    discount_total: Decimal = Decimal(0)
    tax_total: Decimal = Decimal(0)
    tax_id: str | None = None


class SalePayment(LightspeedModel):
    id: StrictStr
    name: str = ""
    payment_type_id: str = ""
    amount: Decimal
    payment_date: AwareDatetime | None = None


class LightspeedSale(LightspeedModel):
    id: StrictStr
    outlet_id: str | None = None
    register_id: str | None = None
    user_id: str | None = None
    customer_id: str | None = None
    invoice_number: str | None = None
    state: str | None = None
    attributes: tuple[str, ...] = ()
    status: str | None = None
    """Deprecated for ``state`` and ``attributes``; read only when they are absent."""
    sale_date: AwareDatetime
    updated_at: AwareDatetime | None = None
    total_price: Decimal
    total_tax: Decimal
    note: str | None = None
    return_for: str | None = None
    line_items: tuple[LineItem, ...] = ()
    payments: tuple[SalePayment, ...] = ()
    version: int

    def standing(self) -> Standing:
        return standing(self.state, self.attributes, self.status)


class ProductFacts(LightspeedModel):
    sku: str
    name: str = ""
    category: str = ""


class TaxFacts(LightspeedModel):
    name: str = "Tax"
    rate: Decimal


class CurrencyEnvelope(LightspeedModel):
    currency: StrictStr

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        minor_unit(value)
        return value


class SaleRecord(CurrencyEnvelope):
    sale: LightspeedSale
    products: dict[str, ProductFacts] = {}
    taxes: dict[str, TaxFacts] = {}


class LightspeedCustomer(LightspeedModel):
    """A customer as API 2.0 lists it and as ``customer.update`` delivers it."""

    id: StrictStr
    customer_code: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    mobile: str | None = None


class ProductType(LightspeedModel):
    name: str = ""


class LightspeedProduct(LightspeedModel):
    id: StrictStr
    sku: str | None = None
    name: str = ""
    product_type: ProductType | None = None
    price_excluding_tax: Decimal
    tax_id: str | None = None
    is_active: bool = True
    deleted_at: str | None = None


class ProductRecord(CurrencyEnvelope):
    product: LightspeedProduct
    taxes: dict[str, TaxFacts] = {}


class RegisterClosure(LightspeedModel):
    id: StrictStr
    register_id: str | None = None
    register_close_time: AwareDatetime | None = None
