"""Held documents and quarantined records as the merchant sees them, and the one-click
mapping fix that releases what a missing rule held."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Document, Sale
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.mappings import Mappings
from salesync.engine.runner import Engine
from salesync.rules import MappingDataError, Target, retail_default, strict_retail
from salesync.store import codec
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import PostingDocumentRow, QueuedDocumentRow
from salesync.views.held import (
    account_choices,
    held_documents,
    placeable,
    quarantined_records,
    suggestions,
)

MERCHANT = demo_merchant(orders_per_day=10)
START = date(2026, 10, 30)
CATEGORIES = ["Accessories", "Apparel", "Coffee", "Homeware", "Stationery"]
TAXES = ["NY sales tax", "VAT 20"]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 10, 29, tzinfo=UTC))


@pytest.fixture
def db(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        Tenants(session).add(replace(MERCHANT.tenant, id="other", name="Other shop"))
        for loc in MERCHANT.locations:
            Locations(session, MERCHANT.tenant.id).add(loc)
    return factory


def publish_without(db: sessionmaker[Session], clock: ManualClock, missing: str) -> None:
    with db() as session, session.begin():
        mapping = strict_retail(categories=[c for c in CATEGORIES if c != missing], taxes=TAXES)
        Mappings(session, "demo").publish(mapping, clock())


def deliver(engine: Engine, clock: ManualClock, docs: list[Document]) -> None:
    """Every document arrives, then the engine works through the next day's windows."""
    clock.set(datetime.combine(START + timedelta(days=2), time(20), UTC))
    for doc in docs:
        engine.receive("demo", "simulator", doc.kind.value, json.dumps(codec.encode(doc)))
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")


def coffee_sales(docs: list[Document]) -> set[str]:
    return {
        d.id for d in docs if isinstance(d, Sale) and any(ln.category == "Coffee" for ln in d.lines)
    }


