"""Per-payout mode in the engine: each payout posts one entry equal to the deposit with the
sales it settles; everything else is summarized daily; nothing is posted twice."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Document, DocumentKind, Payout, Refund, Sale, document_id
from salesync.domain.planning import PostingMode
from salesync.domain.postings import DEFAULT_PLAN
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.mappings import Mappings
from salesync.engine.payouts import PAYOUT_RECHECK
from salesync.engine.planner import Planner, plannable
from salesync.engine.runner import Engine
from salesync.rules import Mapping, Rule, Target, strict_retail
from salesync.store.tables import IncidentRow, PostingRow, QueuedDocumentRow

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


CATEGORIES = ["Accessories", "Apparel", "Coffee", "Homeware", "Stationery"]
TAXES = ["NY sales tax", "VAT 20"]


def publish(db: sessionmaker[Session], clock: ManualClock, mapping: Mapping) -> None:
    with db() as session, session.begin():
        Mappings(session, "demo").publish(mapping, clock())


def incident_codes(db: sessionmaker[Session]) -> set[str]:
    with db() as session:
        return {i.code for i in session.scalars(select(IncidentRow))}


def test_a_payout_settling_a_sale_held_for_a_mapping_waits_and_the_tenant_goes_on(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """The payout of a held sale waits with it; every other document of the tenant, at
    both locations, posts as ever; the mapping that releases the sale posts the payout."""
    docs = list(simulate(merchant, START, 3, seed=2))
    payout = next(d for d in docs if isinstance(d, Payout) and d.location_id == "brooklyn")
    settled = {t.document_external_id for t in payout.transactions}
    held = next(d for d in docs if card_only(d) and d.external_id in settled)
    assert isinstance(held, Sale)
    bad = held.lines[0].category
    others = [c for c in CATEGORIES if c != bad]
    publish(db, clock, strict_retail(categories=others, taxes=TAXES, version=1))
    per_payout(db, clock, merchant)
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=4), time(23), UTC))
    covered = coverage(db)
    unplaced = {
        d.id for d in docs if isinstance(d, Sale) and any(ln.category == bad for ln in d.lines)
    }
    # Shoreditch posts per order; Brooklyn's split-tender and cash documents in their
    # summaries; card sales wait for their payouts (the held sale's with it).
    assert all(
        covered[d.id] == 1 for d in docs if d.location_id == "shoreditch" and d.id not in unplaced
    )
    assert all(
        covered[d.id] == 1
        for d in docs
        if d.location_id == "brooklyn" and isinstance(d, Sale | Refund) and not card_only(d)
        if d.id not in unplaced
    )
    assert payout.id not in covered
    with db() as session:
        queued = session.get(QueuedDocumentRow, payout.id)
        assert queued is not None
        assert not queued.held
        assert [p["code"] for p in queued.problems] == ["payout_unmapped"]
        assert f"'{bad}'" in queued.problems[0]["message"]
    assert "payout_unmapped" in incident_codes(db)
    publish(db, clock, strict_retail(categories=CATEGORIES, taxes=TAXES, version=2))
    clock.advance(timedelta(days=12))
    engine.run_until_idle("demo")
    assert all(coverage(db)[d.id] == 1 for d in docs)
    assert book_balances(db) == expected_balances(merchant, docs)


def test_card_rules_per_brand_without_a_card_rule_hold_what_needs_the_payout_account(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Per-payout mode needs the clearing account payouts empty (tender ``card`` with no
    brand), as every payout does. Rules per brand alone do not give one: the location's
    documents and every payout are held with the rule to add, no tick fails, the other
    location's sales post, and adding the rule posts everything."""
    docs = list(simulate(merchant, START, 2, seed=2))
    base = strict_retail(
        categories=CATEGORIES, taxes=TAXES, tenders=["cash", "gift_card", "store_credit"]
    )
    brands = tuple(
        Rule(Target.TENDER, f'tender == "card" and card_brand == "{b}"', "Assets:Clearing:Card")
        for b in ("visa", "mastercard", "amex")
    )
    publish(db, clock, replace(base, version=1, rules=(*base.rules, *brands)))
    per_payout(db, clock, merchant)
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=2), time(23), UTC))
    covered = coverage(db)
    # Shoreditch posts per order: its sales and refunds need no payout account.
    assert all(
        covered[d.id] == 1 for d in docs if d.location_id == "shoreditch" if d.kind != "payout"
    )
    with db() as session:
        held = Mappings(session, "demo").held()
        payouts = {d.id for d in docs if isinstance(d, Payout)}
        assert payouts <= {row.document_id for row in held}
        assert {row.location_id for row in held if row.document_id not in payouts} == {"brooklyn"}
        assert {p["target"] for row in held for p in row.problems} == {"tender"}
        assert any("card" in p["value"] for row in held for p in row.problems)
    card = Rule(Target.TENDER, 'tender == "card"', "Assets:Clearing:Card")
    publish(db, clock, replace(base, version=2, rules=(*base.rules, *brands, card)))
    clock.advance(timedelta(days=12))
    engine.run_until_idle("demo")
    assert all(coverage(db)[d.id] == 1 for d in docs)


