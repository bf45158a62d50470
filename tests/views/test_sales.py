"""The sales log and sales report, read from a real migrated database that the engine has
filled: business days in each location's own zone (across the end of US daylight time),
refunds, two currencies, and a sale still waiting for its window."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import (
    Customer,
    Discount,
    Document,
    DocumentKind,
    Location,
    Payment,
    Refund,
    RefundLine,
    Sale,
    SaleLine,
    TaxLine,
    TaxMode,
    Tenant,
    document_id,
)
from salesync.domain.measures import combine, measures
from salesync.domain.money import Money
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.documents import Documents
from salesync.store.repositories import Directory, Locations, Tenants
from salesync.views.sales import CursorError, sales_log
from salesync.views.sales_report import sales_report

TENANT = "t1"
OTHER = "t2"
SOURCE = "simulator"
BROOKLYN = Location("brooklyn", TENANT, "Brooklyn", "America/New_York", "USD")
SHOREDITCH = Location("shoreditch", TENANT, "Shoreditch", "Europe/London", "GBP")
NY_TAX = Decimal("0.08875")
FIRST, SECOND = date(2026, 11, 1), date(2026, 11, 2)


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def gbp(amount: str) -> Money:
    return Money.of(amount, "GBP")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def line(
    sku: str,
    category: str,
    quantity: int,
    price: Money,
    tax: str,
    *,
    discount: str | None = None,
    rate: Decimal = NY_TAX,
) -> SaleLine:
    currency = price.currency
    name = "NY sales tax" if currency == "USD" else "VAT 20"
    return SaleLine(
        sku=sku,
        name=sku.title(),
        category=category,
        quantity=Decimal(quantity),
        unit_price=price,
        discounts=(Discount("promo", Money.of(discount, currency)),) if discount else (),
        taxes=(TaxLine(name, rate, Money.of(tax, currency)),),
    )


def sale(
    external_id: str,
    location: Location,
    at: datetime,
    lines: tuple[SaleLine, ...],
    *,
    tenant: str = TENANT,
    tender: str = "card",
    order_discount: str | None = None,
    shipping: str | None = None,
    tip: str | None = None,
    customer_id: str | None = None,
) -> Sale:
    cur = location.currency
    mode = TaxMode.EXCLUSIVE if cur == "USD" else TaxMode.INCLUSIVE
    draft = Sale(
        id=document_id(tenant, SOURCE, DocumentKind.SALE, external_id),
        tenant_id=tenant,
        location_id=location.id,
        source=SOURCE,
        external_id=external_id,
        occurred_at=at,
        currency=cur,
        tax_mode=mode,
        lines=lines,
        payments=(),
        order_discounts=(Discount("order", Money.of(order_discount, cur)),)
        if order_discount
        else (),
        shipping=Money.of(shipping, cur) if shipping else None,
        tip=Money.of(tip, cur) if tip else None,
        customer_id=customer_id,
        number=f"#{external_id}",
    )
    return _paid(draft, tender)


def _paid(draft: Sale, tender: str) -> Sale:
    return replace(draft, payments=(Payment(tender, draft.computed_total.rounded()),))


def refund(
    external_id: str, of: Sale, at: datetime, sku: str, category: str, amount: str, tax: str
) -> Refund:
    cur = of.currency
    rate = NY_TAX if cur == "USD" else Decimal("0.20")
    name = "NY sales tax" if cur == "USD" else "VAT 20"
    taxes = (TaxLine(name, rate, Money.of(tax, cur)),)
    refund_line = RefundLine(sku, Decimal(1), Money.of(amount, cur), category, taxes)
    paid_back = Money.of(amount, cur) + (Money.of(tax, cur) if cur == "USD" else Money.zero(cur))
    return Refund(
        id=document_id(of.tenant_id, SOURCE, DocumentKind.REFUND, external_id),
        tenant_id=of.tenant_id,
        location_id=of.location_id,
        source=SOURCE,
        external_id=external_id,
        sale_id=of.id,
        occurred_at=at,
        currency=cur,
        tax_mode=of.tax_mode,
        lines=(refund_line,),
        payments=(Payment("card", paid_back),),
    )


# 01:30 EDT on 1 Nov, before the clocks go back at 02:00.
S1 = sale(
    "S1",
    BROOKLYN,
    utc(2026, 11, 1, 5, 30),
    (line("TEE", "Apparel", 2, usd("28.00"), "4.97"),),
    tip="3.00",
    customer_id="c1",
)
# 22:30 EST on 1 Nov: already 2 Nov in UTC, still 1 Nov in Brooklyn.
S2 = sale(
    "S2",
    BROOKLYN,
    utc(2026, 11, 2, 3, 30),
    (
        line("BEAN", "Coffee", 1, usd("14.75"), "1.15", discount="1.75"),
        line("MUG", "Homeware", 1, usd("16.00"), "1.42"),
    ),
    order_discount="2.90",
    shipping="6.95",
)
S3 = sale("S3", BROOKLYN, utc(2026, 11, 2, 16), (line("HOOD", "Apparel", 1, usd("64.00"), "5.68"),))
R1 = refund("R1", S1, utc(2026, 11, 2, 17), "TEE", "Apparel", "28.00", "2.49")
# 23:30 GMT on 1 Nov in London.
L1 = sale(
    "L1",
    SHOREDITCH,
    utc(2026, 11, 1, 23, 30),
    (line("CNDL", "Homeware", 1, gbp("20.40"), "3.40", rate=Decimal("0.20")),),
)
L2 = sale(
    "L2",
    SHOREDITCH,
    utc(2026, 11, 2, 10, 30),
    (line("LATTE", "Coffee", 2, gbp("4.08"), "1.36", rate=Decimal("0.20")),),
)
# Received on the morning of 3 Nov; it waits for the 18:00 Brooklyn window.
S4 = sale(
    "S4", BROOKLYN, utc(2026, 11, 3, 11, 50), (line("CAP", "Accessories", 1, usd("22.00"), "1.95"),)
)
SYNCED: tuple[Document, ...] = (S1, S2, S3, R1, L1, L2)
ELSEWHERE = Location("brooklyn", OTHER, "Other Brooklyn", "America/New_York", "USD")
FOREIGN = sale(
    "X1",
    ELSEWHERE,
    utc(2026, 11, 1, 15),
    (line("TEE", "Apparel", 1, usd("28.00"), "2.49"),),
    tenant=OTHER,
)


def receive(engine: Engine, tenant: str, docs: tuple[Document, ...]) -> None:
    for doc in docs:
        payload = json.dumps(codec.encode(doc))
        engine.receive(tenant, SOURCE, doc.kind.value, payload, event_id=doc.id)


def build(factory: sessionmaker[Session]) -> Engine:
    """Two tenants; the first's sales of 1-2 Nov posted at the windows, S4 still waiting."""
    with factory() as session, session.begin():
        Tenants(session).add(Tenant(TENANT, "Harbor & Pine"))
        Tenants(session).add(Tenant(OTHER, "Somebody Else"))
        Locations(session, TENANT).add(BROOKLYN)
        Locations(session, TENANT).add(SHOREDITCH)
        Locations(session, OTHER).add(ELSEWHERE)
        Directory(session, TENANT).put_customer(Customer("c1", TENANT, "Ada Lovelace"))
    clock = ManualClock(utc(2026, 11, 2, 19))
    engine = Engine(factory, clock)
    receive(engine, TENANT, SYNCED)
    receive(engine, OTHER, (FOREIGN,))
    engine.run_until_idle()
    clock.set(utc(2026, 11, 3, 6, 30))  # past 18:00 New York and 06:00 London
    engine.run_until_idle()
    clock.set(utc(2026, 11, 3, 12))
    receive(engine, TENANT, (S4,))
    engine.run_until_idle()
    return engine


