"""The sync timeline: runs that moved something, newest first, in plain words, by pages."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.errors import AuthError, BugError
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.runner import Engine
from salesync.engine.runs import recorded
from salesync.store import codec
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import PostingRow, RunRow
from salesync.views.timeline import summarize, timeline

MERCHANT = demo_merchant(orders_per_day=6)
START = date(2026, 10, 30)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 10, 29, tzinfo=UTC))


@pytest.fixture
def db(factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        Tenants(session).add(replace(MERCHANT.tenant, id="other", name="Other shop"))
        for loc in MERCHANT.locations:
            Locations(session, MERCHANT.tenant.id).add(loc)
    return factory


def sync_a_day(db: sessionmaker[Session], clock: ManualClock) -> None:
    engine = Engine(db, clock)
    clock.set(datetime.combine(START, time(23), UTC))
    for doc in simulate(MERCHANT, START, 1, seed=4):
        engine.receive("demo", "simulator", doc.kind.value, json.dumps(codec.encode(doc)))
    engine.tick("demo")
    for _ in range(3):
        clock.advance(timedelta(hours=12))
        engine.tick("demo")


def test_the_timeline_tells_what_each_run_did_and_leaves_out_idle_runs(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Intake, planning and posting read as sentences; runs that moved nothing are left out."""
    sync_a_day(db, clock)
    with db() as session:
        entries = timeline(session, "demo")
        everything = timeline(session, "demo", include_idle=True, limit=200)
        runs = session.scalar(select(func.count()).select_from(RunRow))
        posted = session.scalar(select(func.count()).where(PostingRow.state == "posted"))
        assert timeline(session, "other") == []
    assert len(everything) == runs
    assert len(entries) < len(everything)
    assert [e.id for e in entries] == sorted((e.id for e in entries), reverse=True)
    summaries = [e.summary for e in entries]
    assert any(s.startswith("Took in ") and "ready to sync" in s for s in summaries)
    assert f"Posted {posted} entries to your books" in summaries
    assert all(e.outcome == "ok" and e.failure is None for e in entries)
    assert all(e.duration >= timedelta(0) for e in entries)


def test_pages_follow_the_cursor_without_gaps_or_repeats(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Two entries a page, following ``before``, walk the same entries as one big page."""
    sync_a_day(db, clock)
    with db() as session:
        whole = [e.id for e in timeline(session, "demo")]
        walked: list[int] = []
        before = None
        while True:
            page = timeline(session, "demo", limit=2, before=before)
            if not page:
                break
            walked += [e.id for e in page]
            before = page[-1].id
    assert len(whole) > 2
    assert walked == whole


def test_a_failed_run_shows_its_user_message_and_a_bug_shows_no_internals(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """The merchant reads the failure's plain message; an unexpected error's detail stays ours."""
    with pytest.raises(AuthError), recorded(db, clock, "send", "demo"):
        raise AuthError(
            "invalid_grant from token endpoint",
            user_message="QuickBooks refused salesync's sign-in. Reconnect it.",
        )
    clock.advance(timedelta(minutes=1))
    with pytest.raises(BugError), recorded(db, clock, "plan", "demo"):
        raise BugError("KeyError: 'TxnDate' at planner.py:120")
    with db() as session:
        bug, auth = timeline(session, "demo")
    assert auth.outcome == "failed"
    assert auth.failure == "QuickBooks refused salesync's sign-in. Reconnect it."
    assert auth.summary == "Send failed"
    assert bug.failure is not None
    assert "KeyError" not in bug.failure
    assert "developers" in bug.failure


def test_counts_become_plain_sentences() -> None:
    """Each step's counts read as a sentence; an unknown step lists what moved."""
    assert summarize("send", {"posted": 1, "retrying": 2, "failed": 0}) == (
        "Posted 1 entry to your books and 2 postings will be tried again"
    )
    assert summarize("plan", {"postings": 0}) == ""
    assert summarize("sweep", {"records": 5, "duplicates": 2, "pages": 1}) == (
        "Fetched 5 records from the source (2 already known)"
    )
    assert summarize("backfill", {"days": 3, "errors": 0}) == "days: 3"
