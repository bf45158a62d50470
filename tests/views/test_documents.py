"""Documents by state and the plain explanation of where one is and why."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.ledger.destination import LedgerDestination
from salesync.domain.documents import Document, Payout, Sale
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.mappings import Mappings
from salesync.engine.runner import Engine
from salesync.rules import strict_retail
from salesync.store import codec
from salesync.store.repositories import Locations, Tenants
from salesync.views.documents import DocumentState, documents, explain

from .books import BrokenBooks

MERCHANT = demo_merchant(orders_per_day=8)
START = date(2026, 10, 30)
CATEGORIES = ["Accessories", "Apparel", "Homeware", "Stationery"]  # no Coffee
TAXES = ["NY sales tax", "VAT 20"]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 10, 29, tzinfo=UTC))


@pytest.fixture
def db(factory: sessionmaker[Session], clock: ManualClock) -> sessionmaker[Session]:
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        Tenants(session).add(replace(MERCHANT.tenant, id="other", name="Other shop"))
        for loc in MERCHANT.locations:
            Locations(session, MERCHANT.tenant.id).add(loc)
        Mappings(session, "demo").publish(
            strict_retail(categories=CATEGORIES, taxes=TAXES), clock()
        )
    return factory


def receive(engine: Engine, clock: ManualClock, docs: list[Document]) -> None:
    clock.set(datetime.combine(START, time(23), UTC))
    for doc in docs:
        engine.receive("demo", "simulator", doc.kind.value, json.dumps(codec.encode(doc)))


def has_coffee(doc: Document) -> bool:
    return isinstance(doc, Sale) and any(line.category == "Coffee" for line in doc.lines)


def test_every_document_has_one_state_and_the_filters_agree_with_it(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Held and posted documents are told apart; each state filter finds exactly its own."""
    docs = list(simulate(MERCHANT, START, 1, seed=5))
    engine = Engine(db, clock)
    receive(engine, clock, docs)
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    coffee = {d.id for d in docs if has_coffee(d)}
    assert coffee
    with db() as session:
        everything = documents(session, "demo", limit=200)
        by_state = {
            s: {d.document_id for d in documents(session, "demo", state=s.value, limit=200)}
            for s in DocumentState
        }
        sales = documents(session, "demo", kind="sale", limit=200)
        shoreditch = documents(session, "demo", location="shoreditch", limit=200)
        early = documents(session, "demo", until=datetime.combine(START, time(12), UTC), limit=200)
        late = documents(session, "demo", since=datetime.combine(START, time(12), UTC), limit=200)
        assert documents(session, "other") == []
        with pytest.raises(ValueError, match="is not one of held, failed"):
            documents(session, "demo", state="lost")
    assert len(everything) == len(docs)
    assert Counter(d.state for d in everything) == Counter(
        {s: len(ids) for s, ids in by_state.items() if ids}
    )
    for summary in everything:
        assert summary.document_id in by_state[summary.state]
    assert by_state[DocumentState.HELD] >= coffee
    assert by_state[DocumentState.POSTED]
    assert {d.kind for d in sales} == {"sale"}
    assert {d.location_id for d in shoreditch} == {"shoreditch"}
    assert len(early) + len(late) == len(everything)
    occurred = [d.occurred_at for d in everything]
    assert occurred == sorted(occurred, reverse=True)


def test_pages_follow_the_last_document_without_gaps_or_repeats(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Three at a time, following ``before``, walks the same documents as one page."""
    engine = Engine(db, clock)
    receive(engine, clock, list(simulate(MERCHANT, START, 1, seed=5)))
    engine.take_in("demo")
    with db() as session:
        whole = [d.document_id for d in documents(session, "demo", limit=200)]
        walked: list[str] = []
        before = None
        while page := documents(session, "demo", limit=3, before=before):
            walked += [d.document_id for d in page]
            before = page[-1].document_id
        with pytest.raises(ValueError, match="no document"):
            documents(session, "demo", before="nope")
    assert len(whole) > 3
    assert walked == whole


def test_explanations_say_where_a_document_is_in_plain_words(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Waiting names the local window; held names the value and fix; posted names the books."""
    docs = list(simulate(MERCHANT, START, 1, seed=5))
    engine = Engine(db, clock)
    receive(engine, clock, docs)
    engine.tick("demo")
    held_id = next(d.id for d in docs if has_coffee(d))
    brooklyn = next(
        d for d in docs if d.location_id == "brooklyn" and isinstance(d, Sale) and not has_coffee(d)
    )
    with db() as session:
        waiting = explain(session, "demo", brooklyn.id, clock())
        assert explain(session, "other", brooklyn.id) is None
    assert waiting is not None
    assert waiting.document.state is DocumentState.WAITING
    assert "Waiting for its sync window on" in waiting.headline
    assert "06:00 EDT" in waiting.headline or "06:00 EST" in waiting.headline

    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    with db() as session:
        posted = explain(session, "demo", brooklyn.id, clock())
        held = explain(session, "demo", held_id, clock())
    assert posted is not None
    assert posted.document.state is DocumentState.POSTED
    assert posted.headline == "Posted to your books."
    assert len(posted.postings) == 1
    ref = posted.postings[0].remote_ref
    assert ref
    assert any(f"posted to the built-in ledger on its own as {ref}" in r for r in posted.reasons)
    assert held is not None
    assert held.document.state is DocumentState.HELD
    assert any("'Coffee'" in r for r in held.reasons)
    assert [s.value for s in held.suggestions] == ["Coffee"]
    assert held.ticket_ids
    assert held.postings == []


def test_a_failed_posting_explains_without_internal_detail(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """When the books refuse unexpectedly, the document is failed and reads plainly."""
    docs = [d for d in simulate(MERCHANT, START, 1, seed=5) if not has_coffee(d)]
    engine = Engine(db, clock, destinations=lambda t, _: BrokenBooks(LedgerDestination(db, t)))
    receive(engine, clock, docs)
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    with db() as session:
        failed = documents(session, "demo", state="failed", limit=200)
        assert failed
        explained = explain(session, "demo", failed[0].document_id)
    assert explained is not None
    assert explained.headline.startswith("Failed")
    assert explained.ticket_ids
    text = " ".join(explained.reasons)
    assert "our developers are on it" in text
    assert "KeyError" not in text


def test_a_payout_the_bank_returned_says_so(db: sessionmaker[Session], clock: ManualClock) -> None:
    """A posted payout told failed later reads as returned by the bank, with its
    deposit kept out of the bank account, and its adjustment among its postings."""
    docs = [d for d in simulate(MERCHANT, START, 2, seed=5) if not has_coffee(d)]
    payout = next(d for d in docs if isinstance(d, Payout))
    engine = Engine(db, clock)
    receive(engine, clock, docs)
    clock.advance(timedelta(days=3))
    engine.run_until_idle("demo")
    failed = replace(payout, failed_at=clock())
    engine.receive("demo", "simulator", "payout", json.dumps(codec.encode(failed)))
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    with db() as session:
        explained = explain(session, "demo", payout.id, clock())
    assert explained is not None
    returned = [r for r in explained.reasons if r.startswith("The bank returned this payout")]
    assert returned, explained.reasons
    assert "back to simulator" in returned[0]
    assert [p.kind for p in explained.postings].count("adjustment") == 1
