"""The sales log, sales report and reconciliation pages: real figures from sales the
engine posted, filters and pages that work without script, and nothing of a merchant
shown to another merchant's user."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import (
    DocumentKind,
    Payment,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
    document_id,
)
from salesync.domain.money import Money
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.tables import JournalEntryRow, PostingDocumentRow, PostingRow

SignedIn = Callable[[str], TestClient]
SOURCE = "simulator"


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def sale(
    tenant: str, location: str, external_id: str, at: datetime, item: tuple[str, str, str, str]
) -> Sale:
    """One line of ``(sku, category, price, tax)``; USD adds tax on top, GBP includes it."""
    sku, category, price, tax = item
    cur = "GBP" if tenant == "other" else "USD"
    mode = TaxMode.INCLUSIVE if cur == "GBP" else TaxMode.EXCLUSIVE
    line = SaleLine(
        sku=sku,
        name=sku.title(),
        category=category,
        quantity=Decimal(1),
        unit_price=Money.of(price, cur),
        taxes=(TaxLine("tax", Decimal("0.08875"), Money.of(tax, cur)),),
    )
    draft = Sale(
        id=document_id(tenant, SOURCE, DocumentKind.SALE, external_id),
        tenant_id=tenant,
        location_id=location,
        source=SOURCE,
        external_id=external_id,
        occurred_at=at,
        currency=cur,
        tax_mode=mode,
        lines=(line,),
        payments=(),
    )
    return replace(draft, payments=(Payment("card", draft.computed_total),))


B1 = sale("demo", "brooklyn", "B1", utc(2026, 3, 4, 18), ("HOOD", "Apparel", "64.00", "5.68"))
# 21:30 in New York on 4 Mar, already 5 Mar in UTC.
B2 = sale("demo", "brooklyn", "B2", utc(2026, 3, 5, 2, 30), ("BEAN", "Coffee", "14.75", "1.31"))
BR1 = Refund(
    id=document_id("demo", SOURCE, DocumentKind.REFUND, "BR1"),
    tenant_id="demo",
    location_id="brooklyn",
    source=SOURCE,
    external_id="BR1",
    sale_id=B1.id,
    occurred_at=utc(2026, 3, 5, 15),
    currency="USD",
    tax_mode=TaxMode.EXCLUSIVE,
    lines=(
        RefundLine(
            "HOOD",
            Decimal(1),
            Money.of("64.00", "USD"),
            "Apparel",
            (TaxLine("tax", Decimal("0.08875"), Money.of("5.68", "USD")),),
        ),
    ),
    payments=(Payment("card", Money.of("69.68", "USD")),),
)
A1 = sale("demo", "bayarea", "A1", utc(2026, 3, 5, 19), ("MUG", "Homeware", "16.00", "1.42"))
A2 = sale("demo", "bayarea", "A2", utc(2026, 3, 6, 11), ("CAP", "Accessories", "22.00", "1.95"))
O1 = sale("other", "main", "O1", utc(2026, 3, 5, 12), ("TEA", "Grocery", "123.45", "20.58"))


def receive(engine: Engine, tenant: str, *docs: Sale | Refund) -> None:
    for doc in docs:
        payload = json.dumps(codec.encode(doc))
        engine.receive(tenant, SOURCE, doc.kind.value, payload, event_id=doc.id)


@pytest.fixture
def sales(db: sessionmaker[Session]) -> sessionmaker[Session]:
    """B1, B2, BR1, A1 (demo) and O1 (other) posted at their windows; A2 still waits for
    the 06:00 Bay Area window of 6 Mar."""
    clock = ManualClock(utc(2026, 3, 5, 20))
    engine = Engine(db, clock)
    receive(engine, "demo", B1, B2, BR1, A1)
    receive(engine, "other", O1)
    engine.run_until_idle()
    clock.set(utc(2026, 3, 6, 12))  # past every window but Bay Area's 06:00
    engine.run_until_idle()
    receive(engine, "demo", A2)
    engine.run_until_idle()
    return db


def lose_from_books(db: sessionmaker[Session], doc_id: str) -> None:
    with db() as session, session.begin():
        key = session.scalar(
            select(PostingRow.key)
            .join(PostingDocumentRow, PostingDocumentRow.posting_id == PostingRow.id)
            .where(PostingDocumentRow.document_id == doc_id)
        )
        session.execute(delete(JournalEntryRow).where(JournalEntryRow.key == key))


def rows_of(html: str, table: int = 0) -> list[str]:
    """Each row's text in the page's ``table``-th table body, tags removed, spaces
    collapsed."""
    body = html.split("<tbody>")[table + 1].split("</tbody>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, flags=re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", r).split()) for r in rows]


def all_rows(html: str) -> list[str]:
    """Every table body row of the page, as ``rows_of`` reads them."""
    return [row for n in range(html.count("<tbody>")) for row in rows_of(html, n)]


def test_the_sales_log_shows_each_sale_with_its_state_and_the_freshness_line(
    sales: sessionmaker[Session], signed_in: SignedIn
) -> None:
    """Newest first, in each location's local time, with totals, states and the lag."""
    page = signed_in("owner@harbor.example").get("/app/demo/sales")
    assert page.status_code == 200
    text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    assert (
        "Bay Area: sales up to 11:00 on Thu 5 Mar are synced; "
        "1 sale waits for the 06:00 window on Fri 6 Mar." in text
    )
    rows = rows_of(page.text)
    assert [r.split(" Sale ")[0].split(" Refund ")[0] for r in rows] == [
        "2026-03-06 03:00 PST Fri 06 Mar 2026 Bay Area",
        "2026-03-05 11:00 PST Thu 05 Mar 2026 Bay Area",
        "2026-03-05 10:00 EST Thu 05 Mar 2026 Brooklyn",
        "2026-03-04 21:30 EST Wed 04 Mar 2026 Brooklyn",
        "2026-03-04 13:00 EST Wed 04 Mar 2026 Brooklyn",
    ]
    assert "Sale A2" in rows[0]
    assert "23.95 USD" in rows[0]
    assert "waiting" in rows[0]
    assert "Refund BR1" in rows[2]
    assert "-69.68 USD" in rows[2]
    assert "posted" in rows[2]
    assert "ledger" in rows[2]
    assert "69.68 USD" in rows[4]
    assert "123.45" not in page.text