def test_held_documents_name_the_missing_value_and_one_suggestion_covers_them_all(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Every sale held for 'Coffee' shows the problem, and one suggestion lists them all."""
    publish_without(db, clock, "Coffee")
    docs = list(simulate(MERCHANT, START, 2, seed=2))
    deliver(Engine(db, clock), clock, docs)
    coffee = coffee_sales(docs)
    assert len(coffee) > 1
    with db() as session:
        held = held_documents(session, "demo")
        found = suggestions(session, "demo")
        one = suggestions(session, "demo", [held[0].document_id])
        assert suggestions(session, "demo", []) == []
        assert held_documents(session, "other") == []
    assert {h.document_id for h in held} >= coffee
    first = next(h for h in held if h.document_id in coffee)
    assert first.total.currency == first.currency
    assert first.total.to_minor() != 0
    assert any("'Coffee'" in p.message and p.path.endswith(".category") for p in first.problems)
    coffee_fix = [s for s in found if s.value == "Coffee"]
    assert len(coffee_fix) == 1
    fix = coffee_fix[0]
    assert (fix.target, fix.field, fix.condition) == ("income", "category", 'category == "Coffee"')
    assert set(fix.documents) == coffee
    assert len(fix.documents) == len(set(fix.documents))
    assert [s.documents for s in one] == [(held[0].document_id,)] * len(one)
    assert replace(fix, documents=(first.document_id,)) in first.suggestions


def test_account_choices_offer_the_mapping_accounts_and_the_chart_accounts_of_that_type(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Income rules may pick income accounts only; tenders asset accounts; never a template."""
    with db() as session, session.begin():
        Mappings(session, "demo").publish(retail_default(), clock())
    deliver(Engine(db, clock), clock, list(simulate(MERCHANT, START, 1, seed=2)))
    with db() as session:
        income = account_choices(session, "demo", "income")
        tender = account_choices(session, "demo", "tender")
        other = account_choices(session, "other", "income")
    assert income == sorted(set(income))
    assert income
    assert all(a.startswith("Income:") for a in income)
    assert "Income:Sales:Coffee" in income  # the ledger made it when the sales posted
    assert tender
    assert "Assets:Clearing:Card" in tender  # the chart's clearing account for cards
    assert not [a for a in tender if "{" in a or a.startswith("Income:")]
    assert other == []


def test_adding_the_suggested_rule_releases_the_held_sales_and_they_post(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """The one-click fix publishes version 2, releases the sales, and the next tick posts them."""
    publish_without(db, clock, "Coffee")
    docs = list(simulate(MERCHANT, START, 2, seed=2))
    engine = Engine(db, clock)
    deliver(engine, clock, docs)
    coffee = coffee_sales(docs)
    with db() as session, session.begin():
        fix = next(s for s in suggestions(session, "demo") if s.value == "Coffee")
        assert placeable(session, "demo", fix.documents) == 0
        mappings = Mappings(session, "demo")
        version = mappings.add_rule(
            fix.target, fix.condition, "Income:Sales:Coffee", clock(), by="bo@example.com"
        )
        assert mappings.released >= len(coffee)
        assert placeable(session, "demo", fix.documents) == len(coffee)
    assert version == 2
    engine.run_until_idle("demo")
    with db() as session:
        assert held_documents(session, "demo") == []
        covered = set(session.scalars(select(PostingDocumentRow.document_id)))
        latest = Mappings(session, "demo").latest()
    assert coffee <= covered
    assert latest is not None
    assert latest.rules_for(Target.INCOME)[-1].when == 'category == "Coffee"'


def test_a_new_rule_goes_before_the_catch_all_so_it_wins(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """With a catch-all income rule, the added rule is placed before it and decides."""
    with db() as session, session.begin():
        mappings = Mappings(session, "demo")
        mappings.publish(retail_default(), clock())
        assert (
            mappings.add_rule(Target.INCOME, 'category == "Coffee"', "Income:Drinks", clock()) == 2
        )
        rules = mappings.latest().rules_for(Target.INCOME)  # type: ignore[union-attr]
    assert [r.when for r in rules] == ['category == "Coffee"', "true"]
    assert rules[0].account == "Income:Drinks"


def test_bad_fixes_are_refused_with_what_to_change(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """No mapping yet, an unknown field, a bad account or a rule already there: each refused."""
    with db() as session, session.begin():
        mappings = Mappings(session, "demo")
        with pytest.raises(MappingDataError, match="no mapping is published yet"):
            mappings.add_rule("income", 'category == "Tea"', "Income:Tea", clock())
        mappings.publish(strict_retail(categories=["Coffee"], taxes=TAXES), clock())
        with pytest.raises(MappingDataError, match="colour"):
            mappings.add_rule("income", 'colour == "red"', "Income:Red", clock())
        with pytest.raises(MappingDataError, match="must start with one of"):
            mappings.add_rule("income", 'category == "Tea"', "Sales", clock())
        with pytest.raises(MappingDataError, match="already has the income rule"):
            mappings.add_rule("income", 'category == "Coffee"', "Income:Other", clock())
        with pytest.raises(MappingDataError, match="is not one of income"):
            mappings.add_rule("colours", 'category == "Tea"', "Income:Tea", clock())
        assert mappings.latest().version == 1  # type: ignore[union-attr]


def test_quarantined_records_say_what_to_fix_and_whether_they_replay(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """A malformed record is ours to fix; a sale for an unknown location needs the location."""
    engine = Engine(db, clock)
    sale = next(d for d in simulate(MERCHANT, START, 1, seed=2) if isinstance(d, Sale))
    lost = replace(sale, location_id="nowhere")
    clock.set(datetime.combine(START, time(23), UTC))
    engine.receive("demo", "simulator", "sale", "{not json")
    engine.receive("demo", "simulator", "sale", json.dumps(codec.encode(lost)))
    engine.take_in("demo")
    with db() as session:
        records = quarantined_records(session, "demo")
        assert quarantined_records(session, "other") == []
        assert session.query(QueuedDocumentRow).count() == 0
    assert len(records) == 2
    by_code = {p.code: r for r in records for p in r.problems}
    assert "our developers are on it" in by_code["malformed_json"].what_to_fix
    assert "Add the location" in by_code["unknown_location"].what_to_fix
    assert all(r.replayable for r in records)
    assert records[0].received_at >= records[1].received_at
