"""Reconciliation: source against books per location and day, zero for a clean sync, and
each differing document named with the reason."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.destination import Posting, Written
from salesync.connectors.ledger.destination import LedgerDestination
from salesync.domain.documents import Document, Sale
from salesync.domain.errors import ValidationError
from salesync.domain.measures import combine, measures
from salesync.domain.planning import PostingMode
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.mappings import Mappings
from salesync.engine.planner import Planner
from salesync.engine.reconcile import DayReconciliation, Reconciler
from salesync.engine.runner import Engine
from salesync.monitor.desk import TicketDesk
from salesync.rules import strict_retail
from salesync.store import codec
from salesync.store.tables import JournalEntryRow, PostingReversalRow, PostingRow, TicketRow
from salesync.views.reconciliation import day_detail
from wrapped_books import WrappedBooks

from faults import FaultyDestination
from flows import book_balances, deliver, expected_balances

START = date(2026, 10, 30)
END = datetime.combine(START + timedelta(days=4), time(23), UTC)


def reconcile(
    db: sessionmaker[Session], merchant: DemoMerchant, books: bool = False
) -> list[DayReconciliation]:
    with db() as session:
        ledger = LedgerDestination(db, "demo") if books else None
        return Reconciler(session, "demo", merchant.locations, books=ledger).reconcile(
            START, START + timedelta(days=10)
        )


def sync(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant, **kw: object
) -> tuple[Engine, list[Document]]:
    with db() as session, session.begin():
        Planner(session, "demo", merchant.locations, clock).set_mode(
            "shoreditch", PostingMode.DAILY_SUMMARY
        )
    docs = list(simulate(merchant, START, 3, seed=2))
    engine = Engine(db, clock, **kw)  # type: ignore[arg-type]
    deliver(engine, clock, docs, END)
    return engine, docs


def test_a_clean_sync_reconciles_to_zero_on_every_day(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Per-order and daily-summary locations alike: source equals books, day by day."""
    _, docs = sync(db, clock, merchant)
    days = reconcile(db, merchant, books=True)
    assert {(d.location_id, d.day) for d in days} == {
        (loc.id, START + timedelta(days=n)) for loc in merchant.locations for n in range(3)
    }
    assert all(day.clean for day in days), [(d.location_id, d.day, d.documents) for d in days]
    assert sum(day.count for day in days) == len(docs)
    first = next(d for d in days if d.location_id == "brooklyn" and d.day == START)
    assert first.source["sales"] > 0
    assert first.source["tax: NY sales tax"] > 0
    assert first.source == first.books


