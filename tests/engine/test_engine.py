"""The engine end to end: windows, posting modes, exactly-once under faults and crashes."""

from __future__ import annotations

import json
import random
import threading
import time as time_module
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock, system_clock
from salesync.connectors.destination import Posting, Written
from salesync.connectors.ledger.destination import LedgerDestination
from salesync.domain import planning
from salesync.domain.documents import Sale
from salesync.domain.planning import PostingMode
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.outbox import Outbox, PostingState
from salesync.engine.planner import Planner
from salesync.engine.runner import Engine
from salesync.engine.runs import recent_runs
from salesync.engine.sender import RetryPolicy, Sender
from salesync.store import codec, tables
from salesync.store.repositories import Journal, Locations, Tenants
from salesync.store.tables import PostingDocumentRow, PostingRow

from faults import Crash, FaultyDestination
from flows import book_balances, coverage, deliver, expected_balances

START = date(2026, 10, 30)


def _waiting(db: sessionmaker[Session]) -> int:
    """Queued documents the database still holds as not planned."""
    with db() as session:
        unplanned = select(func.count()).where(tables.QueuedDocumentRow.planned.is_(False))
        return session.scalar(unplanned) or 0


def test_sales_post_at_their_windows_and_books_match_the_source(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Morning sales wait for 18:00 local; in the end every document is in the books once."""
    docs = list(simulate(merchant, START, 3, seed=2))
    engine = Engine(db, clock)
    day_one_noon_ny = datetime.combine(START, time(12), merchant.locations[0].zone)
    deliver(engine, clock, [d for d in docs if d.occurred_at < day_one_noon_ny], day_one_noon_ny)
    with db() as session:
        assert Journal(session, "demo").count() == 0  # waiting for the 18:00 window
    deliver(engine, clock, [d for d in docs if d.occurred_at >= day_one_noon_ny], clock())
    clock.set(datetime.combine(START + timedelta(days=4), time(20), UTC))
    engine.run_until_idle("demo")
    assert set(coverage(db).values()) == {1}
    assert len(coverage(db)) == len(docs)
    assert book_balances(db) == expected_balances(merchant, docs)
    assert _waiting(db) == 0
    with db() as session:
        steps = {run.step for run in recent_runs(session, "demo")}
        assert steps == {"intake", "plan", "send"}


def test_daily_summary_posts_once_a_closed_day_and_equals_per_order(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Shoreditch in daily-summary mode: one posting per closed day, same totals as per order."""
    with db() as session, session.begin():
        Planner(session, "demo", merchant.locations, clock).set_mode(
            "shoreditch", PostingMode.DAILY_SUMMARY
        )
    docs = list(simulate(merchant, START, 3, seed=3))
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=4), time(20), UTC))
    with db() as session:
        keys = list(
            session.scalars(
                select(PostingRow.key).where(
                    PostingRow.location_id == "shoreditch", PostingRow.mode == "daily_summary"
                )
            )
        )
    assert sorted(keys) == [f"daily:shoreditch:GBP:{START + timedelta(days=n)}" for n in range(3)]
    assert book_balances(db) == expected_balances(merchant, docs)
    assert set(coverage(db).values()) == {1}
    assert _waiting(db) == 0


