"""What a simulated X-Series retailer holds: outlets, registers, taxes, products, customers,
sales and register closures, each carrying the ``version`` API 2.0 pages by.

Every change takes the next number of one retailer-wide sequence, so a collection read
``after`` a version gives exactly what changed since
(https://x-series-api.lightspeedhq.com/docs/pagination). Amounts are Decimal here and
JSON numbers on the wire, as X-Series writes them; prices are tax exclusive and the tax of
each line is stated beside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Json = dict[str, Any]
CENT = Decimal("0.01")
PENDING = frozenset({"ONACCOUNT", "LAYBY"})
"""Sales whose goods left with a balance still owed (https://x-series-api.lightspeedhq.com/docs/sales_statuses)."""
STATES = {
    "CLOSED": "closed",
    "ONACCOUNT_CLOSED": "closed",
    "LAYBY_CLOSED": "closed",
    "ONACCOUNT": "pending",
    "LAYBY": "pending",
    "SAVED": "parked",
    "VOIDED": "voided",
}


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def number(amount: Decimal) -> float | int:
    """A JSON number as X-Series writes amounts."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def stamp(moment: datetime | None) -> str | None:
    """X-Series' timestamp form: UTC, seconds, a ``Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Versioned:
    id: str
    version: int

    def json(self) -> Json:
        raise NotImplementedError


@dataclass
class Outlet(Versioned):
    name: str
    time_zone: str

    def json(self) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "time_zone": self.time_zone,
            "deleted_at": None,
            "version": self.version,
        }


@dataclass
class Register(Versioned):
    name: str
    outlet_id: str
    is_open: bool = True

    def json(self) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "outlet_id": self.outlet_id,
            "is_open": self.is_open,
            "deleted_at": None,
            "version": self.version,
        }


@dataclass
class Tax(Versioned):
    name: str
    rate: Decimal

    def json(self) -> Json:
        return {
            "id": self.id,
            "name": self.name,
            "rate": number(self.rate),
            "deleted_at": None,
            "version": self.version,
        }


@dataclass
class ProductRow(Versioned):
    sku: str
    name: str
    category: str
    price: Decimal
    """Tax exclusive."""
    tax_id: str
    updated_at: datetime

    def json(self) -> Json:
        return {
            "id": self.id,
            "sku": self.sku,
            "name": self.name,
            "handle": self.name.lower().replace(" ", "-"),
            "product_type": {"id": f"type-{self.category.lower()}", "name": self.category},
            "price_excluding_tax": number(self.price),
            "tax_id": self.tax_id,
            "is_active": True,
            "updated_at": stamp(self.updated_at),
            "deleted_at": None,
            "version": self.version,
        }


@dataclass
class CustomerRow(Versioned):
    code: str
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    updated_at: datetime

    def json(self) -> Json:
        return {
            "id": self.id,
            "customer_code": self.code,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "name": f"{self.first_name} {self.last_name}".strip(),
            "email": self.email,
            "phone": self.phone,
            "updated_at": stamp(self.updated_at),
            "deleted_at": None,
            "version": self.version,
        }


@dataclass
class LineItem:
    id: str
    product_id: str
    quantity: Decimal
    """Negative on a return."""
    unit_price: Decimal
    """Before discount, tax exclusive."""
    unit_discount: Decimal
    tax_id: str
    rate: Decimal

    @property
    def price_total(self) -> Decimal:
        return cents((self.unit_price - self.unit_discount) * self.quantity)

    @property
    def discount_total(self) -> Decimal:
        return cents(self.unit_discount * self.quantity)

    @property
    def tax_total(self) -> Decimal:
        return cents(self.price_total * self.rate)

    def json(self) -> Json:
        quantity = self.quantity or Decimal(1)
        return {
            "id": self.id,
            "product_id": self.product_id,
            "quantity": number(self.quantity),
            "price": number(self.unit_price - self.unit_discount),
            "price_total": number(self.price_total),
            "discount": number(self.unit_discount),
            "discount_total": number(self.discount_total),
            "tax": float(round(self.tax_total / quantity, 5)),
            "tax_total": number(self.tax_total),
            "tax_id": self.tax_id,
            "is_return": self.quantity < 0,
        }


