"""The sales report by associate: refunds count against whoever made the sale, and the
CRM's report holds only the sales already in the CRM while the books' holds them all."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from salesync.crm.log import crm_sales_report
from salesync.domain.documents import DocumentKind, Payment, Refund, RefundLine, document_id
from salesync.domain.money import Money
from salesync.store import codec
from salesync.views.sales_report import sales_report

from .world import BROOKLYN, TENANT, Shop, a_sale, local

DAY = date(2026, 11, 2)


def test_refunds_count_against_the_associate_who_made_the_sale(shop: Shop) -> None:
    """Maya sold two scarves and one came back; Lee sold one: Maya has two orders and a
    refund, Lee one order, and nothing lands under "No associate"."""
    first = a_sale("S-1", local(BROOKLYN, 2026, 11, 2, 10, 0), associate="Maya")
    shop.sell(first)
    shop.sell(a_sale("S-2", local(BROOKLYN, 2026, 11, 2, 11, 0), associate="Maya"))
    shop.sell(a_sale("S-3", local(BROOKLYN, 2026, 11, 2, 12, 0), associate="Lee"))
    back = Money(Decimal("40.00"), "USD")
    refund = Refund(
        id=document_id(TENANT, "simulator", DocumentKind.REFUND, "R-1"),
        tenant_id=TENANT,
        location_id=BROOKLYN.id,
        source="simulator",
        external_id="R-1",
        sale_id=first.id,
        occurred_at=local(BROOKLYN, 2026, 11, 2, 15, 0),
        currency="USD",
        tax_mode=first.tax_mode,
        lines=(RefundLine("SCARF-1", Decimal(1), back, "Accessories"),),
        payments=(Payment("card", back),),
    )
    payload = json.dumps(codec.encode(refund))
    shop.engine.receive(TENANT, "simulator", "refund", payload, event_id=refund.id)
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 16, 0))
    with shop.db() as session:
        report = sales_report(session, TENANT, DAY, DAY)
    figures = {a.associate: (a.figures.orders, a.figures.refund_count) for a in report.by_associate}
    assert figures == {"Lee": (1, 0), "Maya": (2, 1)}


def test_the_crm_report_holds_only_synced_sales_and_says_what_waits(shop: Shop) -> None:
    """Before the 18:00 window the books' report counts the sale (salesync has it) while
    the CRM's counts nothing and says the sale waits for that window; after it, both do."""
    shop.sell(a_sale("S-1", local(BROOKLYN, 2026, 11, 2, 10, 0)))
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 12, 0))
    with shop.db() as session:
        books = sales_report(session, TENANT, DAY, DAY)
        crm = crm_sales_report(session, TENANT, DAY, DAY, location=BROOKLYN.id)
    assert (books.documents, crm.documents) == (1, 0)
    assert "1 sale waits for the 18:00 window on Mon 2 Nov" in crm.freshness.text
    shop.tick_at(local(BROOKLYN, 2026, 11, 2, 18, 0))
    with shop.db() as session:
        crm = crm_sales_report(session, TENANT, DAY, DAY, location=BROOKLYN.id)
    assert crm.documents == 1
    assert crm.freshness.text.endswith("nothing is waiting.")
