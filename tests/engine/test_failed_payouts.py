"""A payout the bank refuses after salesync posted it: the deposit comes back out of the
bank and waits in the clearing account until a later payout pays it out again, in every
posting mode, and the books and reconciliation agree with the source throughout."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Document, DocumentKind, Payout, business_day, document_id
from salesync.domain.money import Money
from salesync.domain.planning import PostingMode
from salesync.domain.postings import DEFAULT_PLAN
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.planner import Planner
from salesync.engine.reconcile import Reconciler
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.tables import PostingDocumentRow, PostingRow

from flows import book_balances, deliver, expected_balances

START = date(2026, 10, 30)
BANK = (DEFAULT_PLAN.bank, "USD")
CLEARING = (DEFAULT_PLAN.settlement_account("USD"), "USD")


def told(engine: Engine, document: Document, event: str) -> None:
    """The source tells salesync about ``document`` (again)."""
    payload = json.dumps(codec.encode(document))
    engine.receive("demo", "simulator", document.kind.value, payload, event_id=event)


def paid_out_again(failed: Payout, at: datetime) -> Payout:
    """The processor's next payout, paying out nothing but the failed one's money."""
    external_id = f"{failed.external_id}-again"
    return replace(
        failed,
        id=document_id(failed.tenant_id, failed.source, DocumentKind.PAYOUT, external_id),
        external_id=external_id,
        occurred_at=at,
        gross=Money.zero("USD"),
        fees=Money.zero("USD"),
        adjustments=None,
        transactions=(),
        returned=failed.net,
        failed_at=None,
    )


@pytest.mark.parametrize("mode", [PostingMode.DAILY_SUMMARY, PostingMode.PER_PAYOUT])
def test_a_payout_that_fails_after_posting_leaves_the_bank_until_it_is_paid_out_again(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant, mode: PostingMode
) -> None:
    """The failure is an edit: its adjustment moves the deposit from the bank back to the
    clearing account; the payout that pays it out again moves it to the bank once more."""
    with db() as session, session.begin():
        Planner(session, "demo", merchant.locations, clock).set_mode("brooklyn", mode)
    docs = [d for d in simulate(merchant, START, 3, seed=2) if d.location_id == "brooklyn"]
    payout = next(d for d in docs if isinstance(d, Payout))
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=3), time(23), UTC))
    clock.advance(timedelta(days=10))  # card sales whose payout never comes stop waiting
    engine.run_until_idle("demo")
    assert book_balances(db) == expected_balances(merchant, docs)
    with db() as session:
        posted = session.scalars(
            select(PostingRow.state)
            .join(PostingDocumentRow, PostingDocumentRow.posting_id == PostingRow.id)
            .where(PostingDocumentRow.document_id == payout.id)
        )
        assert list(posted) == ["posted"]
    banked = book_balances(db)[BANK]

    failed = replace(payout, failed_at=clock())
    told(engine, failed, "payout-failed")
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    now = [failed if d.id == payout.id else d for d in docs]
    balances = book_balances(db)
    assert balances == expected_balances(merchant, now)
    assert balances[BANK] == banked - payout.net.to_minor()
    with db() as session:
        adjustments = list(
            session.scalars(select(PostingRow).where(PostingRow.kind == "adjustment"))
        )
    assert [(a.key, a.state) for a in adjustments] == [
        (f"adjust:simulator:payout:{payout.external_id}:r2", "posted")
    ]
    # Dated on the day the deposit came back, as the bank statement has it.
    zone = next(loc.zone for loc in merchant.locations if loc.id == "brooklyn")
    assert adjustments[0].body["date"] == business_day(failed.failed_at, zone).isoformat()
    assert adjustments[0].body["date"] != business_day(payout.occurred_at, zone).isoformat()

    again = paid_out_again(failed, clock())
    told(engine, again, "payout-again")
    clock.advance(timedelta(days=1))
    engine.run_until_idle("demo")
    balances = book_balances(db)
    assert balances == expected_balances(merchant, [*now, again])
    assert balances[BANK] == banked
    with db() as session:
        days = Reconciler(session, "demo", merchant.locations).reconcile(
            START, START + timedelta(days=30), "brooklyn"
        )
    assert days
    assert all(day.clean for day in days), [(d.day, d.differences, d.documents) for d in days]


def test_a_payout_that_failed_before_it_was_posted_never_reaches_the_bank(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Told failed before its window, a payout posts once, as failed: its fees and what
    it settled stand, its deposit stays with the processor."""
    docs = [d for d in simulate(merchant, START, 2, seed=2) if d.location_id == "brooklyn"]
    failed = [
        replace(d, failed_at=d.occurred_at + timedelta(hours=1)) if isinstance(d, Payout) else d
        for d in docs
    ]
    engine = Engine(db, clock)
    deliver(engine, clock, failed, datetime.combine(START + timedelta(days=2), time(23), UTC))
    balances = book_balances(db)
    assert balances == expected_balances(merchant, failed)
    assert balances[BANK] == 0
    with db() as session:
        kinds = set(session.scalars(select(PostingRow.kind)))
    assert "adjustment" not in kinds
