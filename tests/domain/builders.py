"""Hand-written documents for example tests: one clean sale, refund and payout to vary.

The clean sale is two lines at a Brooklyn shop, New York sales tax added on top:

    TEE-001  2 x 28.00 = 56.00   tax 56.00 x 0.08875 = 4.97
    MUG-005  1 x 16.00 = 16.00   tax 16.00 x 0.08875 = 1.42
    subtotal 72.00 + tax 6.39 = 78.39, paid by card
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from salesync.domain.documents import (
    DocumentKind,
    Location,
    Payment,
    Payout,
    PayoutTransaction,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
    document_id,
)
from salesync.domain.money import Money

TENANT = "harbor"
SOURCE = "pos"
NY_TAX = Decimal("0.08875")
NEW_YORK = ZoneInfo("America/New_York")
BROOKLYN = Location("brooklyn", TENANT, "Brooklyn", "America/New_York", "USD")
SOLD_AT = datetime(2026, 3, 10, 15, 0, tzinfo=NEW_YORK)
NOW = datetime(2026, 3, 12, 9, 0, tzinfo=NEW_YORK)


def usd(amount: str) -> Money:
    """Dollars from a string, so every example reads like a receipt."""
    return Money(Decimal(amount), "USD")


def ny_tax(amount: str) -> tuple[TaxLine, ...]:
    return (TaxLine("NY sales tax", NY_TAX, usd(amount)),)


def clean_sale(**changes: Any) -> Sale:
    """The module docstring's sale, with ``changes`` applied to its fields."""
    sale = Sale(
        id=document_id(TENANT, SOURCE, DocumentKind.SALE, "S-1001"),
        tenant_id=TENANT,
        location_id=BROOKLYN.id,
        source=SOURCE,
        external_id="S-1001",
        occurred_at=SOLD_AT,
        currency="USD",
        tax_mode=TaxMode.EXCLUSIVE,
        lines=(
            SaleLine(
                "TEE-001",
                "Organic cotton tee",
                "Apparel",
                Decimal(2),
                usd("28.00"),
                taxes=ny_tax("4.97"),
            ),
            SaleLine(
                "MUG-005",
                "Stoneware mug",
                "Homeware",
                Decimal(1),
                usd("16.00"),
                taxes=ny_tax("1.42"),
            ),
        ),
        payments=(Payment("card", usd("78.39"), card_brand="visa"),),
        declared_total=usd("78.39"),
    )
    return dataclasses.replace(sale, **changes)


def with_line(sale: Sale, index: int, **changes: Any) -> Sale:
    """``sale`` with line ``index`` changed."""
    lines = list(sale.lines)
    lines[index] = dataclasses.replace(lines[index], **changes)
    return dataclasses.replace(sale, lines=tuple(lines))


def refund_of_mug(external_id: str = "R-1", **changes: Any) -> Refund:
    """The clean sale's mug brought back to the card: 16.00 + 1.42 tax = 17.42."""
    sale = clean_sale()
    refund = Refund(
        id=document_id(TENANT, SOURCE, DocumentKind.REFUND, external_id),
        tenant_id=TENANT,
        location_id=BROOKLYN.id,
        source=SOURCE,
        external_id=external_id,
        sale_id=sale.id,
        occurred_at=datetime(2026, 3, 11, 11, 0, tzinfo=NEW_YORK),
        currency="USD",
        tax_mode=TaxMode.EXCLUSIVE,
        lines=(RefundLine("MUG-005", Decimal(1), usd("16.00"), "Homeware", ny_tax("1.42")),),
        payments=(Payment("card", usd("17.42")),),
    )
    return dataclasses.replace(refund, **changes)


def clean_payout(**changes: Any) -> Payout:
    """Two card sales settled: 100.00 gross less 3.20 fees is a 96.80 deposit."""
    payout = Payout(
        id=document_id(TENANT, "processor", DocumentKind.PAYOUT, "PO-1"),
        tenant_id=TENANT,
        location_id=BROOKLYN.id,
        source="processor",
        external_id="PO-1",
        occurred_at=datetime(2026, 3, 11, 6, 30, tzinfo=NEW_YORK),
        currency="USD",
        gross=usd("100.00"),
        fees=usd("3.20"),
        net=usd("96.80"),
        transactions=(
            PayoutTransaction("S-1001", "charge", usd("78.39"), usd("2.57")),
            PayoutTransaction("S-1002", "charge", usd("21.61"), usd("0.63")),
        ),
    )
    return dataclasses.replace(payout, **changes)