def test_the_log_filters_by_location_and_day_and_pages_by_cursor(
    sales: sessionmaker[Session], signed_in: SignedIn
) -> None:
    """Filters narrow the rows; "Older" carries the filters and the cursor along."""
    owner = signed_in("owner@harbor.example")
    brooklyn = owner.get("/app/demo/sales?location=brooklyn&since=2026-03-04&until=2026-03-04")
    assert [r.split(" USD")[0][-30:].split()[-1] for r in rows_of(brooklyn.text)] == [
        "16.06",
        "69.68",
    ]
    first = owner.get("/app/demo/sales?location=brooklyn&per_page=2")
    assert len(rows_of(first.text)) == 2
    older = re.search(r'href="(\?[^"]*before=[^"]+)"', first.text)
    assert older is not None
    link = older.group(1).replace("&amp;", "&")
    assert "location=brooklyn" in link
    assert "per_page=2" in link
    second = owner.get(f"/app/demo/sales{link}")
    assert second.status_code == 200
    [last] = rows_of(second.text)
    assert "Sale B1" in last
    assert "Older" not in second.text
    assert "Newest" in second.text


def test_the_sales_report_tables_and_charts_hold_the_real_figures(
    sales: sessionmaker[Session], signed_in: SignedIn
) -> None:
    """Net sales per day and location, each chart an SVG with the same numbers as a table."""
    owner = signed_in("owner@harbor.example")
    page = owner.get("/app/demo/reports/sales?first=2026-03-04&last=2026-03-06")
    assert page.status_code == 200
    html = page.text
    assert html.count('<svg viewBox="0 0') == 3
    assert html.count('role="img"') == 3
    assert html.count('class="chart-data"') == 3
    assert "Net sales per day (USD)" in html
    # 4 Mar: B1 64.00 and B2 14.75 in Brooklyn; 5 Mar: A1 16.00 less BR1's 64.00 refund.
    rows = all_rows(html)
    assert (
        "Wed 04 Mar 2026 (USD) 2 78.75 USD 0.00 USD 0.00 USD 78.75 USD 6.99 USD 0.00 USD "
        "0.00 USD" in rows
    )
    assert (
        "Thu 05 Mar 2026 (USD) 1 16.00 USD 0.00 USD 64.00 USD -48.00 USD -4.26 USD 0.00 USD "
        "0.00 USD" in rows
    )
    assert (
        "Brooklyn (USD) 2 78.75 USD 0.00 USD 64.00 USD 14.75 USD 1.31 USD 0.00 USD 0.00 USD" in rows
    )
    assert "Apparel 1 64.00 USD 0.00 USD 0.00 USD 64.00 USD 5.68 USD" in rows  # 4 Mar
    assert "Apparel 0 0.00 USD 0.00 USD 64.00 USD -64.00 USD -5.68 USD" in rows  # 5 Mar
    assert "Homeware 1 16.00 USD 0.00 USD 0.00 USD 16.00 USD 1.42 USD" in rows
    bay = owner.get("/app/demo/reports/sales?first=2026-03-04&last=2026-03-06&location=bayarea")
    assert "Apparel" not in bay.text
    assert "Accessories" in bay.text
    assert "123.45" not in html


