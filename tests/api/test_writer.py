"""Group commit: deliveries that arrive together share one transaction, each answered
only after it commits; a failing job is rolled back alone, a failing database fails all."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from hooksource import NOW
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from salesync.api.writer import GroupWriter
from salesync.clock import ManualClock
from salesync.engine.inbox import Inbox, Incoming, Received
from salesync.store.tables import InboxRecordRow

Row = tuple[str, str | None, str, str | None]


def stored(db: sessionmaker[Session]) -> dict[int, Row]:
    """Each record by id: its payload, event id, state, and the payload of the record it
    repeats."""
    with db() as session:
        rows = {r.id: r for r in session.scalars(select(InboxRecordRow))}
    return {
        i: (
            r.payload,
            r.event_id,
            r.state,
            rows[r.duplicate_of].payload if r.duplicate_of else None,
        )
        for i, r in rows.items()
    }


async def held_back(writer: GroupWriter, jobs: Callable[[], list[Awaitable[Any]]]) -> list[Any]:
    """Run ``jobs`` while the writer is busy with another one, so that they all wait in
    its queue and go into the same transaction; returns their outcomes."""
    started, release = threading.Event(), threading.Event()

    def block(_: Session) -> None:
        started.set()
        release.wait(10)

    blocker = asyncio.ensure_future(writer.run(block))
    await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
    waiting = [asyncio.ensure_future(job) for job in jobs()]
    await asyncio.sleep(0.05)
    release.set()
    await blocker
    return await asyncio.gather(*waiting, return_exceptions=True)


def incoming(n: int, event: str | None = None) -> Incoming:
    return Incoming("hooktest", "sale", f'{{"n": {n}}}', event_id=event or f"evt-{n}")


def test_waiting_deliveries_share_one_commit(db: sessionmaker[Session]) -> None:
    """Deliveries queued while the writer is busy are stored in one transaction, each
    answered with its own records."""
    writer = GroupWriter(db, ManualClock(NOW))
    writer.start()
    try:
        outcomes = asyncio.run(
            held_back(writer, lambda: [writer.receive("demo", [incoming(n)]) for n in range(20)])
        )
    finally:
        writer.stop()
    assert writer.commits == 2
    assert all(isinstance(o, list) and len(o) == 1 for o in outcomes)
    assert len({o[0].record_id for o in outcomes}) == 20
    assert [s[2] for s in stored(db).values()] == ["received"] * 20


def test_a_failing_job_is_rolled_back_alone(db: sessionmaker[Session]) -> None:
    """A job that raises gets its error and leaves nothing; the jobs beside it in the
    same transaction are committed."""
    clock = ManualClock(NOW)
    writer = GroupWriter(db, clock)

    def broken(session: Session) -> None:
        Inbox(session, "demo", clock).receive("hooktest", "sale", '{"n": 99}')
        raise ValueError("a bug in this job")

    writer.start()
    try:
        first, failed, last = asyncio.run(
            held_back(
                writer,
                lambda: [
                    writer.receive("demo", [incoming(1)]),
                    writer.run(broken),
                    writer.receive("demo", [incoming(2)]),
                ],
            )
        )
    finally:
        writer.stop()
    assert isinstance(failed, ValueError)
    assert isinstance(first, list)
    assert isinstance(last, list)
    assert sorted(s[0] for s in stored(db).values()) == ['{"n": 1}', '{"n": 2}']


def test_a_database_failure_fails_every_job_of_its_transaction(
    db: sessionmaker[Session],
) -> None:
    """When the database fails under one job, no job of that transaction is committed or
    acknowledged: each hears the error (and the provider retries)."""
    writer = GroupWriter(db, ManualClock(NOW))

    def database_gone(_: Session) -> None:
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    writer.start()
    try:
        outcomes = asyncio.run(
            held_back(
                writer,
                lambda: [
                    writer.receive("demo", [incoming(1)]),
                    writer.run(database_gone),
                    writer.receive("demo", [incoming(2)]),
                ],
            )
        )
    finally:
        writer.stop()
    assert all(isinstance(o, OperationalError) for o in outcomes)
    assert stored(db) == {}


def test_the_writer_goes_on_after_a_failed_transaction(db: sessionmaker[Session]) -> None:
    """The writer keeps one session for its life: a transaction the database failed
    leaves nothing behind in it, and the next deliveries are stored."""
    clock = ManualClock(NOW)
    writer = GroupWriter(db, clock)

    def database_gone(session: Session) -> None:
        Inbox(session, "demo", clock).receive("hooktest", "sale", '{"n": 99}')
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    async def deliveries() -> tuple[BaseException | None, list[Received]]:
        failed: BaseException | None = None
        try:
            await writer.run(database_gone)
        except OperationalError as exc:
            failed = exc
        return failed, await writer.receive("demo", [incoming(1), incoming(2)])

    writer.start()
    try:
        failed, received = asyncio.run(deliveries())
    finally:
        writer.stop()
    assert isinstance(failed, OperationalError)
    assert [r.is_duplicate for r in received] == [False, False]
    assert sorted(s[0] for s in stored(db).values()) == ['{"n": 1}', '{"n": 2}']


@pytest.mark.parametrize("together", [True, False], ids=["in one batch", "one by one"])
def test_receiving_many_ends_as_receiving_one_by_one(
    db: sessionmaker[Session], together: bool
) -> None:
    """A batch with repeats of a stored record, of an earlier record of the batch (same
    event id, or same bytes) stores the same originals and duplicates as one by one."""
    clock = ManualClock(NOW)
    with db() as session, session.begin():
        Inbox(session, "demo", clock).receive("hooktest", "sale", '{"n": 0}', event_id="evt-0")
    batch = [
        incoming(1),
        incoming(0, "evt-x"),  # the stored record's bytes under another event id
        incoming(2, "evt-1"),  # another body under the first one's event id
        incoming(3, event="evt-3"),
        Incoming("hooktest", "sale", '{"n": 3}', event_id=None),  # the same bytes, no id
        incoming(4),
    ]
    with db() as session, session.begin():
        inbox = Inbox(session, "demo", clock)
        if together:
            received = inbox.receive_many(batch)
        else:
            received = [
                inbox.receive(i.source, i.record_type, i.payload, event_id=i.event_id)
                for i in batch
            ]
    rows = stored(db)
    assert [rows[r.record_id] for r in received] == [
        ('{"n": 1}', "evt-1", "received", None),
        ('{"n": 0}', "evt-x", "duplicate", '{"n": 0}'),
        ('{"n": 2}', "evt-1", "duplicate", '{"n": 1}'),
        ('{"n": 3}', "evt-3", "received", None),
        ('{"n": 3}', None, "duplicate", '{"n": 3}'),
        ('{"n": 4}', "evt-4", "received", None),
    ]
    assert [r.duplicate_of is not None for r in received] == [
        rows[r.record_id][2] == "duplicate" for r in received
    ]
    assert len(rows) == 7