def test_a_payout_settling_a_sale_never_received_posts_its_deposit_after_the_wait(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A sale from before the connection never arrives: after the payout wait the deposit
    posts anyway, with a problem and an incident naming the sale; once the sale is imported
    the books equal the source."""
    per_payout(db, clock, merchant)
    docs = brooklyn(merchant, days=2)
    payout = next(d for d in docs if isinstance(d, Payout))
    missing = next(d for d in docs if d.external_id == payout.transactions[0].document_external_id)
    engine = Engine(db, clock)
    received = [d for d in docs if d.id != missing.id]
    deliver(engine, clock, received, datetime.combine(START + timedelta(days=3), time(23), UTC))
    assert payout.id not in coverage(db)  # still waiting within the payout wait
    clock.advance(timedelta(days=12))
    engine.run_until_idle("demo")
    assert coverage(db)[payout.id] == 1
    with db() as session:
        queued = session.get(QueuedDocumentRow, payout.id)
        assert queued is not None
        assert [p["code"] for p in queued.problems] == ["payout_documents_missing"]
        assert missing.external_id in queued.problems[0]["message"]
    assert "payout_documents_missing" in incident_codes(db)
    deliver(engine, clock, [missing], clock() + timedelta(hours=2))
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    assert all(coverage(db)[d.id] == 1 for d in docs)
    assert book_balances(db) == expected_balances(merchant, docs)


def test_a_payout_settling_a_sale_and_a_refund_numbered_alike_posts(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A source numbering refunds and orders from separate counters: a payout settling a
    sale and a refund with the same number tells them apart by kind."""
    docs = brooklyn(merchant, days=5)
    payout = next(d for d in docs if isinstance(d, Payout) and d.external_id == "PO-BRO-20261103")
    refund = next(d for d in docs if isinstance(d, Refund))
    assert any(
        t.kind == "refund" and t.document_external_id == refund.external_id
        for t in payout.transactions
    )
    charge = next(t for t in payout.transactions if t.kind == "charge")
    number = charge.document_external_id
    renamed = replace(
        refund,
        external_id=number,
        id=document_id("demo", refund.source, DocumentKind.REFUND, number),
    )
    payout = replace(
        payout,
        transactions=tuple(
            replace(t, document_external_id=number) if t.kind == "refund" else t
            for t in payout.transactions
        ),
    )
    docs = [renamed if d.id == refund.id else payout if d.id == payout.id else d for d in docs]
    per_payout(db, clock, merchant)
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=6), time(23), UTC))
    clock.advance(timedelta(days=20))
    engine.run_until_idle("demo")
    assert coverage(db)[payout.id] == 1
    assert all(coverage(db)[d.id] == 1 for d in docs)
    assert book_balances(db) == expected_balances(merchant, docs)