def test_reconciliation_marks_the_day_missing_an_entry_and_the_drill_down_names_it(
    sales: sessionmaker[Session], signed_in: SignedIn
) -> None:
    """With B2's ledger entry gone, 4 Mar in Brooklyn is different by 16.06 and the day's
    page names B2 and why; clean days carry the clean badge."""
    lose_from_books(sales, B2.id)
    owner = signed_in("books@harbor.example")
    page = owner.get("/app/demo/reconciliation?first=2026-03-04&last=2026-03-06")
    assert page.status_code == 200
    rows = rows_of(page.text)
    lost = "Wed 04 Mar 2026 Brooklyn 2 85.74 USD 69.68 USD 16.06 USD different 1 document"
    assert any(r.startswith(lost) for r in rows), rows
    assert "Thu 05 Mar 2026 Bay Area 1 17.42 USD 17.42 USD 0.00 USD clean" in rows
    assert "Thu 05 Mar 2026 Brooklyn 1 -69.68 USD -69.68 USD 0.00 USD clean" in rows
    waiting = "Fri 06 Mar 2026 Bay Area 1 23.95 USD 0.00 USD 23.95 USD different 1 document"
    assert any(r.startswith(waiting) for r in rows), rows
    assert "2 location-days agree with the books; 2 have differences." in page.text
    link = "/app/demo/reconciliation/brooklyn/2026-03-04"
    assert f'href="{link}"' in page.text
    day = owner.get(link)
    assert day.status_code == 200
    detail = rows_of(day.text)
    assert detail[0].startswith("Sale B1")
    assert "clean" in detail[0]
    assert detail[1].startswith(f"Sale B2 {B2.id}")
    assert "16.06 USD 0.00 USD 16.06 USD different" in detail[1]
    assert "is marked posted, but the books have no entry under that key" in detail[1]
    assert f'id="doc-{B2.id}"' in day.text


def test_another_merchants_user_is_refused_every_report_page(
    sales: sessionmaker[Session], signed_in: SignedIn
) -> None:
    """Same answer as a page that does not exist, and none of the figures."""
    stranger = signed_in("owner@other.example")
    for path in (
        "/app/demo/sales",
        "/app/demo/sales?location=brooklyn",
        "/app/demo/reports/sales",
        "/app/demo/reconciliation",
        "/app/demo/reconciliation/brooklyn/2026-03-04",
    ):
        page = stranger.get(path)
        assert page.status_code == 404, path
        assert "16.06" not in page.text
        assert "Brooklyn" not in page.text
    own = stranger.get("/app/other/sales")
    assert own.status_code == 200
    assert "123.45 GBP" in own.text
    assert "Brooklyn" not in own.text
    assert stranger.get("/app/other/reconciliation/brooklyn/2026-03-04").status_code == 404


def test_staff_see_a_merchants_pages_and_nobody_unsigned_does(
    sales: sessionmaker[Session], signed_in: SignedIn, app: object
) -> None:
    """Tier 1 support may look; a browser without a session is sent to sign in."""
    support = signed_in("tier1@salesync.example")
    assert "16.06 USD" in support.get("/app/demo/sales").text
    with TestClient(app, follow_redirects=False) as anonymous:  # type: ignore[arg-type]
        sent = anonymous.get("/app/demo/reports/sales")
    assert sent.status_code == 303
    assert sent.headers["location"].startswith("/login?next=/app/demo/reports/sales")


def test_bad_filters_get_a_plain_answer(sales: sessionmaker[Session], signed_in: SignedIn) -> None:
    """A date that is not one, a reversed range or an unknown location is explained."""
    owner = signed_in("owner@harbor.example")
    bad_day = owner.get("/app/demo/sales?since=yesterday")
    assert bad_day.status_code == 400
    assert "is not a date such as 2026-11-02" in bad_day.text
    reversed_range = owner.get("/app/demo/reports/sales?first=2026-03-06&last=2026-03-01")
    assert reversed_range.status_code == 400
    assert "The last day comes before the first day." in reversed_range.text
    assert owner.get("/app/demo/reconciliation?location=nowhere").status_code == 404
    assert owner.get("/app/demo/sales?before=garbage").status_code == 400
