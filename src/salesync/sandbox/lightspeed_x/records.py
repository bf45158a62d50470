"""What a simulated X-Series retailer holds: outlets, registers, taxes, products, customers
and register closures (sales are in ``sales``), each carrying the ``version`` API 2.0
pages by.

Every change takes the next number of one retailer-wide sequence, so a collection read
``after`` a version gives exactly what changed since
(https://x-series-api.lightspeedhq.com/docs/pagination). Amounts are Decimal here and
JSON numbers on the wire, as X-Series writes them; prices are tax exclusive and the tax of
each line is stated beside it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Json = dict[str, Any]
CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def number(amount: Decimal) -> float | int:
    """A JSON number as X-Series writes amounts."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def stamp(moment: datetime | None) -> str | None:
    """X-Series' timestamp form: UTC to the second, with its offset."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


@dataclass
class Versioned(ABC):
    """A record API 2.0 pages by ``version``; each kind says how it is written."""

    id: str
    version: int

    @abstractmethod
    def json(self) -> Json:
        """The record as the API answers it."""


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