@dataclass
class SalePayment:
    id: str
    payment_type_id: str
    name: str
    amount: Decimal
    """Negative when money went back to the customer."""
    payment_date: datetime

    def json(self) -> Json:
        return {
            "id": self.id,
            "payment_type_id": self.payment_type_id,
            "retailer_payment_type_id": f"rpt-{self.payment_type_id}",
            "name": self.name,
            "amount": number(self.amount),
            "payment_date": stamp(self.payment_date),
        }


@dataclass
class SaleRow(Versioned):
    outlet_id: str
    register_id: str
    user_id: str
    invoice_number: str
    status: str
    sale_date: datetime
    updated_at: datetime
    customer_id: str | None = None
    return_for: str | None = None
    note: str = ""
    line_items: list[LineItem] = field(default_factory=list)
    payments: list[SalePayment] = field(default_factory=list)

    @property
    def total_price(self) -> Decimal:
        return sum((li.price_total for li in self.line_items), Decimal(0))

    @property
    def total_tax(self) -> Decimal:
        return sum((li.tax_total for li in self.line_items), Decimal(0))

    @property
    def total(self) -> Decimal:
        return self.total_price + self.total_tax

    @property
    def paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal(0))

    def json(self) -> Json:
        taxes: dict[str, Decimal] = {}
        for li in self.line_items:
            taxes[li.tax_id] = taxes.get(li.tax_id, Decimal(0)) + li.tax_total
        return {
            "id": self.id,
            "outlet_id": self.outlet_id,
            "register_id": self.register_id,
            "user_id": self.user_id,
            "customer_id": self.customer_id,
            "invoice_number": self.invoice_number,
            "source": "USER",
            "status": self.status,
            "state": STATES[self.status],
            "sale_date": stamp(self.sale_date),
            "created_at": stamp(self.sale_date),
            "updated_at": stamp(self.updated_at),
            "total_price": number(self.total_price),
            "total_tax": number(self.total_tax),
            "total_loyalty": 0,
            "note": self.note,
            "return_for": self.return_for,
            "line_items": [li.json() for li in self.line_items],
            "payments": [p.json() for p in self.payments],
            "taxes": [{"id": k, "amount": number(v)} for k, v in taxes.items()],
            "deleted_at": None,
            "version": self.version,
        }

    def webhook_json(self) -> Json:
        """The sale as webhooks carry it: API 0.9's register sale
        (https://x-series-api.lightspeedhq.com/docs/webhooks)."""
        return {
            "id": self.id,
            "register_id": self.register_id,
            "customer_id": self.customer_id,
            "user_id": self.user_id,
            "sale_date": stamp(self.sale_date),
            "status": self.status,
            "invoice_number": self.invoice_number,
            "total_price": number(self.total_price),
            "total_tax": number(self.total_tax),
            "register_sale_products": [
                {
                    "id": li.id,
                    "product_id": li.product_id,
                    "quantity": number(li.quantity),
                    "price": number(li.unit_price - li.unit_discount),
                    "discount": number(li.unit_discount),
                    "tax": float(round(li.tax_total / (li.quantity or 1), 5)),
                    "tax_id": li.tax_id,
                }
                for li in self.line_items
            ],
            "register_sale_payments": [
                {
                    "id": p.id,
                    "retailer_payment_type_id": f"rpt-{p.payment_type_id}",
                    "label": p.name,
                    "amount": number(p.amount),
                    "payment_date": stamp(p.payment_date),
                }
                for p in self.payments
            ],
        }


@dataclass
class RegisterClosure(Versioned):
    register_id: str
    opened_at: datetime
    closed_at: datetime
    totals: dict[str, Decimal]
    """Takings by payment type name."""

    def json(self) -> Json:
        return {
            "id": self.id,
            "register_id": self.register_id,
            "register_open_time": stamp(self.opened_at),
            "register_close_time": stamp(self.closed_at),
            "payments": [{"name": k, "amount": number(v)} for k, v in self.totals.items()],
            "version": self.version,
        }
