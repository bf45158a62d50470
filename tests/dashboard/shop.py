"""Sales for the dashboard tests: one item sold in Brooklyn, taxed at New York's rate."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from salesync.domain.documents import (
    DocumentKind,
    Payment,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
    document_id,
)
from salesync.domain.money import Money

NY_RATE = Decimal("0.08875")


def brooklyn_sale(
    number: str,
    category: str,
    occurred_at: datetime,
    *,
    sku: str | None = None,
    name: str = "Thing",
    price: str = "10.00",
) -> Sale:
    """A Brooklyn sale of one item of ``category`` at ``price`` plus New York sales tax,
    paid by card (the simulator's source, so a repeat is recognised)."""
    usd = "USD"
    net = Money.of(price, usd)
    tax = Money.of(str(Decimal(price) * NY_RATE), usd)
    return Sale(
        id=document_id("demo", "simulator", DocumentKind.SALE, number),
        tenant_id="demo",
        location_id="brooklyn",
        source="simulator",
        external_id=number,
        occurred_at=occurred_at,
        currency=usd,
        tax_mode=TaxMode.EXCLUSIVE,
        lines=(
            SaleLine(
                sku or "SKU-" + number,
                name,
                category,
                Decimal(1),
                net,
                taxes=(TaxLine("NY sales tax", NY_RATE, tax),),
            ),
        ),
        payments=(Payment("card", net + tax, "visa"),),
        declared_total=net + tax,
        number=number,
    )
