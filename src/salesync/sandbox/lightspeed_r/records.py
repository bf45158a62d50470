"""The objects of a simulated R-Series account and the JSON the API shows them as.

The R-Series API writes every value as a string (ids, amounts, booleans ``"true"``), its
timestamps as ISO 8601 with an offset, and a relation that holds one object as that object
rather than a list of one
(https://developers.lightspeedhq.com/retail/introduction/relations/). The views here do the
same, so the connector has to cope with all three.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

Json = dict[str, Any]
CENT = Decimal("0.01")


def stamp(moment: datetime) -> str:
    """R-Series' timestamp form: seconds, with the UTC offset."""
    return moment.isoformat(timespec="seconds")


def amount(value: Decimal) -> str:
    return str(value.quantize(CENT))


def flag(value: bool) -> str:
    return "true" if value else "false"


def relation(name: str, objects: list[Json]) -> Json | str:
    """A to-many relation as R-Series nests it: one object alone, several as a list, and an
    empty string when there is none."""
    if not objects:
        return ""
    return {name: objects[0] if len(objects) == 1 else objects}


@dataclass(slots=True)
class Shop:
    id: int
    name: str
    time_zone: str
    tax_category_id: int
    time_stamp: datetime

    def view(self) -> Json:
        return {
            "shopID": str(self.id),
            "name": self.name,
            "timeZone": self.time_zone,
            "taxCategoryID": str(self.tax_category_id),
            "archived": "false",
            "timeStamp": stamp(self.time_stamp),
        }


@dataclass(slots=True)
class TaxCategory:
    id: int
    tax1_name: str
    tax1_rate: Decimal
    tax2_name: str = ""
    tax2_rate: Decimal = Decimal(0)

    def view(self) -> Json:
        return {
            "taxCategoryID": str(self.id),
            "isTaxInclusive": "false",
            "tax1Name": self.tax1_name,
            "tax1Rate": str(self.tax1_rate),
            "tax2Name": self.tax2_name,
            "tax2Rate": str(self.tax2_rate),
        }


@dataclass(slots=True)
class Category:
    id: int
    name: str

    def view(self) -> Json:
        return {"categoryID": str(self.id), "name": self.name, "fullPathName": self.name}


@dataclass(slots=True)
class Item:
    id: int
    system_sku: str
    custom_sku: str
    description: str
    category_id: int
    price: Decimal
    taxable: bool
    time_stamp: datetime
    archived: bool = False

    def view(self, categories: dict[int, Category], relations: set[str]) -> Json:
        found: Json = {
            "itemID": str(self.id),
            "systemSku": self.system_sku,
            "customSku": self.custom_sku,
            "description": self.description,
            "tax": flag(self.taxable),
            "archived": flag(self.archived),
            "categoryID": str(self.category_id),
            "timeStamp": stamp(self.time_stamp),
        }
        if "Category" in relations and self.category_id in categories:
            found["Category"] = categories[self.category_id].view()
        if "ItemPrices" in relations:
            prices = [{"amount": amount(self.price), "useTypeID": "1", "useType": "Default"}]
            found["Prices"] = relation("ItemPrice", prices)
        return found


@dataclass(slots=True)
class Customer:
    id: int
    first_name: str
    last_name: str
    company: str
    email: str
    phone: str
    time_stamp: datetime
    create_time: datetime

    def view(self, relations: set[str]) -> Json:
        found: Json = {
            "customerID": str(self.id),
            "firstName": self.first_name,
            "lastName": self.last_name,
            "company": self.company,
            "archived": "false",
            "createTime": stamp(self.create_time),
            "timeStamp": stamp(self.time_stamp),
        }
        if "Contact" in relations:
            emails = [{"address": self.email, "useType": "Primary"}] if self.email else []
            phones = [{"number": self.phone, "useType": "Mobile"}] if self.phone else []
            found["Contact"] = {
                "Emails": relation("ContactEmail", emails),
                "Phones": relation("ContactPhone", phones),
            }
        return found


@dataclass(slots=True)
class PaymentType:
    id: int
    name: str
    kind: str
    """R-Series' ``type``: ``cash``, ``credit card``, ``check``, ``gift card``..."""

    def view(self) -> Json:
        return {
            "paymentTypeID": str(self.id),
            "name": self.name,
            "type": self.kind,
            "code": self.name.upper().replace(" ", "_"),
            "archived": "false",
        }


@dataclass(slots=True)
class SaleLine:
    id: int
    item_id: int
    quantity: int
    """Negative on a return line."""
    unit_price: Decimal
    line_discount: Decimal
    sale_discount: Decimal
    taxable: bool
    tax1: Decimal
    tax2: Decimal
    parent_line_id: int = 0
    """The sale line a return line gives back (0 for a sale line)."""

    @property
    def subtotal(self) -> Decimal:
        return (self.unit_price * self.quantity).quantize(CENT)

    @property
    def net(self) -> Decimal:
        return self.subtotal - self.line_discount - self.sale_discount


@dataclass(slots=True)
class SalePayment:
    id: int
    payment_type_id: int
    amount: Decimal
    """What the tender took, tip included (negative when money was given back)."""
    tip: Decimal = Decimal(0)
    archived: bool = False


@dataclass(slots=True)
class Sale:
    id: int
    shop_id: int
    register_id: int
    employee_id: int
    customer_id: int
    tax_category_id: int
    create_time: datetime
    time_stamp: datetime
    reference: str
    lines: list[SaleLine] = field(default_factory=list)
    payments: list[SalePayment] = field(default_factory=list)
    completed: bool = False
    complete_time: datetime | None = None
    voided: bool = False
    archived: bool = False
    """A sale left unfinished and put away at the register."""

    @property
    def subtotal(self) -> Decimal:
        return sum((li.subtotal for li in self.lines), Decimal(0))

    @property
    def discount(self) -> Decimal:
        return sum((li.line_discount + li.sale_discount for li in self.lines), Decimal(0))

    @property
    def tax1(self) -> Decimal:
        return sum((li.tax1 for li in self.lines), Decimal(0))

    @property
    def tax2(self) -> Decimal:
        return sum((li.tax2 for li in self.lines), Decimal(0))

    @property
    def total(self) -> Decimal:
        """What the goods come to, tax included, tips not."""
        return self.subtotal - self.discount + self.tax1 + self.tax2

    @property
    def tips(self) -> Decimal:
        return sum((p.tip for p in self.payments if not p.archived), Decimal(0))
