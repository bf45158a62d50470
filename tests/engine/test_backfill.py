"""Backfill: history by date windows, checkpointed, resumable after a kill, behind live
work, throttled; a replayed range posts nothing new."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.errors import TransientError
from salesync.domain.simulate import DemoMerchant, simulate
from salesync.engine.backfill import (
    Backfills,
    BackfillState,
    HistoricalRecord,
    SimulatedHistory,
)
from salesync.engine.inbox import Inbox, RecordState
from salesync.engine.reconcile import Reconciler
from salesync.engine.runner import Engine
from salesync.store import codec
from salesync.store.tables import InboxRecordRow, PostingRow

from faults import Crash
from flows import book_balances, coverage, expected_balances

FIRST = date(2026, 8, 1)
LAST = date(2026, 8, 10)


class Breaking:
    """A history source that fails part-way through one window, after yielding records."""

    def __init__(self, inner: SimulatedHistory, window: date, error: BaseException) -> None:
        self.inner = inner
        self.window = window
        self.error = error
        self.name = inner.name
        self.connection_id = inner.connection_id

    def history(self, start: datetime, end: datetime) -> Iterator[HistoricalRecord]:
        for n, record in enumerate(self.inner.history(start, end)):
            if start.date() == self.window and n == 3:
                raise self.error
            yield record


def finish(db: sessionmaker[Session], clock: ManualClock) -> None:
    clock.set(datetime(2026, 11, 20, 12, tzinfo=UTC))
    Engine(db, clock).run_until_idle("demo", max_ticks=200)


def history(merchant: DemoMerchant) -> SimulatedHistory:
    return SimulatedHistory(merchant, FIRST, LAST, seed=3)


def test_a_backfill_brings_every_document_into_the_books_once(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """Ten days by one-day windows: every document posted once, reconciliation clean."""
    clock.set(datetime(2026, 11, 20, 12, tzinfo=UTC))
    backfills = Backfills(db, clock)
    job = backfills.start("demo", "simulator", FIRST, LAST)
    seen: list[int] = []
    done = backfills.run(job, history(merchant), after_window=lambda p: seen.append(p.days_done))
    assert done.state is BackfillState.DONE
    assert seen == list(range(1, 11))
    finish(db, clock)
    docs = list(simulate(merchant, FIRST, 10, seed=3))
    assert done.records == len(docs)
    assert set(coverage(db).values()) == {1}
    assert len(coverage(db)) == len(docs)
    assert book_balances(db) == expected_balances(merchant, docs)
    with db() as session:
        days = Reconciler(session, "demo", merchant.locations).reconcile(FIRST, LAST)
    assert days
    assert all(day.clean for day in days)


def test_a_killed_backfill_resumes_at_its_checkpoint_without_losing_or_doubling(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A crash mid-window keeps nothing of that window; a new process resumes there."""
    clock.set(datetime(2026, 11, 20, 12, tzinfo=UTC))
    job = Backfills(db, clock).start("demo", "simulator", FIRST, LAST)
    with pytest.raises(Crash):
        Backfills(db, clock).run(job, Breaking(history(merchant), date(2026, 8, 5), Crash()))
    progress = Backfills(db, clock).progress(job)
    assert (progress.next_day, progress.state) == (date(2026, 8, 5), BackfillState.RUNNING)
    with db() as session:
        kept = session.scalar(select(func.count()).select_from(InboxRecordRow))
    assert kept == progress.records
    resumed = Backfills(db, clock).run(job, history(merchant))
    assert resumed.state is BackfillState.DONE
    assert resumed.duplicates == 0
    finish(db, clock)
    docs = list(simulate(merchant, FIRST, 10, seed=3))
    assert len(coverage(db)) == len(docs)
    assert set(coverage(db).values()) == {1}
    assert book_balances(db) == expected_balances(merchant, docs)


def test_a_failed_window_is_recorded_and_running_again_resumes(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """A provider error stops the job as failed with its reason; the next run finishes it."""
    backfills = Backfills(db, clock)
    job = backfills.start("demo", "simulator", FIRST, LAST)
    error = TransientError("HTTP 503 from the provider", code="503")
    failed = backfills.run(job, Breaking(history(merchant), date(2026, 8, 3), error))
    assert (failed.state, failed.next_day) == (BackfillState.FAILED, date(2026, 8, 3))
    assert backfills.run(job, history(merchant)).state is BackfillState.DONE


def test_replaying_a_range_already_backfilled_posts_nothing_new(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """The same days again are all duplicates; the books do not move."""
    backfills = Backfills(db, clock)
    backfills.run(backfills.start("demo", "simulator", FIRST, LAST), history(merchant))
    finish(db, clock)
    with db() as session:
        postings = session.scalar(select(func.count()).select_from(PostingRow))
    before = book_balances(db)
    again = backfills.run(backfills.start("demo", "simulator", FIRST, LAST), history(merchant))
    assert again.records == 0
    assert again.duplicates > 0
    finish(db, clock)
    with db() as session:
        assert session.scalar(select(func.count()).select_from(PostingRow)) == postings
    assert book_balances(db) == before


def test_live_records_are_taken_in_before_backfilled_ones(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """With history waiting in the inbox, a live sale is processed first."""
    backfills = Backfills(db, clock)
    backfills.run(backfills.start("demo", "simulator", FIRST, LAST), history(merchant))
    live = next(iter(simulate(merchant, date(2026, 10, 28), 1, seed=9)))
    engine = Engine(db, clock)
    received = engine.receive("demo", "simulator", live.kind.value, json.dumps(codec.encode(live)))
    engine.take_in("demo", limit=1, rounds=1)
    with db() as session:
        row = Inbox(session, "demo", clock).get(received.record_id)
        assert row is not None
        assert row.state == RecordState.NORMALIZED
        waiting = Inbox(session, "demo", clock).in_state(RecordState.RECEIVED)
        assert waiting
        assert all(r.origin == "backfill" for r in waiting)


def test_the_fetch_rate_cap_spreads_windows_over_time(
    db: sessionmaker[Session], clock: ManualClock, merchant: DemoMerchant
) -> None:
    """At most N records a second: the backfill sleeps for what the cap requires (on a
    stopped stopwatch, so a slow machine's own fetch time does not count)."""
    slept: list[float] = []
    backfills = Backfills(db, clock, sleep=slept.append, monotonic=lambda: 0.0)
    done = backfills.run(
        backfills.start("demo", "simulator", FIRST, LAST),
        history(merchant),
        max_records_per_second=50,
    )
    assert len(slept) == 10
    assert sum(slept) == pytest.approx(done.records / 50, rel=0.2)


def test_a_backfill_refuses_an_empty_range(db: sessionmaker[Session], clock: ManualClock) -> None:
    """Dates the wrong way round, or a zero-day window, are refused with what to fix."""
    with pytest.raises(ValueError, match=r"ends \(2026-08-01\) before it starts"):
        Backfills(db, clock).start("demo", "simulator", LAST, FIRST)
    with pytest.raises(ValueError, match="at least one day"):
        Backfills(db, clock).start("demo", "simulator", FIRST, LAST, window_days=0)