@pytest.fixture
def db(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    build(factory)
    return factory


def test_the_log_lists_sales_and_refunds_newest_first_with_their_local_day(
    db: sessionmaker[Session],
) -> None:
    """Each entry carries its instant, local time and business day in its own zone."""
    with db() as session:
        page = sales_log(session, TENANT)
    assert [e.external_id for e in page.entries] == ["S4", "R1", "S3", "L2", "S2", "L1", "S1"]
    by_id = {e.external_id: e for e in page.entries}
    late = by_id["S2"]
    assert late.occurred_at == utc(2026, 11, 2, 3, 30)
    assert late.business_day == FIRST
    assert (late.local_time.hour, late.local_time.minute) == (22, 30)
    assert late.local_time.utcoffset() is not None
    assert late.local_time.utcoffset().total_seconds() == -5 * 3600  # type: ignore[union-attr]
    early = by_id["S1"]
    assert early.business_day == FIRST
    assert early.local_time.utcoffset().total_seconds() == -4 * 3600  # type: ignore[union-attr]
    assert by_id["L1"].business_day == FIRST
    assert by_id["L1"].total == gbp("20.40")
    assert early.total == usd("63.97")
    assert early.customer == "Ada Lovelace"
    assert by_id["R1"].customer == "Ada Lovelace"
    assert by_id["R1"].kind == "refund"
    assert by_id["R1"].sale_id == S1.id
    assert by_id["R1"].total == usd("30.49")
    assert by_id["S3"].customer is None
    assert page.next_cursor is None


def test_posted_entries_say_when_they_synced_and_where_the_waiting_one_stands(
    db: sessionmaker[Session],
) -> None:
    """Posted documents show their posting time and the books' reference; S4 waits."""
    with db() as session:
        entries = {e.external_id: e for e in sales_log(session, TENANT).entries}
    for name in ("S1", "S2", "S3", "R1", "L1", "L2"):
        entry = entries[name]
        assert entry.state == "posted", (name, entry.status)
        assert entry.synced_at is not None
        assert utc(2026, 11, 2, 19) <= entry.synced_at <= utc(2026, 11, 3, 6, 30)
        assert entry.destination == "ledger"
        assert entry.reference is not None
        assert entry.reference.isdigit()
    waiting = entries["S4"]
    assert waiting.state == "waiting"
    assert waiting.synced_at is None
    assert waiting.reference is None
    assert "window" in waiting.status


def test_freshness_states_what_is_synced_and_what_waits_for_which_window(
    db: sessionmaker[Session],
) -> None:
    """Brooklyn: synced up to R1 (12:00 local on 2 Nov); one sale waits for 18:00 on 3 Nov."""
    with db() as session:
        fresh = sales_log(session, TENANT).freshness
    brooklyn, shoreditch = fresh.locations
    assert brooklyn.synced_through == R1.occurred_at
    assert brooklyn.waiting == 1
    assert brooklyn.next_window == utc(2026, 11, 3, 23)
    assert brooklyn.text == (
        "Brooklyn: sales up to 12:00 on Mon 2 Nov are synced; "
        "1 sale waits for the 18:00 window on Tue 3 Nov."
    )
    assert shoreditch.waiting == 0
    assert shoreditch.text == (
        "Shoreditch: sales up to 10:30 on Mon 2 Nov are synced; nothing is waiting."
    )
    assert fresh.waiting == 1
    assert fresh.next_window == utc(2026, 11, 3, 23)
    assert fresh.text == f"{brooklyn.text} {shoreditch.text}"


def test_pages_follow_the_cursor_without_gaps_or_repeats(db: sessionmaker[Session]) -> None:
    """Three at a time, the cursor walks the whole log once, newest first."""
    seen: list[str] = []
    cursor: str | None = None
    with db() as session:
        for _ in range(5):
            page = sales_log(session, TENANT, limit=3, before=cursor)
            seen += [e.external_id for e in page.entries]
            cursor = page.next_cursor
            if cursor is None:
                break
    assert seen == ["S4", "R1", "S3", "L2", "S2", "L1", "S1"]


def test_filters_by_location_and_business_day(db: sessionmaker[Session]) -> None:
    """A location and a day range narrow the log; the day is the location's own."""
    with db() as session:
        first_day = sales_log(session, TENANT, location="brooklyn", since=FIRST, until=FIRST)
        london = sales_log(session, TENANT, location="shoreditch")
    assert [e.external_id for e in first_day.entries] == ["S2", "S1"]
    assert [e.external_id for e in london.entries] == ["L2", "L1"]
    assert [f.location.id for f in london.freshness.locations] == ["shoreditch"]


def test_a_cursor_it_did_not_issue_is_refused_plainly(db: sessionmaker[Session]) -> None:
    """A tampered page link is an error that says to start again, not a crash."""
    with db() as session, pytest.raises(CursorError, match="start again"):
        sales_log(session, TENANT, before="not-a-cursor")


def test_another_tenant_sees_only_its_own_sales(db: sessionmaker[Session]) -> None:
    """The other tenant's log holds its one sale and nothing of the first tenant's."""
    with db() as session:
        theirs = sales_log(session, OTHER)
        ours = sales_log(session, TENANT)
        report = sales_report(session, OTHER, FIRST, SECOND)
    assert [e.external_id for e in theirs.entries] == ["X1"]
    assert "X1" not in {e.external_id for e in ours.entries}
    assert [f.location.name for f in theirs.freshness.locations] == ["Other Brooklyn"]
    assert [g.totals.gross_sales for g in report.groups] == [usd("28.00")]


def test_the_report_groups_by_local_day_location_and_category(
    db: sessionmaker[Session],
) -> None:
    """1 Nov in Brooklyn holds S1 and the late S2; order discounts spread over categories."""
    with db() as session:
        report = sales_report(session, TENANT, FIRST, SECOND)
    groups = {(g.day, g.location_id): g for g in report.groups}
    assert list(groups) == [
        (FIRST, "brooklyn"),
        (FIRST, "shoreditch"),
        (SECOND, "brooklyn"),
        (SECOND, "shoreditch"),
    ]
    day = groups[(FIRST, "brooklyn")]
    assert day.currency == "USD"
    assert day.totals.orders == 2
    assert day.totals.gross_sales == usd("86.75")
    assert day.totals.discounts == usd("4.65")
    assert day.totals.net_sales == usd("82.10")
    assert day.totals.tax == usd("7.54")
    assert day.totals.tips == usd("3.00")
    assert day.totals.shipping == usd("6.95")
    cats = {row.category: row.figures for row in day.categories}
    assert set(cats) == {"Apparel", "Coffee", "Homeware"}
    assert cats["Coffee"].discounts == usd("3.05")  # 1.75 on the line + 1.30 of the order's
    assert cats["Homeware"].discounts == usd("1.60")
    assert cats["Apparel"].orders == 1
    assert cats["Coffee"].tips == usd("0")
    next_day = groups[(SECOND, "brooklyn")]
    assert (next_day.totals.orders, next_day.totals.refund_count) == (1, 1)
    assert next_day.totals.refunds == usd("28.00")
    assert next_day.totals.tax == usd("3.19")
    assert next_day.totals.net_sales == usd("36.00")
    london = groups[(FIRST, "shoreditch")]
    assert london.totals.gross_sales == gbp("17.00")  # VAT included in the price
    assert london.totals.tax == gbp("3.40")


def test_the_report_totals_each_currency_per_day_and_per_location(
    db: sessionmaker[Session],
) -> None:
    """Dollars and pounds are never added together; S4 (3 Nov) is outside the range."""
    with db() as session:
        report = sales_report(session, TENANT, FIRST, SECOND)
    totals = {f.currency: f for f in report.totals}
    assert totals["USD"].net_sales == usd("118.10")
    assert totals["USD"].tax == usd("10.73")
    assert totals["GBP"].gross_sales == gbp("23.80")
    assert totals["GBP"].tax == gbp("4.76")
    by_location = {(t.location_id, t.figures.currency): t.figures for t in report.by_location}
    assert set(by_location) == {("brooklyn", "USD"), ("shoreditch", "GBP")}
    assert by_location[("brooklyn", "USD")].orders == 3
    by_day = {(t.day, t.figures.currency): t.figures for t in report.by_day}
    assert by_day[(SECOND, "GBP")].gross_sales == gbp("6.80")
    assert by_day[(FIRST, "USD")].orders == 2
    assert report.documents == 6
    assert report.freshness.waiting == 1
    with db() as session:
        brooklyn_only = sales_report(session, TENANT, FIRST, SECOND, location="brooklyn")
    assert {g.location_id for g in brooklyn_only.groups} == {"brooklyn"}
    assert [f.currency for f in brooklyn_only.totals] == ["USD"]


def test_report_figures_agree_with_what_the_books_measure(
    factory: sessionmaker[Session],
) -> None:
    """For a simulated week, each day's sales, discounts, refunds and tax equal the
    measures the books are reconciled on."""
    merchant = demo_merchant(orders_per_day=25)
    docs = [d for d in simulate(merchant, date(2026, 10, 28), 7, seed=3) if d.kind != "payout"]
    locations = {loc.id: loc for loc in merchant.locations}
    expected: dict[tuple[date, str], dict[str, Decimal]] = defaultdict(dict)
    with factory() as session, session.begin():
        Tenants(session).add(merchant.tenant)
        for loc in merchant.locations:
            Locations(session, "demo").add(loc)
        documents = Documents(session, "demo")
        for doc in docs:
            documents.add(doc, locations[doc.location_id])
            day = doc.occurred_at.astimezone(locations[doc.location_id].zone).date()
            combine(expected[(day, doc.location_id)], measures(doc))
    with factory() as session:
        report = sales_report(session, "demo", date(2026, 10, 28), date(2026, 11, 3))
    assert len(report.groups) == len(expected)
    assert report.documents == len(docs)
    for group in report.groups:
        books = expected[(group.day, group.location_id)]
        figures = group.totals
        tax = sum((v for k, v in books.items() if k.startswith("tax: ")), Decimal(0))
        where = (group.day, group.location_id)
        assert figures.gross_sales.amount == books.get("sales", 0), where
        assert figures.discounts.amount == books.get("discounts", 0), where
        assert figures.refunds.amount == books.get("refunds", 0), where
        assert figures.tips.amount == books.get("tips", 0), where
        assert figures.shipping.amount == books.get("shipping", 0), where
        assert figures.service_charges.amount == books.get("service charges", 0), where
        assert figures.gift_cards.amount == books.get("gift cards", 0), where
        assert figures.tax.amount == tax, where
        by_category = Money.zero(group.currency)
        for row in group.categories:
            by_category = by_category + row.figures.gross_sales
        assert by_category == figures.gross_sales, where
