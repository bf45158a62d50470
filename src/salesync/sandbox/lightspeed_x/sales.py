"""Sales as a simulated X-Series retailer keeps them: line items with tax-exclusive prices
and their tax beside them, payments (negative when money goes back), a status, and
``return_for`` on a return (https://x-series-api.lightspeedhq.com/docs/sales_returns).
Lists show the API 2.0 sale; webhooks carry API 0.9's register sale."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from salesync.sandbox.lightspeed_x.records import Json, Versioned, cents, number, stamp

PENDING = frozenset({"ONACCOUNT", "LAYBY"})
"""Sales not yet paid in full (https://x-series-api.lightspeedhq.com/docs/sales_statuses)."""
STATES = {
    "CLOSED": ("closed", []),
    "ONACCOUNT_CLOSED": ("closed", ["onaccount"]),
    "LAYBY_CLOSED": ("closed", ["layby"]),
    "ONACCOUNT": ("pending", ["onaccount"]),
    "LAYBY": ("pending", ["layby"]),
    "SAVED": ("parked", []),
    "VOIDED": ("voided", []),
}
"""The legacy status as ``state`` and ``attributes``
(https://x-series-api.lightspeedhq.com/docs/sales_states_and_attributes)."""


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
            "state": STATES[self.status][0],
            "attributes": STATES[self.status][1],
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
            "state": STATES[self.status][0],
            "register_sale_attributes": STATES[self.status][1],
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
