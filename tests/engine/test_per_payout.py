"""Per-payout mode in the engine: each payout posts one entry equal to the deposit with the
sales it settles; everything else is summarized daily; nothing is posted twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Document, Payout, Sale
from salesync.domain.planning import PostingMode
from salesync.domain.postings import DEFAULT_PLAN
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.planner import PAYOUT_RECHECK, Planner, plannable
from salesync.engine.runner import Engine
from salesync.store.tables import PostingRow, QueuedDocumentRow

from flows import book_balances, coverage, deliver, expected_balances

START = date(2026, 10, 30)
CLEARING = DEFAULT_PLAN.settlement_account("USD")


def brooklyn(merchant: DemoMerchant, days: int = 3) -> list[Document]:
    return [d for d in simulate(merchant, START, days, seed=2) if d.location_id == "brooklyn"]


def per_payout(db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant) -> None:
    with db() as session, session.begin():
        Planner(session, "demo", merchant.locations, clock).set_mode(
            "brooklyn", PostingMode.PER_PAYOUT
        )


def card_only(doc: Document) -> bool:
    return isinstance(doc, Sale) and all(p.tender == "card" for p in doc.payments)


def posting_rows(db: sessionmaker[Session]) -> list[PostingRow]:
    with db() as session:
        return list(session.scalars(select(PostingRow).order_by(PostingRow.id)))


def test_each_payout_posts_one_entry_equal_to_the_deposit(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Card sales travel in their payout's entry; its bank line is the deposit; the rest is
    summarized; card sales whose payout has not come yet wait."""
    per_payout(db, clock, merchant)
    docs = brooklyn(merchant)
    payouts = [d for d in docs if isinstance(d, Payout)]
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=3), time(23), UTC))
    rows = posting_rows(db)
    by_key = {r.key: r for r in rows}
    for payout in payouts:
        row = by_key[f"payout:simulator:{payout.external_id}"]
        bank = [ln for ln in row.body["lines"] if ln["account"] == DEFAULT_PLAN.bank]
        assert [Decimal(ln["amount"]["amount"]) for ln in bank] == [payout.net.amount]
    settled = {t.document_external_id for p in payouts for t in p.transactions}
    covered = coverage(db)
    for doc in docs:
        if card_only(doc) and doc.external_id not in settled:
            assert doc.id not in covered  # its payout has not arrived: it waits
        else:
            assert covered[doc.id] == 1
    assert {r.mode for r in rows} == {"per_payout", "daily_summary"}


def test_card_sales_whose_payout_never_comes_are_summarized_after_the_wait(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """After the payout wait, waiting sales post in a summary with a visible problem, and
    the books equal the source."""
    per_payout(db, clock, merchant)
    docs = brooklyn(merchant)
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=3), time(23), UTC))
    clock.advance(timedelta(days=12))
    engine.run_until_idle("demo")
    covered = coverage(db)
    assert all(covered[d.id] == 1 for d in docs)
    with db() as session:
        overdue = session.scalars(select(QueuedDocumentRow)).all()
        codes = {p["code"] for q in overdue for p in q.problems}
    assert codes == {"payout_overdue"}
    assert book_balances(db) == expected_balances(merchant, docs)
    assert book_balances(db)[(CLEARING, "USD")] != 0  # the last day's payout is still due


def test_a_payout_that_arrives_before_its_sales_waits_for_them(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A payout whose sales are not in yet says so, and posts once they arrive."""
    per_payout(db, clock, merchant)
    docs = brooklyn(merchant, days=2)
    payout = next(d for d in docs if isinstance(d, Payout))
    engine = Engine(db, clock)
    deliver(engine, clock, [payout], datetime.combine(START + timedelta(days=1), time(23), UTC))
    with db() as session:
        queued = session.get(QueuedDocumentRow, payout.id)
        assert queued is not None
        assert not queued.planned
        assert [p["code"] for p in queued.problems] == ["payout_waiting"]
    deliver(
        engine,
        clock,
        [d for d in docs if d.id != payout.id],
        datetime.combine(START + timedelta(days=3), time(23), UTC),
    )
    assert f"payout:simulator:{payout.external_id}" in {r.key for r in posting_rows(db)}


def test_switching_to_per_payout_never_posts_a_sale_twice(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Sales posted per order before the switch are not carried again by their payout; the
    payout only empties the clearing account, and the books equal the source."""
    docs = brooklyn(merchant)
    engine = Engine(db, clock)
    first_day_end = datetime.combine(START + timedelta(days=1), time(2), UTC)
    deliver(engine, clock, [d for d in docs if d.occurred_at < first_day_end], first_day_end)
    per_payout(db, clock, merchant)
    deliver(
        engine,
        clock,
        [d for d in docs if d.occurred_at >= first_day_end],
        datetime.combine(START + timedelta(days=3), time(23), UTC),
    )
    clock.advance(timedelta(days=12))
    engine.run_until_idle("demo")
    covered = coverage(db)
    assert all(covered[d.id] == 1 for d in docs)
    assert book_balances(db) == expected_balances(merchant, docs)


def test_documents_arriving_after_the_wait_together_with_their_payout_post_once(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A backlog taken in long after it happened (a backfill, an outage): card sales are
    overdue, but their payout is in the same pass, so they go with it and nowhere else."""
    per_payout(db, clock, merchant)
    docs = brooklyn(merchant)
    engine = Engine(db, clock)
    late = datetime.combine(START + timedelta(days=20), time(23), UTC)
    clock.set(late)
    deliver(engine, clock, docs, late + timedelta(hours=1))
    engine.run_until_idle("demo")
    covered = coverage(db)
    assert set(covered.values()) == {1}
    assert len(covered) == len(docs)
    assert book_balances(db) == expected_balances(merchant, docs)
    payouts = [d for d in docs if isinstance(d, Payout)]
    assert {r.key for r in posting_rows(db) if r.mode == "per_payout"} == {
        f"payout:simulator:{p.external_id}" for p in payouts
    }


def test_a_waiting_payout_leaves_its_tenant_idle_until_its_sales_come(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A payout waiting for its sales is not plannable again until its next check, so its
    tenant is not dispatched over and over; the sales arriving have it planned at once."""
    per_payout(db, clock, merchant)
    docs = brooklyn(merchant, days=2)
    payout = next(d for d in docs if isinstance(d, Payout))
    engine = Engine(db, clock)
    deliver(engine, clock, [payout], datetime.combine(START + timedelta(days=1), time(23), UTC))

    def plannable_now() -> list[str]:
        with db() as session:
            query = select(QueuedDocumentRow.document_id).where(*plannable(clock()))
            return list(session.scalars(query))

    assert plannable_now() == []
    clock.advance(PAYOUT_RECHECK)
    assert plannable_now() == [payout.id]  # checked again by the hour
    engine.tick("demo")
    assert plannable_now() == []
    clock.advance(timedelta(minutes=5))
    deliver(engine, clock, [d for d in docs if d.id != payout.id], clock())
    engine.tick("demo")
    assert f"payout:simulator:{payout.external_id}" in {r.key for r in posting_rows(db)}
