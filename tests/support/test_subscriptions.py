"""Plans in force, billing periods and subscription years."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.support.catalog import CatalogError, load_catalog, parse_catalog
from salesync.support.periods import days_active, period_at, shift_months
from salesync.support.plans import Catalog
from salesync.support.subscriptions import SubscriptionError, Subscriptions

from .conftest import START, TENANT

NEW_YORK = ZoneInfo("America/New_York")


def test_built_in_catalogs_describe_both_support_models() -> None:
    """The proactive catalog has one $10 plan reaching developers; the tiered one keeps
    developers for annual Platinum at $5,988 a year with 10 hours."""
    proactive, tiered = load_catalog("proactive"), load_catalog("tiered")
    assert [(p.code, p.support_tier, p.location_price) for p in proactive.plans.values()] == [
        ("standard", 2, 10)
    ]
    platinum = tiered.plan("platinum")
    assert platinum.term_price(3) == 5988
    assert (platinum.developer_hours, platinum.extra_time_price) == (10, 250)
    assert [p.support_tier for p in (tiered.plan("silver"), tiered.plan("gold"))] == [1, 1]
    assert [p.code for p in tiered.upgrades("silver")] == ["gold", "platinum"]


def test_a_bad_catalog_names_every_problem() -> None:
    """A catalog with a missing default plan and unmetered extra time says both."""
    text = """
name = "mine"
model = "tiered"
default_plan = "bronze"
[plans.basic]
name = "Basic"
location_price = "5"
term = "monthly"
support_tier = 1
extra_time_price = "100"
sla = { respond = "1h", resolve = "2h" }
"""
    with pytest.raises(CatalogError) as raised:
        parse_catalog(text)
    message = str(raised.value)
    assert "default_plan: no plan 'bronze'" in message
    assert "extra_time_price needs developer_hours" in message


def test_an_unknown_catalog_name_says_what_is_built_in() -> None:
    """Naming neither a built-in catalog nor a file lists the built-in ones."""
    with pytest.raises(CatalogError, match="proactive, tiered"):
        load_catalog("platinum-only")


def test_periods_count_from_the_anchor_so_short_months_do_not_drift() -> None:
    """Monthly periods anchored on the 31st start on the last day of short months and
    back on the 31st after them."""
    anchor = date(2026, 1, 31)
    assert shift_months(anchor, 1) == date(2026, 2, 28)
    assert shift_months(anchor, 2) == date(2026, 3, 31)
    march = period_at(anchor, 1, datetime(2026, 3, 30, 12, tzinfo=UTC), NEW_YORK)
    assert (march.first_day, march.last_day) == (date(2026, 2, 28), date(2026, 3, 30))


def test_a_location_added_on_the_16th_is_active_15_of_30_days() -> None:
    """Any part of a local day counts as the day; a still-open interval runs to the end."""
    november = period_at(date(2026, 11, 1), 1, datetime(2026, 11, 10, tzinfo=UTC), NEW_YORK)
    assert november.days == 30
    added = datetime(2026, 11, 16, 15, tzinfo=UTC)
    assert days_active(november, [(added, None)], NEW_YORK) == 15
    removed = datetime(2026, 11, 20, 3, tzinfo=UTC)  # 22:00 on the 19th in New York
    assert days_active(november, [(START, removed)], NEW_YORK) == 19


def test_plan_changes_are_kept_and_the_plan_in_force_follows_them(
    db: sessionmaker[Session], tiered: Catalog
) -> None:
    """A subscription on Silver upgraded to Platinum answers each moment with its plan,
    and the years stay anchored on the start."""
    with db() as session, session.begin():
        subs = Subscriptions(session, tiered)
        subs.subscribe(TENANT, "silver", START, actor="owner@acme.test")
        upgrade = datetime(2027, 7, 1, 16, tzinfo=UTC)
        subs.change(TENANT, "platinum", upgrade, actor="owner@acme.test")
        assert subs.plan_at(TENANT, datetime(2027, 6, 30, tzinfo=UTC)).code == "silver"
        assert subs.plan_at(TENANT, upgrade).code == "platinum"
        assert [c.plan for c in subs.changes(TENANT)] == ["silver", "platinum"]
        year = subs.year(TENANT, upgrade)
        assert (year.first_day, year.last_day) == (date(2026, 11, 1), date(2027, 10, 31))
        assert subs.period(TENANT, upgrade).last_day == date(2027, 10, 31)
        with pytest.raises(SubscriptionError, match="on Platinum already"):
            subs.change(TENANT, "platinum", upgrade, actor="owner@acme.test")
        with pytest.raises(SubscriptionError, match="plans: gold, platinum, silver"):
            subs.change(TENANT, "diamond", upgrade, actor="owner@acme.test")


def test_a_tenant_without_a_subscription_is_on_the_default_plan(
    db: sessionmaker[Session], proactive: Catalog
) -> None:
    """No subscription row means the catalog's default plan since the tenant was made."""
    with db() as session:
        subscription = Subscriptions(session, proactive).get(TENANT)
        assert subscription.plan.code == "standard"