def test_a_daily_summary_goes_at_the_first_window_after_its_day_with_the_evening_sales(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Brooklyn's sales after the 18:00 window are due at 06:00 the next day: the day's
    summary waits for that window, so each day is one entry, not a summary at midnight
    and a supplement of the evening at six."""
    with db() as session, session.begin():
        Planner(session, "demo", merchant.locations, clock).set_mode(
            "brooklyn", PostingMode.DAILY_SUMMARY
        )
    docs = [d for d in simulate(merchant, START, 3, seed=2) if d.location_id == "brooklyn"]
    zone = merchant.locations[0].zone
    assert any(d.occurred_at.astimezone(zone).hour >= 18 for d in docs)  # evening sales
    engine = Engine(db, clock)
    first_close = datetime.combine(START + timedelta(days=1), time(0), zone)
    five = first_close + timedelta(hours=5)
    deliver(engine, clock, [d for d in docs if d.occurred_at < five], five)
    assert summaries(db) == []  # the day has closed; its summary waits for 06:00
    later = [d for d in docs if d.occurred_at >= five]
    deliver(engine, clock, later, datetime.combine(START + timedelta(days=4), time(20), UTC))
    assert summaries(db) == [f"daily:brooklyn:USD:{START + timedelta(days=n)}" for n in range(3)]
    assert book_balances(db) == expected_balances(merchant, docs)
    assert set(coverage(db).values()) == {1}


def summaries(db: sessionmaker[Session]) -> list[str]:
    with db() as session:
        query = select(PostingRow.key).where(PostingRow.mode == "daily_summary")
        return sorted(session.scalars(query))


def test_changing_the_posting_mode_never_posts_a_document_twice(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Documents posted per order stay posted when the location switches to summaries."""
    docs = list(simulate(merchant, START, 4, seed=4))
    engine = Engine(db, clock)
    half = datetime.combine(START + timedelta(days=2), time(12), UTC)
    deliver(engine, clock, [d for d in docs if d.occurred_at < half], half)
    with db() as session, session.begin():
        Planner(session, "demo", merchant.locations, clock).set_mode(
            "brooklyn", PostingMode.DAILY_SUMMARY
        )
    end = datetime.combine(START + timedelta(days=6), time(20), UTC)
    deliver(engine, clock, [d for d in docs if d.occurred_at >= half], end)
    assert set(coverage(db).values()) == {1}
    assert len(coverage(db)) == len(docs)
    assert book_balances(db) == expected_balances(merchant, docs)
    assert _waiting(db) == 0


def test_a_document_that_cannot_be_planned_is_held_and_the_tenant_goes_on(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A posted dollar sale edited at the source into pounds cannot be adjusted: it is held
    with the reason and an incident, and every later document still posts."""
    docs = list(simulate(merchant, START, 2, seed=2))
    noon = datetime(2026, 10, 31, 12, tzinfo=UTC)
    first, later = (
        [d for d in docs if d.occurred_at < noon],
        [d for d in docs if d.occurred_at >= noon],
    )
    original = next(d for d in first if isinstance(d, Sale) and d.location_id == "brooklyn")
    pounds = next(d for d in docs if isinstance(d, Sale) and d.currency == "GBP")
    edited = replace(
        pounds,
        id=original.id,
        external_id=original.external_id,
        number=original.number,
        location_id="brooklyn",
        occurred_at=original.occurred_at + timedelta(minutes=5),
    )
    engine = Engine(db, clock)
    deliver(engine, clock, first, datetime(2026, 10, 31, 13, tzinfo=UTC))
    assert coverage(db)[original.id] == 1
    engine.receive("demo", "simulator", "sale", json.dumps(codec.encode(edited)), event_id="gbp")
    deliver(engine, clock, later, datetime.combine(START + timedelta(days=3), time(23), UTC))
    assert all(coverage(db)[d.id] == 1 for d in later)
    with db() as session:
        queued = session.get(tables.QueuedDocumentRow, original.id)
        assert queued is not None
        assert queued.held
        assert [p["code"] for p in queued.problems] == ["cannot_plan"]
        assert "currency" in queued.problems[0]["message"]
        codes = set(session.scalars(select(tables.IncidentRow.code)))
    assert "cannot_plan" in codes
    assert book_balances(db) == expected_balances(merchant, docs)  # the dollars stand


def test_a_day_whose_every_document_is_set_aside_stops_nothing_else(
    db: sessionmaker[Session],
    clock: ManualClock,
    merchant: DemoMerchant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Daily summaries: every document of one location fails to go into its summary (any
    failure of one document stands for them). They are held, no summary of nothing is
    attempted, and the other location's summary posts."""
    with db() as session, session.begin():
        planner = Planner(session, "demo", merchant.locations, clock)
        for location in merchant.locations:
            planner.set_mode(location.id, PostingMode.DAILY_SUMMARY)
    docs = list(simulate(merchant, START, 1, seed=2))
    bad = {d.id for d in docs if d.location_id == "brooklyn"}
    add = planning.DailySummaryBuilder.add

    def failing(
        builder: planning.DailySummaryBuilder, document: Any, placement: Any = None
    ) -> None:
        if document.id in bad:
            raise planning.PlanningError(f"{document.external_id} cannot be summarized")
        add(builder, document, placement)

    monkeypatch.setattr(planning.DailySummaryBuilder, "add", failing)
    engine = Engine(db, clock)
    deliver(engine, clock, docs, datetime.combine(START + timedelta(days=2), time(12), UTC))
    assert summaries(db) == [f"daily:shoreditch:GBP:{START}"]
    with db() as session:
        held = session.scalars(
            select(tables.QueuedDocumentRow.document_id).where(tables.QueuedDocumentRow.held)
        )
        assert set(held) == {d.id for d in docs if d.id in bad and d.kind != "payout"}


def test_a_lost_response_is_read_back_not_posted_again(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """The destination committed but the answer was lost: the retry finds it by key."""
    doc = next(iter(simulate(merchant, START, 1, seed=6)))
    faulty = FaultyDestination(LedgerDestination(db, "demo"), plan=["lost_response"])
    engine = Engine(db, clock, destinations=lambda _t, _n: faulty)
    deliver(engine, clock, [doc], datetime.combine(START + timedelta(days=1), time(20), UTC))
    engine.run_until_idle("demo")
    clock.advance(timedelta(hours=2))
    engine.run_until_idle("demo")
    with db() as session:
        assert Journal(session, "demo").count() == 1
        assert Outbox(session, "demo").counts() == {"posted": 1}
    assert faulty.calls == 1  # the retry read back instead of posting


def test_429_honours_retry_after_and_an_exhausted_budget_fails(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A rate limit waits at least Retry-After; after the budget the posting fails visibly."""
    doc = next(iter(simulate(merchant, START, 1, seed=6)))
    faulty = FaultyDestination(
        LedgerDestination(db, "demo"), plan=["rate_limited", "server_error", "server_error"]
    )
    engine = Engine(
        db, clock, destinations=lambda _t, _n: faulty, retry=RetryPolicy(max_attempts=3)
    )
    deliver(engine, clock, [doc], datetime.combine(START, time(21, 30), UTC))
    clock.set(datetime.combine(START, time(22), UTC))  # 18:00 in New York
    when = clock()
    engine.plan("demo")
    engine.send("demo")
    with db() as session:
        row = session.scalars(select(PostingRow)).one()
        assert row.state == PostingState.RETRYING
        assert row.next_attempt_at >= when + timedelta(seconds=120)
        assert row.last_error is not None
        assert row.last_error["code"] == "429"
    for _ in range(2):
        clock.advance(timedelta(hours=2))
        engine.send("demo")
    with db() as session:
        row = session.scalars(select(PostingRow)).one()
        assert (row.state, row.attempts) == (PostingState.FAILED, 3), row.last_error
        assert Journal(session, "demo").count() == 0


def test_an_auth_failure_holds_until_released(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A revoked token holds the posting; after the fix a release posts it once."""
    doc = next(iter(simulate(merchant, START, 1, seed=6)))
    faulty = FaultyDestination(LedgerDestination(db, "demo"), plan=["auth"])
    engine = Engine(db, clock, destinations=lambda _t, _n: faulty)
    deliver(engine, clock, [doc], datetime.combine(START + timedelta(days=1), time(20), UTC))
    with db() as session, session.begin():
        row = session.scalars(select(PostingRow)).one()
        assert row.state == PostingState.HELD
        Outbox(session, "demo").release(row.id, clock())
    engine.run_until_idle("demo")
    with db() as session:
        assert Outbox(session, "demo").counts() == {"posted": 1}
        assert Journal(session, "demo").count() == 1


@pytest.mark.parametrize("release", ["release", "retry_now"])
def test_a_posting_held_after_a_lost_response_is_read_back_once_released(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant, release: str
) -> None:
    """The write landed but its answer was lost; the read-back then met a revoked token
    and held the posting. Released after the reconnect, it is looked for first and found:
    written once, as books that take a key twice would otherwise show."""
    doc = next(iter(simulate(merchant, START, 1, seed=6)))
    faulty = FaultyDestination(
        LedgerDestination(db, "demo"), plan=["lost_response"], find_plan=["auth"]
    )
    engine = Engine(db, clock, destinations=lambda _t, _n: faulty)
    deliver(engine, clock, [doc], datetime.combine(START + timedelta(days=1), time(20), UTC))
    clock.advance(timedelta(hours=2))
    engine.send("demo")
    with db() as session, session.begin():
        row = session.scalars(select(PostingRow)).one()
        assert (row.state, row.attempts) == (PostingState.HELD, 2)
        getattr(Outbox(session, "demo"), release)(row.id, clock())
    engine.run_until_idle("demo")
    with db() as session:
        row = session.scalars(select(PostingRow)).one()
        assert (row.state, row.attempts, row.budget_from) == (PostingState.POSTED, 3, 2)
        assert Journal(session, "demo").count() == 1
    assert list(faulty.written.values()) == [1]


def test_a_released_posting_gets_a_new_budget_of_retries(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Out of retries it failed; released after the fix, a passing 503 is retried again
    rather than failing it at once, and the attempts keep counting."""
    doc = next(iter(simulate(merchant, START, 1, seed=6)))
    faulty = FaultyDestination(
        LedgerDestination(db, "demo"), plan=["server_error"] * 3 + ["server_error"]
    )
    engine = Engine(
        db, clock, destinations=lambda _t, _n: faulty, retry=RetryPolicy(max_attempts=3)
    )
    deliver(engine, clock, [doc], datetime.combine(START + timedelta(days=1), time(20), UTC))
    for _ in range(2):
        clock.advance(timedelta(hours=2))
        engine.send("demo")
    with db() as session, session.begin():
        row = session.scalars(select(PostingRow)).one()
        assert (row.state, row.attempts) == (PostingState.FAILED, 3)
        Outbox(session, "demo").release(row.id, clock())
    engine.send("demo")
    with db() as session:
        row = session.scalars(select(PostingRow)).one()
        assert (row.state, row.attempts) == (PostingState.RETRYING, 4)
    clock.advance(timedelta(hours=2))
    engine.run_until_idle("demo")
    with db() as session:
        assert Outbox(session, "demo").counts() == {"posted": 1}
        assert Journal(session, "demo").count() == 1


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 10_000), rate=st.sampled_from([0.2, 0.5]))
def test_random_faults_and_crashes_never_duplicate_or_lose(
    factory: sessionmaker[Session], merchant: DemoMerchant, seed: int, rate: float
) -> None:
    """Under random 5xx, 429, lost responses and crashes mid-send, every document ends up
    in the books exactly once and the books equal the source."""
    with factory() as session, session.begin():
        if Tenants(session).get("demo") is None:
            Tenants(session).add(merchant.tenant)
            for loc in merchant.locations:
                Locations(session, "demo").add(loc)
        session.execute(PostingDocumentRow.__table__.delete())
    _reset(factory)
    clock = ManualClock(datetime(2026, 10, 29, tzinfo=UTC))
    docs = list(simulate(merchant, START, 2, seed=seed))
    faulty = FaultyDestination(
        LedgerDestination(factory, "demo"), rng=random.Random(seed), fault_rate=rate
    )
    engine = Engine(
        factory,
        clock,
        destinations=lambda _t, _n: faulty,
        retry=RetryPolicy(max_attempts=50, base=timedelta(seconds=1), cap=timedelta(minutes=1)),
        rng=random.Random(seed),
    )
    for doc in docs:
        engine.receive("demo", "simulator", doc.kind.value, json.dumps(codec.encode(doc)))
    clock.set(datetime.combine(START + timedelta(days=3), time(20), UTC))
    for _ in range(400):
        try:
            if engine.tick("demo").idle:
                break
        except Crash:
            pass  # the process died; a new one starts from the database alone
        clock.advance(timedelta(minutes=10))
    assert set(coverage(factory).values()) == {1}
    assert len(coverage(factory)) == len(docs)
    with factory() as session:
        assert Outbox(session, "demo").counts() == {"posted": len(docs)}
        keys = session.scalars(select(func.count()).select_from(PostingRow)).one()
        assert Journal(session, "demo").count() == keys
    assert book_balances(factory) == expected_balances(merchant, docs)


def _reset(factory: sessionmaker[Session]) -> None:
    """Empty the engine's tables between hypothesis examples (same database)."""
    with factory() as session, session.begin():
        for table in (
            tables.JournalLineRow,
            tables.JournalEntryRow,
            tables.PostingDocumentRow,
            tables.PostingRow,
            tables.QueuedDocumentRow,
            tables.InboxRecordRow,
            tables.RunRow,
            tables.DocumentRow,
        ):
            session.execute(table.__table__.delete())


@dataclass
class SlowBooks(FaultyDestination):
    """A destination whose calls take ``delay`` seconds, counting each key it writes (a
    remote that would keep a second copy of anything sent twice)."""

    delay: float = 1.0
    writes: Counter[str] = field(default_factory=Counter)

    def post(self, postings: Sequence[Posting]) -> list[Written]:
        time_module.sleep(self.delay)
        self.writes.update(p.key for p in postings)
        return super().post(postings)


def test_a_send_slower_than_its_lease_keeps_it_and_is_not_sent_twice(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A call that takes longer than the lease: the sending worker renews its lease while
    the call is out, so a second worker finds the postings taken instead of reading them
    back (too early to find them) and writing them again."""
    engine = Engine(db, clock)
    for doc in list(simulate(merchant, START, 1, seed=6))[:3]:
        payload = json.dumps(codec.encode(doc))
        engine.receive("demo", "simulator", doc.kind.value, payload, event_id=doc.id)
    clock.set(datetime.combine(START + timedelta(days=2), time(20), UTC))
    engine.take_in("demo")
    assert engine.plan("demo") > 0
    slow = SlowBooks(LedgerDestination(db, "demo"), delay=1.5)
    retry = RetryPolicy(lease=timedelta(seconds=0.3))

    def sender() -> Sender:
        return Sender(db, lambda _t, _d: slow, system_clock, retry=retry)

    first = threading.Thread(target=sender().send_due, args=("demo",))
    first.start()
    time_module.sleep(0.8)  # the first lease would have lapsed twice over by now
    second = sender().send_due("demo")
    first.join()
    assert second.posted == second.found_on_read_back == 0
    assert slow.writes
    assert set(slow.writes.values()) == {1}
    with db() as session:
        assert set(Outbox(session, "demo").counts()) == {"posted"}
