"""Work is claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL: two workers claiming at
once take disjoint records, documents and postings, and neither waits for the other; the
connection pool follows the settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from datetime import time as time_of

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.clock import ManualClock
from salesync.domain.documents import Sale
from salesync.domain.simulate import demo_merchant, simulate
from salesync.engine.inbox import Inbox, RecordState
from salesync.engine.outbox import PostingState
from salesync.engine.planner import Planner
from salesync.engine.runner import Engine
from salesync.engine.sender import Sender
from salesync.store import codec
from salesync.store.database import Pool, make_engine, migrate, session_factory
from salesync.store.documents import Documents, Stored
from salesync.store.repositories import Locations, Tenants
from salesync.store.tables import DocumentRow, PostingDocumentRow, PostingRow, QueuedDocumentRow

pytestmark = pytest.mark.postgres

MERCHANT = demo_merchant("claims", orders_per_day=4)
TENANT = MERCHANT.tenant.id
NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(NOW)


@pytest.fixture
def db(postgres_url: str, clock: ManualClock) -> Iterator[sessionmaker[Session]]:
    """The merchant on PostgreSQL with two days of trading received; a lock held by
    another transaction fails a statement after 2 s instead of waiting."""
    migrated = make_engine(postgres_url)
    migrate(migrated)
    migrated.dispose()
    engine = create_engine(postgres_url, connect_args={"options": "-c lock_timeout=2000"})
    factory = session_factory(engine)
    with factory() as session, session.begin():
        Tenants(session).add(MERCHANT.tenant)
        for location in MERCHANT.locations:
            Locations(session, TENANT).add(location)
        inbox = Inbox(session, TENANT, clock)
        for document in simulate(MERCHANT, NOW.date() - timedelta(days=3), 2, seed=1):
            inbox.receive("simulator", document.kind.value, json.dumps(codec.encode(document)))
    yield factory
    engine.dispose()


def test_two_take_ins_at_once_take_disjoint_records(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """While one transaction holds the first records it took, another takes the next
    ones; together they take every record once."""
    with db() as first, first.begin(), db() as second, second.begin():
        mine = {r.id for r in Inbox(first, TENANT, clock).take(5)}
        theirs = {r.id for r in Inbox(second, TENANT, clock).take(1000)}
        everything = {r.id for r in Inbox(second, TENANT, clock).in_state(RecordState.RECEIVED)}
    assert len(mine) == 5
    assert mine.isdisjoint(theirs)
    assert mine | theirs == everything


def test_two_planners_at_once_plan_disjoint_documents(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """Two planning transactions of one tenant at once: the second skips the documents
    the first holds instead of planning them a second time (or waiting for them)."""
    Engine(db, clock).take_in(TENANT)
    clock.advance(timedelta(days=1))
    with db() as first, first.begin(), db() as second, second.begin():
        mine = {r.document_id for r in Planner(first, TENANT, MERCHANT.locations, clock).due()}
        theirs = Planner(second, TENANT, MERCHANT.locations, clock).due()
    assert mine
    assert theirs == []


def test_a_posting_another_worker_is_claiming_is_skipped_not_waited_for(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """While another transaction holds one posting's row, sending takes every other
    posting and leaves that one pending for later, without waiting for the lock."""
    engine = Engine(db, clock)
    engine.take_in(TENANT)
    clock.advance(timedelta(days=1))
    assert engine.plan(TENANT) > 1
    sender = Sender(db, engine.sender.destinations, clock)
    with db() as other, other.begin():
        held = other.scalars(
            select(PostingRow).order_by(PostingRow.id).limit(1).with_for_update()
        ).one()
        report = sender.send_due(TENANT)
    with db() as session:
        states = dict(session.execute(select(PostingRow.id, PostingRow.state)).all())
    assert states.pop(held.id) == PostingState.PENDING.value
    assert set(states.values()) == {PostingState.POSTED.value}
    assert report.posted == len(states)


def test_an_edit_taken_in_while_its_first_revision_is_planned_is_adjusted_not_lost(
    db: sessionmaker[Session], clock: ManualClock
) -> None:
    """One worker plans a sale at its first revision while another takes in an edit of
    it. The edit waits for the planner's lock, then queues the sale again; the planner's
    marking concerned the first revision only, so the next plan posts the difference and
    the books end at the edit."""
    engine = Engine(db, clock)
    engine.take_in(TENANT)
    clock.advance(timedelta(days=1))
    with db() as session:
        sales = [
            d
            for d in (
                codec.decode(kind, body)
                for kind, body in session.execute(select(DocumentRow.kind, DocumentRow.body))
            )
            if isinstance(d, Sale)
        ]
    first = sales[0]
    other = next(
        s for s in sales[1:] if s.location_id == first.location_id and s.amount != first.amount
    )
    edited = replace(
        other, id=first.id, external_id=first.external_id, occurred_at=first.occurred_at
    )
    planning, go_on = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def plan() -> None:
        try:
            with db() as session, session.begin():
                assert Planner(session, TENANT, MERCHANT.locations, clock).plan_due() > 0
                planning.set()
                go_on.wait(10)  # still planning: the rows it planned stay locked
        except BaseException as exc:
            failures.append(exc)
            planning.set()

    def take_in() -> None:
        try:
            engine.take_in(TENANT)
        except BaseException as exc:
            failures.append(exc)

    planner = threading.Thread(target=plan)
    planner.start()
    assert planning.wait(10)
    engine.receive(TENANT, "simulator", "sale", json.dumps(codec.encode(edited)), event_id="e")
    intake = threading.Thread(target=take_in)
    intake.start()
    time.sleep(0.5)  # the edit now waits for the planner's lock (which times out at 2 s)
    go_on.set()
    planner.join()
    intake.join()
    assert failures == []
    clock.advance(timedelta(days=1))  # the edit waits for its window, as sales do
    engine.run_until_idle(TENANT)
    with db() as session:
        covered = session.scalar(
            select(func.max(PostingDocumentRow.revision)).where(
                PostingDocumentRow.document_id == first.id
            )
        )
        queued = session.get(QueuedDocumentRow, first.id)
        states = set(session.scalars(select(PostingRow.state)))
    assert covered == 2  # the adjustment to the edit
    assert queued is not None
    assert (queued.planned, queued.revision) == (True, 2)
    assert states == {PostingState.POSTED.value}


def test_a_later_delivery_taken_in_beside_an_edit_never_winds_the_source_time_back(
    db: sessionmaker[Session],
) -> None:
    """Worker 2 has read a sale as told at 09:00 when worker 1 commits its edit told at
    12:00. Worker 2's own delivery, the first version told at 10:00, is decided on the row
    as it stands now: stale, so the time stays 12:00 and a late 11:00 version is stale too
    (without the lock it was counted a duplicate of what worker 2 had read, set the time
    back to 10:00, and the 11:00 version then replaced the edit)."""
    merchant_day = NOW.date() - timedelta(days=3)
    sale = next(d for d in simulate(MERCHANT, merchant_day, 1, seed=1) if isinstance(d, Sale))
    location = next(loc for loc in MERCHANT.locations if loc.id == sale.location_id)

    def told(hour: int) -> datetime:
        return datetime.combine(merchant_day, time_of(hour), UTC)

    with db() as session, session.begin():
        first = replace(sale, source_updated_at=told(9))
        assert Documents(session, TENANT).add(first, location) is Stored.NEW
    second = db()
    second.begin()
    late = Documents(second, TENANT)
    late.prefetch([sale.id])  # worker 2 has read the row as told at 09:00
    with db() as session, session.begin():
        edit = replace(sale, associate="C", source_updated_at=told(12))
        assert Documents(session, TENANT).add(edit, location) is Stored.REVISED
    assert late.add(replace(sale, source_updated_at=told(10)), location) is Stored.DUPLICATE
    second.commit()
    second.close()
    with db() as session, session.begin():
        documents = Documents(session, TENANT)
        between = replace(sale, associate="B", source_updated_at=told(11))
        assert documents.add(between, location) is Stored.DUPLICATE
        current = documents.get(sale.id)
        assert current is not None
        assert current.associate == "C"
        row = session.get(DocumentRow, sale.id)
        assert row is not None
        assert row.source_updated_at == told(12)


def test_the_pool_follows_the_settings(postgres_url: str) -> None:
    """Pool size, overflow and pre-ping are those given."""
    engine = make_engine(postgres_url, Pool(size=3, max_overflow=1, pre_ping=False))
    try:
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == 1  # type: ignore[attr-defined]
        assert engine.pool._pre_ping is False  # type: ignore[attr-defined]
    finally:
        engine.dispose()
