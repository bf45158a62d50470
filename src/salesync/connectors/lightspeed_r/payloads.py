"""R-Series JSON as pydantic models: the parts of sales, customers and items salesync reads,
checked where they enter.

R-Series writes every value as a string, amounts included (``"12.50"``), booleans as
``"true"``/``"false"``, and nests a relation holding one object as that object instead of a
list of one, or as ``""`` when it holds none
(https://developers.lightspeedhq.com/retail/introduction/relations/). The models accept
all three and give lists, Decimals and bools; a missing or unreadable field salesync needs
is a problem with the path to it. Unknown fields are ignored.

A ``sale`` record is an envelope: the sale as listed with its relations, and for a return
the sale each returned line came from (a return line names its original line by
``parentSaleLineID`` only).
"""

# ruff: noqa: N815  the fields carry R-Series' own names, so the JSON reads as it is

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field


def _flag(value: Any) -> Any:
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return value


def _blank_none(value: Any) -> Any:
    return None if value == "" else value


Flag = Annotated[bool, BeforeValidator(_flag)]
Stamp = Annotated[AwareDatetime | None, BeforeValidator(_blank_none)]


def _many(name: str) -> Any:
    """A validator turning R-Series' ``{"Name": obj | [obj...]}`` (or ``""``) into a list."""

    def unwrap(value: Any) -> Any:
        if value in ("", None):
            return []
        if isinstance(value, dict) and name in value:
            inner = value[name]
            return inner if isinstance(inner, list) else [inner]
        return value

    return BeforeValidator(unwrap)


class LightspeedModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class LsCategory(LightspeedModel):
    name: str = ""


class LsItemPrice(LightspeedModel):
    amount: Decimal
    useType: str = "Default"


class LsItem(LightspeedModel):
    itemID: str
    systemSku: str = ""
    customSku: str = ""
    description: str = ""
    tax: Flag = True
    archived: Flag = False
    Category: LsCategory | None = None
    Prices: Annotated[tuple[LsItemPrice, ...], _many("ItemPrice")] = ()

    @property
    def sku(self) -> str:
        return self.customSku or self.systemSku or f"item-{self.itemID}"

    @property
    def category(self) -> str:
        return self.Category.name if self.Category is not None else ""


class LsPaymentType(LightspeedModel):
    name: str
    type: str = ""


class LsSalePayment(LightspeedModel):
    salePaymentID: str
    amount: Decimal
    tipAmount: Decimal = Decimal(0)
    archived: Flag = False
    paymentTypeID: str = ""
    PaymentType: LsPaymentType | None = None


class LsSaleLine(LightspeedModel):
    saleLineID: str
    unitQuantity: Decimal
    unitPrice: Decimal
    calcLineDiscount: Decimal = Decimal(0)
    calcTransactionDiscount: Decimal = Decimal(0)
    calcSubtotal: Decimal
    calcTax1: Decimal = Decimal(0)
    calcTax2: Decimal = Decimal(0)
    tax1Rate: Decimal = Decimal(0)
    tax2Rate: Decimal = Decimal(0)
    itemID: str = "0"
    parentSaleLineID: str = "0"
    Item: LsItem | None = None


class LsTaxCategory(LightspeedModel):
    tax1Name: str = ""
    tax2Name: str = ""


class LsSale(LightspeedModel):
    saleID: str
    timeStamp: AwareDatetime
    completeTime: Stamp = None
    completed: Flag
    voided: Flag = False
    archived: Flag = False
    isTaxInclusive: Flag = False
    referenceNumber: str = ""
    calcTotal: Decimal
    calcTips: Decimal = Decimal(0)
    shopID: str
    customerID: str = "0"
    employeeID: str = "0"
    SaleLines: Annotated[tuple[LsSaleLine, ...], _many("SaleLine")] = ()
    SalePayments: Annotated[tuple[LsSalePayment, ...], _many("SalePayment")] = ()
    TaxCategory: LsTaxCategory | None = None


class SaleRecord(LightspeedModel):
    sale: LsSale
    parents: dict[str, str] = Field(default_factory=dict)
    """The sale of each line a return gives back, by the returned line's id."""


class LsContactEmail(LightspeedModel):
    address: str = ""


class LsContactPhone(LightspeedModel):
    number: str = ""


class LsContact(LightspeedModel):
    Emails: Annotated[tuple[LsContactEmail, ...], _many("ContactEmail")] = ()
    Phones: Annotated[tuple[LsContactPhone, ...], _many("ContactPhone")] = ()


class LsCustomer(LightspeedModel):
    customerID: str
    firstName: str = ""
    lastName: str = ""
    company: str = ""
    archived: Flag = False
    Contact: LsContact | None = None
