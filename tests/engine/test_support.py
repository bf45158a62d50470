"""Failures become tickets, and tickets are repaired: a mapping gap held at planning, a
destination that refuses until its mapping is fixed, an unexpected exception; each
replayed from its ticket, verified through reconciliation, then resolved."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.connectors.destination import Books, Posting, Written
from salesync.connectors.ledger.destination import LedgerDestination
from salesync.domain.documents import Document, Sale
from salesync.domain.errors import MappingError
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.mappings import Mappings
from salesync.engine.normalize import register, salesync_json
from salesync.engine.runner import Engine
from salesync.monitor.desk import DeskError, TicketDesk
from salesync.rules import strict_retail
from salesync.store import codec
from salesync.store.tables import (
    InboxRecordRow,
    IncidentRow,
    PostingDocumentRow,
    PostingRow,
    TicketRow,
)
from wrapped_books import WrappedBooks

from flows import book_balances, coverage, deliver, expected_balances

START = date(2026, 10, 30)
CATEGORIES = ["Accessories", "Apparel", "Coffee", "Homeware", "Stationery"]
TAXES = ["NY sales tax", "VAT 20"]


def tickets(db: sessionmaker[Session]) -> list[TicketRow]:
    with db() as session:
        rows = list(session.scalars(select(TicketRow).order_by(TicketRow.id)))
        session.expunge_all()
        return rows


def test_a_mapping_gap_is_one_ticket_replayed_once_after_the_fix(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    with db() as session, session.begin():
        mapping = strict_retail(categories=[c for c in CATEGORIES if c != "Coffee"], taxes=TAXES)
        Mappings(session, "demo").publish(mapping, clock(), by="bookkeeper@example.com")
    docs = list(simulate(merchant, START, 3, seed=2))
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=4), time(20), UTC))
    coffee = {
        d.id for d in docs if isinstance(d, Sale) and any(ln.category == "Coffee" for ln in d.lines)
    }
    [ticket] = tickets(db)
    assert ticket.kind == "mapping"
    assert ticket.merchant_action
    assert ticket.occurrences == len(coffee)
    desk = TicketDesk(db, clock)
    assert set(desk.detail(ticket.id).documents) == coffee
    with pytest.raises(DeskError, match="not all repaired"):
        desk.resolve(ticket.id, "dev@salesync", "The Coffee category is now mapped.")

    # The fix: a mapping version that maps Coffee, published without releasing anything.
    with db() as session, session.begin():
        mappings = Mappings(session, "demo")
        mappings.publish(
            strict_retail(categories=CATEGORIES, taxes=TAXES, version=2),
            clock(),
            by="bookkeeper@example.com",
        )
    report = desk.replay(ticket.id, "dev@salesync")
    assert report.documents in (0, len(coffee))  # publishing may have released them already
    engine.run_until_idle("demo")
    desk.replay(ticket.id, "dev@salesync")  # a second replay moves nothing twice
    engine.run_until_idle("demo")
    assert desk.verify(ticket.id).clean
    desk.resolve(ticket.id, "dev@salesync", "The Coffee category is now mapped; sales posted.")
    assert set(coverage(db).values()) == {1}, "every document reached the books once"
    assert len(coverage(db)) == len(docs)
    assert book_balances(db) == expected_balances(merchant, docs)
    [resolved] = tickets(db)
    assert resolved.state == "resolved"
    assert resolved.resolution is not None


@dataclass
class Refusing(WrappedBooks):
    """Ledger books that refuse every posting touching ``account`` until ``fixed``, or
    raise an unforeseen exception while ``broken``."""

    account: str = ""
    fixed: bool = False
    broken: bool = False

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        if self.broken:
            raise RuntimeError(f"unexpected answer at {id(self):#x}: 'TxnDate'")
        out: list[Written] = []
        for posting in postings:
            touches = any(line.account == self.account for line in posting.entry.lines)
            if touches and not self.fixed:
                out.append(
                    Written(
                        posting.key,
                        error=MappingError(
                            f"account {self.account!r} is inactive in the books",
                            user_message=f"The account {self.account} is inactive in your "
                            "books; reactivate it or map another.",
                            code="610",
                            provider="ledger",
                            operation="post:JournalEntry",
                        ),
                    )
                )
            else:
                out += self.inner.post([posting])
        return out


def _engine(db: sessionmaker[Session], clock: ManualClock, books: Refusing) -> Engine:
    def opener(tenant: str, name: str) -> Books:
        books.inner = LedgerDestination(db, tenant)
        return books

    return Engine(db, clock, destinations=opener)


def test_a_refusing_destination_is_replayed_from_its_ticket(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    docs = list(simulate(merchant, START, 2, seed=5))
    refusing = Refusing(LedgerDestination(db, "demo"), account="Income:Sales:Coffee")
    engine = _engine(db, clock, refusing)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=3), time(20), UTC))
    [ticket] = tickets(db)
    assert (ticket.kind, ticket.code, ticket.provider) == ("mapping", "610", "ledger")
    desk = TicketDesk(db, clock)
    missing = set(desk.detail(ticket.id).documents)
    assert missing
    assert not missing & {d for d, n in coverage(db).items() if n and _posted(db, d)}
    refusing.fixed = True
    assert desk.replay(ticket.id, "dev@salesync").postings == ticket.occurrences
    engine.run_until_idle("demo")
    desk.resolve(ticket.id, "dev@salesync", "The Coffee income account is active again.")
    assert book_balances(db) == expected_balances(merchant, docs)


def _posted(db: sessionmaker[Session], document_id: str) -> bool:
    with db() as session:
        state = session.scalar(
            select(PostingRow.state)
            .join(PostingDocumentRow, PostingDocumentRow.posting_id == PostingRow.id)
            .where(PostingDocumentRow.document_id == document_id)
        )
    return state == "posted"


def test_an_unexpected_exception_is_a_bug_ticket_with_a_replay_handle(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    docs = list(simulate(merchant, START, 1, seed=9))
    broken = Refusing(LedgerDestination(db, "demo"), broken=True)
    engine = _engine(db, clock, broken)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=2), time(20), UTC))
    [ticket] = tickets(db)
    assert (ticket.kind, ticket.code) == ("bug", "unexpected")
    assert not ticket.merchant_action
    with db() as session:
        incidents = list(session.scalars(select(IncidentRow)))
        postings = session.scalar(select(func.count()).select_from(IncidentRow))
    assert all(i.replay.get("posting") for i in incidents)
    assert "RuntimeError" in incidents[0].message
    assert postings == ticket.occurrences
    broken.broken = False
    desk = TicketDesk(db, clock)
    desk.start(ticket.id, "dev@salesync")
    desk.replay(ticket.id, "dev@salesync")
    engine.run_until_idle("demo")
    desk.resolve(ticket.id, "dev@salesync", "A parsing bug was fixed; your sales are posted.")
    assert set(coverage(db).values()) == {1}
    assert book_balances(db) == expected_balances(merchant, docs)


def test_a_record_salesync_fails_on_is_set_aside_and_the_rest_carry_on(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A fault of salesync's on one record (here its normalizer breaks on one sale) does
    not stop the tenant's intake on every tick: that record is quarantined with a bug
    ticket, the others go through, and a replay after the fix takes it in."""
    docs = [d for d in simulate(merchant, START, 1, seed=9) if d.kind.value == "sale"]
    poisoned = docs[1].id
    fixed = False

    def fragile(record_type: str, payload: str) -> Document:
        if poisoned in payload and not fixed:
            raise KeyError("line_items")
        return salesync_json(record_type, payload)

    register("fragile", fragile)
    engine = Engine(db, clock)
    clock.set(datetime.combine(START + timedelta(days=1), time(20), UTC))
    for doc in docs:
        engine.receive("demo", "fragile", "sale", json.dumps(codec.encode(doc)), event_id=doc.id)
    engine.run_until_idle("demo")
    clock.advance(timedelta(days=1))  # the sales' window
    engine.run_until_idle("demo")
    with db() as session:
        states = Counter(session.scalars(select(InboxRecordRow.state)))
        [aside] = session.scalars(
            select(InboxRecordRow).where(InboxRecordRow.state == "quarantined")
        ).all()
        taken = select(InboxRecordRow.attempts).where(InboxRecordRow.state == "normalized")
        attempts = Counter(session.scalars(taken))
    assert states == {"normalized": len(docs) - 1, "quarantined": 1}
    # The batch they were first taken in with it was undone: each was taken in once.
    assert attempts == {1: len(docs) - 1}
    assert [p["code"] for p in aside.problems] == ["bug"]
    assert "KeyError" in aside.problems[0]["message"]
    [ticket] = tickets(db)
    assert (ticket.kind, ticket.code, ticket.merchant_action) == ("bug", "unexpected", False)
    assert len(coverage(db)) == len(docs) - 1
    fixed = True
    desk = TicketDesk(db, clock)
    assert desk.replay(ticket.id, "dev@salesync").records == 1
    engine.run_until_idle("demo")
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    desk.resolve(ticket.id, "dev@salesync", "A parsing fault was fixed; the sale is posted.")
    assert set(coverage(db).values()) == {1}
    assert len(coverage(db)) == len(docs)
