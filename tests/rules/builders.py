"""Small documents written out by hand, for rules tests that need exact values."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from salesync.domain.documents import (
    LineKind,
    Location,
    Payment,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
)
from salesync.domain.money import Money

BROOKLYN = Location("brooklyn", "harbor", "Brooklyn", "America/New_York", "USD")
AT = datetime(2024, 3, 5, 14, 30, tzinfo=ZoneInfo("America/New_York"))


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def tax(name: str = "NY sales tax", rate: str = "0.08875", amount: str = "0.00") -> TaxLine:
    return TaxLine(name, Decimal(rate), usd(amount))


def line(
    sku: str,
    category: str,
    price: str = "10.00",
    *taxes: TaxLine,
    kind: LineKind = LineKind.PRODUCT,
) -> SaleLine:
    return SaleLine(sku, sku.title(), category, Decimal(1), usd(price), taxes=taxes, kind=kind)


def card(amount: str, brand: str | None = "visa") -> Payment:
    return Payment("card", usd(amount), brand)


def sale(
    lines: tuple[SaleLine, ...], payments: tuple[Payment, ...], *, source: str = "pos"
) -> Sale:
    return Sale(
        id="sale-1",
        tenant_id="harbor",
        location_id=BROOKLYN.id,
        source=source,
        external_id="S-1",
        occurred_at=AT,
        currency="USD",
        tax_mode=TaxMode.EXCLUSIVE,
        lines=lines,
        payments=payments,
        number="S-1",
    )


def refund(lines: tuple[RefundLine, ...], payments: tuple[Payment, ...]) -> Refund:
    return Refund(
        id="refund-1",
        tenant_id="harbor",
        location_id=BROOKLYN.id,
        source="pos",
        external_id="R-1",
        sale_id="sale-1",
        occurred_at=AT,
        currency="USD",
        tax_mode=TaxMode.EXCLUSIVE,
        lines=lines,
        payments=payments,
    )
