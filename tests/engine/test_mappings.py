"""Mapping rules in the engine: versions in the database, unmapped values held with a
problem that names them, released and posted once a new version maps them."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Sale
from salesync.domain.errors import ConflictError
from salesync.domain.planning import PostingMode
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.mappings import Mappings
from salesync.engine.planner import Planner
from salesync.engine.runner import Engine
from salesync.rules import MappingDataError, mapping_to_dict, strict_retail
from salesync.store import codec
from salesync.store.tables import PostingRow

from flows import book_balances, coverage, deliver, expected_balances

START = date(2026, 10, 30)
CATEGORIES = ["Accessories", "Apparel", "Coffee", "Homeware", "Stationery"]
TAXES = ["NY sales tax", "VAT 20"]


def publish(
    db: sessionmaker[Session], clock: ManualClock, categories: list[str], version: int
) -> int:
    with db() as session, session.begin():
        mapping = strict_retail(categories=categories, taxes=TAXES, version=version)
        return Mappings(session, "demo").publish(mapping, clock(), by="bookkeeper@example.com")


def test_unmapped_category_holds_its_documents_until_a_new_version_maps_it(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Sales of an unmapped category wait with a problem naming it; the fix posts them once."""
    publish(db, clock, [c for c in CATEGORIES if c != "Coffee"], version=1)
    docs = list(simulate(merchant, START, 3, seed=2))
    engine = Engine(db, clock)
    end = datetime.combine(START + timedelta(days=4), time(20), UTC)
    deliver(engine, clock, docs, end)
    coffee = {
        d.id for d in docs if isinstance(d, Sale) and any(ln.category == "Coffee" for ln in d.lines)
    }
    assert coffee
    with db() as session:
        held = Mappings(session, "demo").held()
        assert {row.document_id for row in held} == coffee
        problem = held[0].problems[0]
        assert problem["code"] == "unmapped_value"
        assert "'Coffee'" in problem["message"]
        assert "version 1" in problem["message"]
        assert problem["path"].endswith(".category")
        assert held[0].mapping_version == 1
    assert not coffee & set(coverage(db))

    assert publish(db, clock, CATEGORIES, version=2) == 2
    engine.run_until_idle("demo")
    with db() as session:
        assert Mappings(session, "demo").held() == []
        versions = set(session.scalars(select(PostingRow.mapping_version)))
    assert versions == {1, 2}
    assert set(coverage(db).values()) == {1}
    assert len(coverage(db)) == len(docs)
    assert book_balances(db) == expected_balances(merchant, docs)


def test_a_held_document_of_a_summarized_day_posts_as_a_supplement(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """The day's summary posts without the held sale; after the fix a supplement carries it."""
    with db() as session, session.begin():
        Planner(session, "demo", merchant.locations, clock).set_mode(
            "shoreditch", PostingMode.DAILY_SUMMARY
        )
    publish(db, clock, [c for c in CATEGORIES if c != "Coffee"], version=1)
    docs = [d for d in simulate(merchant, START, 1, seed=2) if d.location_id == "shoreditch"]
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=2), time(20), UTC))
    publish(db, clock, CATEGORIES, version=2)
    engine.run_until_idle("demo")
    with db() as session:
        keys = sorted(
            session.scalars(select(PostingRow.key).where(PostingRow.mode == "daily_summary"))
        )
    assert keys == [f"daily:shoreditch:GBP:{START}", f"daily:shoreditch:GBP:{START}:late-1"]
    assert book_balances(db) == expected_balances(merchant, docs)


def test_publishing_the_same_version_twice_is_refused_or_a_no_op(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Two people publishing version 2 at once: the second is told to reload, nothing lost."""
    publish(db, clock, CATEGORIES, version=1)
    assert publish(db, clock, CATEGORIES, version=1) == 1  # the same content: no-op
    first, second = db(), db()
    try:
        one, two = Mappings(first, "demo"), Mappings(second, "demo")
        one.history()
        two.history()
        one.publish(strict_retail(categories=["A"], taxes=TAXES, version=2), clock())
        first.commit()
        with pytest.raises(ConflictError, match="version 2"):
            two.publish(strict_retail(categories=["B"], taxes=TAXES, version=2), clock())
    finally:
        first.close()
        second.close()
    with db() as session:
        latest = Mappings(session, "demo").latest()
        assert latest is not None
        assert latest.version == 2
        assert latest.rules[0].when == 'category == "A"'


def test_mapping_data_with_a_mistake_is_refused_with_its_place(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Bad mapping data names the mistake and where it is, and publishes nothing."""
    data = mapping_to_dict(strict_retail(categories=CATEGORIES, taxes=TAXES))
    data["rules"][0]["when"] = "category =="
    with db() as session, session.begin(), pytest.raises(MappingDataError) as raised:
        Mappings(session, "demo").publish_data(data, clock())
    assert any(p.startswith("rules[0]: condition 'category =='") for p in raised.value.problems)
    with db() as session:
        assert Mappings(session, "demo").latest() is None


def test_an_edit_that_fixes_the_unmapped_value_is_planned_without_a_new_mapping(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A held sale re-sent with a mapped category is checked again and posted."""
    publish(db, clock, [c for c in CATEGORIES if c != "Coffee"], version=1)
    sale = next(
        d
        for d in simulate(merchant, START, 2, seed=2)
        if isinstance(d, Sale) and [ln.category for ln in d.lines] == ["Coffee"]
    )
    engine = Engine(db, clock)
    end = datetime.combine(START + timedelta(days=1), time(23), UTC)
    deliver(engine, clock, [sale], end)
    assert sale.id not in coverage(db)
    fixed = replace(sale, lines=tuple(replace(ln, category="Homeware") for ln in sale.lines))
    engine.receive("demo", "simulator", "sale", json.dumps(codec.encode(fixed)), event_id="edit-1")
    engine.run_until_idle("demo")
    assert coverage(db)[sale.id] == 1
    assert book_balances(db) == expected_balances(merchant, [fixed])
