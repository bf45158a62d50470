"""Invoices in the database: period invoices with prorated locations, plan changes billed,
extra developer time, idempotent issuing and tenant scoping."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker

from salesync.domain.documents import Location
from salesync.domain.money import Money
from salesync.store.repositories import Locations
from salesync.support.billing import BillingError
from salesync.support.catalog import parse_catalog
from salesync.support.invoices import (
    Invoice,
    Invoices,
    bill_extra_time,
    change_plan,
    quote_upgrade,
    quote_upgrades,
)
from salesync.support.plans import Catalog
from salesync.support.subscriptions import Subscriptions

from .conftest import OTHER, START, TENANT

DECEMBER = datetime(2026, 12, 1, 5, tzinfo=UTC)
"""Midnight of 1 December in New York: November's period has ended."""
UPGRADE = datetime(2027, 7, 1, 16, tzinfo=UTC)
"""Noon of 1 July 2027 in New York, four months before the renewal on 1 November."""
RENEWAL = datetime(2027, 11, 1, 4, tzinfo=UTC)
"""Midnight of 1 November 2027 in New York (still daylight time)."""


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def add_location(session: Session, location_id: str, at: datetime) -> None:
    location = Location(location_id, TENANT, location_id.title(), "America/New_York", "USD")
    Locations(session, TENANT).add(location, at=at)


@pytest.mark.parametrize(
    ("catalog_name", "plan", "expected"),
    [("proactive", "standard", "25.00"), ("tiered", "silver", "37.50")],
)
def test_a_location_added_on_the_16th_is_billed_for_half_the_month(
    db: sessionmaker[Session],
    request: pytest.FixtureRequest,
    catalog_name: str,
    plan: str,
    expected: str,
) -> None:
    """November with two locations all month and a third from the 16th bills two whole
    locations and half of one ($25.00 at $10, $37.50 at $15)."""
    catalog: Catalog = request.getfixturevalue(catalog_name)
    with db() as session, session.begin():
        Subscriptions(session, catalog).subscribe(TENANT, plan, START, actor="owner@acme.test")
        add_location(session, "queens", datetime(2026, 11, 16, 15, tzinfo=UTC))
        issued = Invoices(session, catalog).issue_due(TENANT, DECEMBER)
    assert len(issued) == 1
    invoice = issued[0]
    assert invoice.total == usd(expected)
    assert (invoice.kind, invoice.plan, invoice.key) == ("period", plan, "2026-11-01..2026-11-30")
    queens = next(line for line in invoice.lines if "Queens" in line.description)
    assert queens.quantity == Decimal("0.5")
    assert "16 November 2026 to 30 November 2026 (15 of 30 days)" in queens.description


def test_a_location_removed_mid_month_is_billed_for_its_active_days(
    db: sessionmaker[Session], proactive: Catalog
) -> None:
    """Brooklyn closed at 22:00 on the 19th is billed 19 of 30 days: $6.33."""
    with db() as session, session.begin():
        Subscriptions(session, proactive).subscribe(TENANT, "standard", START, actor="owner")
        Locations(session, TENANT).deactivate("brooklyn", datetime(2026, 11, 20, 3, tzinfo=UTC))
        (invoice,) = Invoices(session, proactive).issue_due(TENANT, DECEMBER)
    amounts = {line.description.split(",")[1].strip(): line.amount for line in invoice.lines}
    assert amounts == {"Soho": usd("10.00"), "Brooklyn": usd("6.33")}
    assert invoice.total == usd("16.33")


def test_issuing_twice_returns_the_same_invoice(
    db: sessionmaker[Session], proactive: Catalog
) -> None:
    """A second issue of the same period issues nothing new; the invoice stays single."""
    with db() as session, session.begin():
        Subscriptions(session, proactive).subscribe(TENANT, "standard", START, actor="owner")
        invoices = Invoices(session, proactive)
        first = invoices.issue_due(TENANT, DECEMBER)
        assert invoices.issue_due(TENANT, DECEMBER) == []
        assert invoices.list(TENANT) == first
    with db() as session, session.begin():
        assert Invoices(session, proactive).issue_due(TENANT, DECEMBER) == []
        assert [i.number for i in Invoices(session, proactive).list(TENANT)] == ["acme-202612-0001"]