def test_an_edit_not_yet_adjusted_is_named_with_its_difference(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """An edit waiting for its window shows as a difference on its day, naming the sale."""
    engine, docs = sync(db, clock, merchant)
    sales = [d for d in docs if isinstance(d, Sale) and d.location_id == "brooklyn"]
    original = sales[0]
    other = next(s for s in sales if s.amount != original.amount)
    edited = replace(
        other, id=original.id, external_id=original.external_id, occurred_at=original.occurred_at
    )
    clock.set(datetime.combine(START + timedelta(days=5), time(12), UTC))  # before 18:00 NY
    engine.receive("demo", "simulator", "sale", json.dumps(codec.encode(edited)), event_id="e1")
    engine.run_until_idle("demo")
    days = reconcile(db, merchant)
    dirty = [d for d in days if not d.clean]
    assert len(dirty) == 1
    [difference] = dirty[0].documents
    assert difference.external_id == original.external_id
    assert "edited at the source (revision 2)" in difference.reason
    expected: dict[str, Decimal] = {}
    combine(expected, measures(edited))
    combine(expected, measures(original), factor=-1)
    assert difference.differences == {k: v for k, v in expected.items() if v}
    assert dirty[0].differences == difference.differences
    clock.set(datetime.combine(START + timedelta(days=5), time(23), UTC))
    engine.run_until_idle("demo")
    assert all(day.clean for day in reconcile(db, merchant))


def test_held_failed_and_missing_postings_are_each_explained(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A held sale names its unmapped value, a failed posting its error, and an entry
    deleted from the books is found missing."""
    with db() as session, session.begin():
        mapping = strict_retail(
            categories=["Accessories", "Apparel", "Homeware", "Stationery"],
            taxes=["NY sales tax", "VAT 20"],
        )
        Mappings(session, "demo").publish(mapping, clock())
    faulty = FaultyDestination(LedgerDestination(db, "demo"), plan=["bug"])
    sync(db, clock, merchant, destinations=lambda _t, _n: faulty)
    with db() as session, session.begin():
        posted = session.scalars(
            select(PostingRow).where(PostingRow.state == "posted", PostingRow.mode == "per_order")
        ).first()
        assert posted is not None
        session.execute(delete(JournalEntryRow).where(JournalEntryRow.key == posted.key))
    reasons = [doc.reason for day in reconcile(db, merchant, books=True) for doc in day.documents]
    assert any("'Coffee'" in r for r in reasons)
    assert any(r.startswith("posting ") and " is failed" in r for r in reasons)
    assert any(
        f"posting {posted.key} is marked posted, but the books have no entry" in r for r in reasons
    )


@dataclass
class ClosedPeriodBooks(WrappedBooks):
    """The built-in ledger, refusing each entry dated before ``closed_before`` the way
    QuickBooks and Xero refuse one before their lock date."""

    closed_before: date

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        written: list[Written] = []
        for posting in postings:
            if posting.entry.date < self.closed_before:
                closed = ValidationError(
                    f"the period before {self.closed_before} is closed", code="closed_period"
                )
                written.append(Written(posting.key, error=closed))
            else:
                written.extend(self.inner.post([posting]))
        return written


def redate(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant, **kw: object
) -> tuple[Engine, list[Document], Sale, Sale]:
    """A day of brooklyn posted, then its first sale moved to the next day at the source
    (taken in, not yet adjusted)."""
    docs = [d for d in simulate(merchant, START, 1, seed=2) if d.location_id == "brooklyn"]
    original = next(d for d in docs if isinstance(d, Sale))
    engine = Engine(db, clock, **kw)  # type: ignore[arg-type]
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=1), time(23), UTC))
    moved = replace(original, occurred_at=original.occurred_at + timedelta(days=1))
    payload = json.dumps(codec.encode(moved))
    engine.receive("demo", "simulator", "sale", payload, event_id="moved")
    engine.take_in("demo")
    return engine, docs, original, moved


def measured(document: Document, factor: int = 1) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    combine(sums, measures(document), factor)
    return sums


def brooklyn(
    db: sessionmaker[Session], merchant: DemoMerchant, first: date, last: date
) -> dict[date, DayReconciliation]:
    with db() as session:
        days = Reconciler(session, "demo", merchant.locations).reconcile(first, last, "brooklyn")
    return {d.day: d for d in days}


def test_a_sale_moved_to_another_day_is_named_on_both_days_until_adjusted(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Re-dated after posting: the old day names it for what the books still hold there,
    the new day for what they lack; once the adjustment posts, both days are clean."""
    engine, _, original, moved = redate(db, clock, merchant)
    days = brooklyn(db, merchant, START, START + timedelta(days=1))
    old, new = days[START], days[START + timedelta(days=1)]
    assert [(d.external_id, d.differences) for d in old.documents] == [
        (original.external_id, measured(original, -1))
    ]
    assert old.differences == measured(original, -1)
    assert "edited at the source (revision 2, now on " in old.documents[0].reason
    assert [(d.external_id, d.differences) for d in new.documents] == [
        (original.external_id, measured(moved))
    ]
    assert new.differences == measured(moved)
    with db() as session:
        detail = day_detail(session, "demo", "brooklyn", START, None)
    [line] = detail.differing
    assert line.external_id == original.external_id
    assert line.source_amount.amount == 0
    assert line.books_amount == original.amount
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    days = brooklyn(db, merchant, START, START + timedelta(days=1))
    assert all(day.clean for day in days.values()), days


def reversal_refused(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> tuple[ClosedPeriodBooks, list[Document], Sale, Sale]:
    """``redate``'s moved sale adjusted while the books refuse the old day (a closed
    period): the booking posts, the reversal does not."""
    books = ClosedPeriodBooks(LedgerDestination(db, "demo"), closed_before=date(1900, 1, 1))
    engine, docs, original, moved = redate(db, clock, merchant, destinations=lambda _t, _n: books)
    books.closed_before = START + timedelta(days=1)
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    return books, docs, original, moved


def test_a_reversal_the_books_refuse_leaves_the_old_day_named(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A moved sale's reversal refused (closed period) while its booking posts: the sale is
    in the books on both days, and the old day names it with the refusal, even when
    reconciled alone."""
    _, docs, original, moved = reversal_refused(db, clock, merchant)
    key = f"adjust:simulator:sale:{original.external_id}:r2"
    states = {p.key: p.state for p in postings(db) if p.kind == "adjustment"}
    assert states[key] == "posted"
    assert states[f"{key}:reverse"] != "posted"
    now = [moved if d.id == original.id else d for d in docs]
    assert book_balances(db) != expected_balances(merchant, now)
    for last in (START, START + timedelta(days=1)):
        days = brooklyn(db, merchant, START, last)
        [named] = days[START].documents
        assert named.document_id == original.id
        assert named.differences == measured(original, -1)
        assert named.reason.startswith(f"posting {key}:reverse is ")
        assert "closed" in named.reason
    assert days[START + timedelta(days=1)].clean


def postings(db: sessionmaker[Session]) -> list[PostingRow]:
    with db() as session:
        return list(session.scalars(select(PostingRow).order_by(PostingRow.id)))


def test_a_refused_reversal_is_a_ticket_naming_the_sale_that_verifies_on_the_old_day(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """The refusal of a moved sale's reversal becomes a ticket naming the sale, and the
    desk's verification finds the sale still in the books on the day it left, though its
    current day is clean; once the period reopens and the reversal is replayed, it
    verifies clean."""
    books, _, original, _ = reversal_refused(db, clock, merchant)
    engine = Engine(db, clock, destinations=lambda _t, _n: books)
    desk = TicketDesk(db, clock)
    with db() as session:
        [ticket] = session.scalars(select(TicketRow))
        ticket_id = ticket.id
    assert desk.detail(ticket_id).documents == [original.id]
    verification = desk.verify(ticket_id)
    named = [d for d in verification.differences if original.external_id in d]
    assert named, verification.differences
    assert "closed" in named[0]

    books.closed_before = date(1900, 1, 1)
    desk.replay(ticket_id, "dev@salesync")
    engine.run_until_idle("demo")
    assert desk.verify(ticket_id).clean, desk.verify(ticket_id).differences


def test_a_revision_is_reversed_once_per_destination(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A second reversal link for a revision already being taken out is refused by the
    database, so reconciliation can never count one reversal twice."""
    engine, _, original, _ = redate(db, clock, merchant)
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    with db() as session:
        [link] = session.scalars(select(PostingReversalRow))
        assert link.document_id == original.id
        again = PostingReversalRow(
            tenant_id=link.tenant_id,
            destination=link.destination,
            location_id=link.location_id,
            document_id=link.document_id,
            revision=link.revision,
            business_day=link.business_day,
            posting_id=link.posting_id,
        )
        session.add(again)
        with pytest.raises(IntegrityError):
            session.flush()
