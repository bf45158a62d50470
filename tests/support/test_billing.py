"""Billing amounts without a database: proration, period lines, annual terms, upgrade
quotes, the rules for leaving an annual plan, and extra developer time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from salesync.domain.money import Money
from salesync.support.billing import (
    BillingError,
    LocationActivity,
    PlanSpan,
    arrears_lines,
    check_plan_change,
    extra_time_line,
    invoice_number,
    invoice_total,
    prorate,
    term_lines,
    upgrade_quote,
)
from salesync.support.catalog import load_catalog, parse_catalog
from salesync.support.periods import midnight, period_number

ZONE = ZoneInfo("America/New_York")
ANCHOR = date(2026, 11, 1)
START = midnight(ANCHOR, ZONE)
NOVEMBER = period_number(ANCHOR, 1, 0, ZONE)
YEAR = period_number(ANCHOR, 12, 0, ZONE)
TIERED = load_catalog("tiered")
SILVER, GOLD, PLATINUM = (TIERED.plan(code) for code in ("silver", "gold", "platinum"))
STANDARD = load_catalog("proactive").plan("standard")


def usd(amount: str) -> Money:
    return Money.of(amount, "USD")


def location(name: str, since: datetime, until: datetime | None = None) -> LocationActivity:
    return LocationActivity(name.lower(), name, ((since, until),))


def on(day: int, hour: int = 12) -> datetime:
    """``hour`` o'clock on ``day`` November 2026 in New York."""
    return datetime(2026, 11, day, hour, tzinfo=ZONE).astimezone(UTC)


STORES = [location("Soho", START), location("Brooklyn", START)]


def test_three_locations_one_added_on_the_16th_bill_25_dollars() -> None:
    """Two whole months at $10 and fifteen of thirty days of a third make $25.00."""
    locations = [*STORES, location("Queens", on(16, 10))]
    lines = arrears_lines(
        NOVEMBER, [PlanSpan(STANDARD, START, None)], locations=locations, zone=ZONE, currency="USD"
    )
    assert [line.amount for line in lines] == [usd("10.00"), usd("10.00"), usd("5.00")]
    assert invoice_total(lines, "USD") == usd("25.00")


def test_a_plan_change_bills_the_change_day_at_the_new_plan() -> None:
    """Silver until noon on the 10th and Gold after bill days 1-9 at Silver, 10-30 at Gold."""
    spans = [PlanSpan(SILVER, START, on(10)), PlanSpan(GOLD, on(10), None)]
    lines = arrears_lines(NOVEMBER, spans, locations=STORES[:1], zone=ZONE, currency="USD")
    assert [(line.description, line.amount) for line in lines] == [
        ("Silver, Soho, 1 November 2026 to 9 November 2026 (9 of 30 days)", usd("4.50")),
        ("Gold, Soho, 10 November 2026 to 30 November 2026 (21 of 30 days)", usd("17.50")),
    ]


def test_an_annual_plan_has_no_arrears_and_a_whole_year_ahead() -> None:
    """Platinum's days are not billed in arrears; its year bills $5,988 in one line."""
    spans = [PlanSpan(PLATINUM, START, None)]
    assert arrears_lines(NOVEMBER, spans, locations=STORES, zone=ZONE, currency="USD") == []
    (line,) = term_lines(PLATINUM, YEAR, YEAR.first_day, locations=STORES, currency="USD")
    assert (line.quantity, line.amount) == (Decimal(1), usd("5988.00"))


def test_an_annual_upgrade_credits_the_unused_part_of_the_annual_plan_left() -> None:
    """From a $10 to a $20 yearly location plan with 183 of 365 days left bills the new
    plan's rest of the year ($240 x 183/365) less the old plan's ($120 x 183/365)."""
    catalog = parse_catalog(
        """
name = "yearly"
model = "tiered"
default_plan = "small"
[plans.small]
name = "Small"
location_price = "10.00"
term = "annual"
support_tier = 1
sla = { respond = "8h", resolve = "40h" }
[plans.large]
name = "Large"
location_price = "20.00"
term = "annual"
support_tier = 2
rank = 1
sla = { respond = "1h", resolve = "8h" }
"""
    )
    small, large = catalog.plan("small"), catalog.plan("large")
    at = midnight(ANCHOR + timedelta(days=182), ZONE) + timedelta(hours=9)
    quote = upgrade_quote(small, large, YEAR, at, locations=STORES[:1], zone=ZONE, currency="USD")
    assert [line.amount for line in quote.lines] == [usd("120.33"), usd("-60.16")]
    assert quote.total == usd("60.17")
    assert quote.period.days == 183


def test_leaving_an_annual_plan_waits_for_the_renewal() -> None:
    """A downgrade off Platinum mid-year names the renewal; at the renewal it is allowed,
    as is a downgrade between monthly plans."""
    with pytest.raises(BillingError, match="renewal on 1 November 2027"):
        check_plan_change(PLATINUM, SILVER, YEAR, on(20))
    check_plan_change(PLATINUM, SILVER, YEAR, YEAR.start)
    check_plan_change(GOLD, SILVER, YEAR, on(20))


def test_extra_time_is_sold_in_whole_blocks_on_metered_plans() -> None:
    """Two blocks on Platinum cost $500.00; none, or any on Silver, are refused."""
    line = extra_time_line(PLATINUM, 2, "USD")
    assert (line.description, line.amount) == ("Extra developer time: 2 × 30 minutes", usd("500"))
    with pytest.raises(BillingError, match="whole blocks"):
        extra_time_line(PLATINUM, 0, "USD")
    with pytest.raises(BillingError, match="cannot be bought on Silver"):
        extra_time_line(SILVER, 1, "USD")


def test_invoice_numbers_fit_their_column_for_any_tenant_id() -> None:
    """A 64-character tenant id still gives a number within 64 characters."""
    assert invoice_number("acme", date(2026, 12, 1), 7) == "acme-202612-0007"
    assert len(invoice_number("t" * 64, date(2026, 12, 1), 9999)) <= 64


@given(
    price=st.decimals(min_value=0, max_value=10_000, places=2),
    days=st.integers(min_value=28, max_value=31),
    split=st.floats(min_value=0, max_value=1),
)
def test_two_parts_of_a_period_add_up_to_the_whole_within_a_cent_each(
    price: Decimal, days: int, split: float
) -> None:
    """A prorated amount never exceeds the full price, and the parts before and after
    any day differ from the whole by at most one cent per part."""
    before = round(split * days)
    first = prorate(price, before, days, "USD")
    second = prorate(price, days - before, days, "USD")
    whole = prorate(price, days, days, "USD")
    assert first <= whole
    assert second <= whole
    assert abs(first + second - whole) <= usd("0.01")


@given(change=st.integers(min_value=2, max_value=30), added=st.integers(min_value=1, max_value=30))
def test_splitting_a_month_by_a_change_to_the_same_prices_costs_the_same(
    change: int, added: int
) -> None:
    """A month cut in two by a change between equally priced plans totals the uncut month
    within one cent per line."""
    locations = [*STORES, location("Queens", on(added))]
    whole = arrears_lines(
        NOVEMBER, [PlanSpan(SILVER, START, None)], locations=locations, zone=ZONE, currency="USD"
    )
    spans = [PlanSpan(SILVER, START, on(change)), PlanSpan(SILVER, on(change), None)]
    split = arrears_lines(NOVEMBER, spans, locations=locations, zone=ZONE, currency="USD")
    difference = abs(invoice_total(split, "USD") - invoice_total(whole, "USD"))
    assert difference <= usd("0.01") * len(split)
