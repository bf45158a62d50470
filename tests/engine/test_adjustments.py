"""Edits after posting: the books move from the posted version to the edited one through
linked adjustment postings; nothing posted is ever changed."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Document, Sale
from salesync.domain.planning import PostingMode
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.planner import Planner
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.tables import PostingDocumentRow, PostingRow

from flows import book_balances, deliver, expected_balances

START = date(2026, 10, 30)


def edit(engine: Engine, edited: Document, n: int = 1, told: datetime | None = None) -> None:
    """The source sends a changed version of a document it sent before; ``told``: the time
    the source says it last changed the document."""
    body = codec.encode(edited)
    if told is not None:
        body["source_updated_at"] = told.isoformat()
    payload = json.dumps(body)
    engine.receive("demo", "simulator", edited.kind.value, payload, event_id=f"edit-{n}")


def pair(docs: list[Document], location: str) -> tuple[Sale, Sale]:
    """A sale and a different sale's contents under its identity: a real amount edit."""
    sales = [d for d in docs if isinstance(d, Sale) and d.location_id == location]
    first, other = sales[0], next(s for s in sales[1:] if s.amount != sales[0].amount)
    edited = replace(
        other,
        id=first.id,
        external_id=first.external_id,
        number=first.number,
        occurred_at=first.occurred_at + timedelta(minutes=5),
    )
    return first, edited


def postings(db: sessionmaker[Session]) -> list[PostingRow]:
    with db() as session:
        return list(session.scalars(select(PostingRow).order_by(PostingRow.id)))


def test_an_amount_edit_after_posting_becomes_one_adjustment(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Per order: the edit posts the difference under its own key; the books show the edit."""
    docs = list(simulate(merchant, START, 1, seed=2))
    original, edited = pair(docs, "brooklyn")
    engine = Engine(db, clock)
    end = datetime.combine(START + timedelta(days=1), time(23), UTC)
    deliver(engine, clock, docs, end)
    before = len(postings(db))
    edit(engine, edited)
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    added = postings(db)[before:]
    assert [(p.kind, p.key, p.state) for p in added] == [
        ("adjustment", f"adjust:simulator:sale:{original.external_id}:r2", "posted")
    ]
    with db() as session:
        revisions = set(
            session.execute(
                select(PostingDocumentRow.revision, PostingDocumentRow.posting_id).where(
                    PostingDocumentRow.document_id == original.id
                )
            )
        )
    assert {r for r, _ in revisions} == {1, 2}
    now = [edited if d.id == original.id else d for d in docs]
    assert book_balances(db) == expected_balances(merchant, now)
    engine.run_until_idle("demo")
    assert len(postings(db)) == before + 1  # planning again adds nothing


def test_an_edit_to_a_summarized_day_adjusts_without_touching_the_summary(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Daily summary: the posted summary stands and an adjustment carries the difference."""
    with db() as session, session.begin():
        Planner(session, "demo", merchant.locations, clock).set_mode(
            "shoreditch", PostingMode.DAILY_SUMMARY
        )
    docs = [d for d in simulate(merchant, START, 1, seed=2) if d.location_id == "shoreditch"]
    original, edited = pair(docs, "shoreditch")
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=1), time(20), UTC))
    summary = next(p for p in postings(db) if p.mode == "daily_summary")
    edit(engine, edited)
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    rows = postings(db)
    assert next(p for p in rows if p.id == summary.id).body == summary.body
    assert [p.key for p in rows if p.kind == "adjustment"] == [
        f"adjust:simulator:sale:{original.external_id}:r2"
    ]
    now = [edited if d.id == original.id else d for d in docs]
    assert book_balances(db) == expected_balances(merchant, now)


def test_an_edit_that_moves_the_day_reverses_on_the_old_day_and_books_on_the_new(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A sale re-dated to the next day: a reversal dated on the first, an entry on the second."""
    docs = [d for d in simulate(merchant, START, 1, seed=2) if d.location_id == "brooklyn"]
    original = next(d for d in docs if isinstance(d, Sale))
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=1), time(23), UTC))
    moved = replace(original, occurred_at=original.occurred_at + timedelta(days=1))
    edit(engine, moved)
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    adjustments = [p for p in postings(db) if p.kind == "adjustment"]
    key = f"adjust:simulator:sale:{original.external_id}:r2"
    assert sorted(p.key for p in adjustments) == [key, f"{key}:reverse"]
    dates = {p.key: p.body["date"] for p in adjustments}
    day = original.occurred_at.astimezone(merchant.locations[0].zone).date()
    assert dates == {f"{key}:reverse": str(day), key: str(day + timedelta(days=1))}
    now = [moved if d.id == original.id else d for d in docs]
    assert book_balances(db) == expected_balances(merchant, now)


def test_an_edit_before_posting_is_simply_the_version_that_posts(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Edited while waiting for its window: one posting, of the edited version, no adjustment."""
    docs = list(simulate(merchant, START, 1, seed=2))
    original, edited = pair(docs, "brooklyn")
    engine = Engine(db, clock)
    clock.set(original.occurred_at + timedelta(minutes=1))
    engine.receive(
        "demo", "simulator", "sale", json.dumps(codec.encode(original)), event_id="first"
    )
    engine.run_until_idle("demo")
    edit(engine, edited)
    clock.set(datetime.combine(START + timedelta(days=1), time(23), UTC))
    engine.run_until_idle("demo")
    rows = postings(db)
    assert [(p.kind, p.state) for p in rows] == [("posting", "posted")]
    assert book_balances(db) == expected_balances(merchant, [edited])
    with db() as session:
        assert session.scalars(select(PostingDocumentRow.revision)).all() == [2]


def test_an_edit_that_changes_no_amount_posts_nothing(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A new associate name on a posted sale changes nothing in the books: no posting."""
    docs = list(simulate(merchant, START, 1, seed=2))
    original = next(d for d in docs if isinstance(d, Sale))
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=1), time(23), UTC))
    before = len(postings(db))
    edit(engine, replace(original, associate="Someone new"))
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    assert len(postings(db)) == before
    assert book_balances(db) == expected_balances(merchant, docs)


def test_a_revert_at_the_source_after_posting_brings_the_books_back(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Posted, edited, then set back at the source: the books follow it back through two
    adjustments, and a version from between delivered late moves nothing."""
    docs = list(simulate(merchant, START, 1, seed=2))
    original, edited = pair(docs, "brooklyn")
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=1), time(23), UTC))
    told = clock()
    edit(engine, edited, 1, told=told)
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    edit(engine, original, 2, told=told + timedelta(hours=2))
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    key = f"adjust:simulator:sale:{original.external_id}"
    assert [p.key for p in postings(db) if p.kind == "adjustment"] == [f"{key}:r2", f"{key}:r3"]
    assert book_balances(db) == expected_balances(merchant, docs)
    # A change made between the two, delivered after the revert: stale.
    between = replace(edited, associate="Someone in between", tip=None)
    before = len(postings(db))
    edit(engine, between, 3, told=told + timedelta(hours=1))
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    assert len(postings(db)) == before
    assert book_balances(db) == expected_balances(merchant, docs)