def test_all_tenants_are_issued_once_per_tick(
    db: sessionmaker[Session], proactive: Catalog
) -> None:
    """Issuing for every tenant counts the invoices issued; the next tick issues none."""
    with db() as session, session.begin():
        subscriptions = Subscriptions(session, proactive)
        for tenant in (TENANT, OTHER):
            subscriptions.subscribe(tenant, "standard", START, actor="owner")
        invoices = Invoices(session, proactive)
        assert invoices.issue_all_due(DECEMBER) == 2
        assert invoices.issue_all_due(DECEMBER) == 0
        assert invoices.list(OTHER)[0].total == usd("10.00")


def test_silver_to_gold_on_the_10th_splits_the_month(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """Nine days at Silver and twenty-one at Gold, a line per location and plan."""
    with db() as session, session.begin():
        Subscriptions(session, tiered).subscribe(TENANT, "silver", START, actor="owner")
        changed = change_plan(
            session, tiered, TENANT, "gold", datetime(2026, 11, 10, 15, tzinfo=UTC), actor="owner"
        )
        assert changed.invoice is None
        (invoice,) = Invoices(session, tiered).issue_due(TENANT, DECEMBER)
    assert [(line.description.split(",")[0], line.amount) for line in invoice.lines] == [
        ("Silver", usd("4.50")),
        ("Silver", usd("4.50")),
        ("Gold", usd("17.50")),
        ("Gold", usd("17.50")),
    ]
    assert (invoice.total, invoice.plan) == (usd("44.00"), "gold")


def test_an_upgrade_to_platinum_bills_the_rest_of_the_year_and_renews_in_full(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """Silver to Platinum on 1 July bills 5988 x 123/365 = $2,017.87 at once and quoted
    alike; the renewal bills $5,988; July has no Silver days left to bill."""
    with db() as session, session.begin():
        Subscriptions(session, tiered).subscribe(TENANT, "silver", START, actor="owner")
        quote = quote_upgrade(session, tiered, TENANT, "platinum", UPGRADE)
        changed = change_plan(session, tiered, TENANT, "platinum", UPGRADE, actor="owner")
        invoices = Invoices(session, tiered)
        issued = invoices.issue_due(TENANT, RENEWAL)
    upgrade = changed.invoice
    assert upgrade is not None
    assert (upgrade.kind, upgrade.total) == ("upgrade", usd("2017.87"))
    assert (quote.total, quote.lines) == (upgrade.total, upgrade.lines)
    assert (quote.period.start, quote.period.end) == (upgrade.period_start, upgrade.period_end)
    assert quote.period.days == 123
    months = [i for i in issued if i.plan == "silver"]
    assert len(months) == 8
    assert {i.total for i in months} == {usd("30.00")}
    (renewal,) = [i for i in issued if i.plan == "platinum"]
    assert (renewal.key, renewal.total) == ("2027-11-01..2028-10-31", usd("5988.00"))


def test_a_mid_term_downgrade_off_platinum_names_the_renewal(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """Leaving Platinum for Silver mid-year is refused until 1 November 2027; at the
    renewal itself it is made."""
    with db() as session, session.begin():
        Subscriptions(session, tiered).subscribe(TENANT, "silver", START, actor="owner")
        change_plan(session, tiered, TENANT, "platinum", UPGRADE, actor="owner")
        with pytest.raises(BillingError, match="renewal on 1 November 2027"):
            change_plan(
                session, tiered, TENANT, "silver", datetime(2027, 8, 1, tzinfo=UTC), actor="x"
            )
        changed = change_plan(session, tiered, TENANT, "silver", RENEWAL, actor="owner")
        assert changed.invoice is None
        issued = Invoices(session, tiered).issue_due(TENANT, RENEWAL)
    assert {i.plan for i in issued} == {"silver"}


def test_quotes_cover_every_plan_above_and_write_nothing(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """A Silver tenant is quoted Gold for the rest of the month and Platinum for the rest of
    the year; nothing is issued by quoting."""
    with db() as session, session.begin():
        Subscriptions(session, tiered).subscribe(TENANT, "silver", START, actor="owner")
        quotes = quote_upgrades(session, tiered, TENANT, datetime(2026, 11, 16, 15, tzinfo=UTC))
        assert [(q.plan.code, q.period.days, q.total) for q in quotes] == [
            ("gold", 15, usd("25.00")),
            ("platinum", 350, usd("5741.92")),
        ]
        assert Invoices(session, tiered).list(TENANT) == []
        with pytest.raises(BillingError, match="not above Silver"):
            quote_upgrade(session, tiered, TENANT, "silver", START)


def test_another_tenants_invoice_is_not_visible(
    db: sessionmaker[Session], proactive: Catalog
) -> None:
    """Asking for an invoice with another tenant's id answers nothing."""
    with db() as session, session.begin():
        Subscriptions(session, proactive).subscribe(TENANT, "standard", START, actor="owner")
        invoices = Invoices(session, proactive)
        (invoice,) = invoices.issue_due(TENANT, DECEMBER)
        assert invoices.get(TENANT, invoice.id) == invoice
        assert invoices.get(OTHER, invoice.id) is None
        assert invoices.list(OTHER) == []


def test_two_blocks_of_extra_time_on_platinum_bill_500(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """Two 30-minute blocks at $250 bill $500.00 once per key; Silver sells none."""
    with db() as session, session.begin():
        Subscriptions(session, tiered).subscribe(TENANT, "silver", START, actor="owner")
        with pytest.raises(BillingError, match="cannot be bought on Silver"):
            bill_extra_time(session, tiered, TENANT, 2, START, "dev@salesync.test", "buy-1")
        change_plan(session, tiered, TENANT, "platinum", UPGRADE, actor="owner")
        at = datetime(2027, 8, 3, 14, tzinfo=UTC)
        invoice = bill_extra_time(session, tiered, TENANT, 2, at, "dev@salesync.test", "buy-1")
        again = bill_extra_time(session, tiered, TENANT, 2, at, "dev@salesync.test", "buy-1")
    assert again == invoice
    assert (invoice.kind, invoice.total) == ("extra_time", usd("500.00"))
    assert [line.description for line in invoice.lines] == ["Extra developer time: 2 × 30 minutes"]


def test_a_concurrent_issue_of_the_same_invoice_leaves_one_for_both(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """Another worker issuing the same purchase between our check and our insert wins the
    unique key; we get its invoice back and no second one exists."""
    with db() as session, session.begin():
        Subscriptions(session, tiered).subscribe(TENANT, "platinum", START, actor="owner")
    at = datetime(2026, 11, 3, 14, tzinfo=UTC)
    won: list[Invoice] = []

    def other_worker_first(state: ORMExecuteState) -> None:
        if not won and "count(" in str(state.statement):
            with db() as other, other.begin():
                won.append(bill_extra_time(other, tiered, TENANT, 1, at, "dev", "buy-1"))

    with db() as session, session.begin():
        event.listen(session, "do_orm_execute", other_worker_first)
        invoice = bill_extra_time(session, tiered, TENANT, 1, at, "dev", "buy-1")
    assert won == [invoice]
    with db() as session:
        assert Invoices(session, tiered).list(TENANT) == [invoice]


ANNUAL_PER_LOCATION = """
name = "yearly"
model = "tiered"
timezone = "America/New_York"
default_plan = "yearly"
[plans.yearly]
name = "Yearly"
location_price = "10.00"
term = "annual"
support_tier = 1
sla = { respond = "8h", resolve = "40h" }
"""


def test_an_annual_location_added_mid_year_is_adjusted_and_removal_is_not_refunded(
    db: sessionmaker[Session],
) -> None:
    """Two locations bill $240 ahead; one added on 1 May 2027 adds $10 x 12 x 184/365 =
    $60.49 on May's invoice; one removed gets nothing back."""
    catalog = parse_catalog(ANNUAL_PER_LOCATION)
    with db() as session, session.begin():
        Subscriptions(session, catalog).subscribe(TENANT, "yearly", START, actor="owner")
        invoices = Invoices(session, catalog)
        (year,) = invoices.issue_due(TENANT, START)
        add_location(session, "queens", datetime(2027, 5, 1, 14, tzinfo=UTC))
        Locations(session, TENANT).deactivate("soho", datetime(2027, 5, 2, 14, tzinfo=UTC))
        issued = invoices.issue_due(TENANT, datetime(2027, 6, 1, 4, tzinfo=UTC))
    assert year.total == usd("240.00")
    (may,) = issued
    assert (may.key, may.total) == ("2027-05-01..2027-05-31", usd("60.49"))
