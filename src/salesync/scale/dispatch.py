"""Dispatch driven from the database: which tenants have work now, and on which queue.

The database is the truth about what is due (DESIGN.md §2), so dispatch reads it instead
of keeping a schedule of its own: a tenant with live records received is ``realtime``
work; one whose documents reached their sync window, or whose postings are due to be
sent or retried, is ``scheduled`` work; a running backfill is ``backfill`` work, a window
at a time, and so is taking in the records a backfill brought. A location's window
"opens" simply by its documents' ``due_at`` passing, so every location's windows are
dispatched on time in its own time zone.

Each tenant has at most one task waiting per queue (a marker in Redis that the task
clears when it starts), so a tenant with much work cannot crowd a queue: tenants take
turns in the order their work became due, and a backfill's long queue never holds back
the same tenant's live work. Only one dispatcher runs at a time across all machines (a
lease in Redis); any worker can take over when it lapses.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from salesync.crm.feed import PASS_EVERY, due_for_a_pass
from salesync.engine.backfill import BackfillState
from salesync.engine.inbox import RecordState
from salesync.engine.outbox import PostingState
from salesync.engine.planner import plannable
from salesync.engine.sweep import DueSweeps
from salesync.store.tables import BackfillRow, InboxRecordRow, PostingRow, QueuedDocumentRow


class Queue(enum.StrEnum):
    REALTIME = "realtime"
    SCHEDULED = "scheduled"
    BACKFILL = "backfill"


@dataclass(frozen=True, slots=True)
class Work:
    """What is due now: tenants by queue, and the backfills with a window to fetch."""

    realtime: tuple[str, ...] = ()
    scheduled: tuple[str, ...] = ()
    backfill: tuple[str, ...] = ()
    """Tenants with backfilled records to take in (and no live ones)."""
    backfills: tuple[int, ...] = ()
    """Running backfill jobs, the one that waited longest first."""


def due_work(session: Session, now: datetime) -> Work:
    """Tenants with received records, and with documents or postings due, each in the
    order its oldest work became due (so no tenant waits behind another's backlog); and
    the running backfills."""

    def received(origin: str) -> Select[str]:
        return (
            select(InboxRecordRow.tenant_id)
            .where(
                InboxRecordRow.state == RecordState.RECEIVED.value,
                InboxRecordRow.origin == origin,
            )
            .group_by(InboxRecordRow.tenant_id)
            .order_by(_oldest(InboxRecordRow.id))
        )

    documents = (
        select(QueuedDocumentRow.tenant_id)
        .where(*plannable(now))
        .group_by(QueuedDocumentRow.tenant_id)
        .order_by(_oldest(QueuedDocumentRow.due_at))
    )
    ready = (PostingState.PENDING.value, PostingState.RETRYING.value)
    postings = (
        select(PostingRow.tenant_id)
        .where(
            or_(
                PostingRow.state.in_(ready) & (PostingRow.next_attempt_at <= now),
                (PostingRow.state == PostingState.SENDING.value) & (PostingRow.lease_until < now),
            )
        )
        .group_by(PostingRow.tenant_id)
        .order_by(_oldest(PostingRow.id))
    )
    backfills = (
        select(BackfillRow.id)
        .where(BackfillRow.state == BackfillState.RUNNING.value)
        .order_by(BackfillRow.updated_at, BackfillRow.id)
    )
    live = tuple(session.scalars(received("live")))
    scheduled = [*session.scalars(documents), *session.scalars(postings)]
    taken = set(live)
    return Work(
        realtime=live,
        scheduled=tuple(dict.fromkeys(t for t in scheduled if t not in taken)),
        backfill=tuple(t for t in session.scalars(received("backfill")) if t not in taken),
        backfills=tuple(session.scalars(backfills)),
    )


def _oldest(column: Any) -> Any:
    return func.min(column)


Send = Callable[[str, tuple[Any, ...], Queue], None]
"""Sends a task by name with its arguments to a queue."""


@dataclass
class Dispatcher:
    """Sends each tenant's due work once per queue: a tick on the queue of its most urgent
    part; then, after all live work, each running backfill's next window, the sources'
    periodic sweeps, and a tick for each tenant whose CRM has timed work (follow-ups that
    come due with time alone) and has not had a pass for a while."""

    factory: sessionmaker[Session]
    clock: Callable[[], datetime]
    redis: Any
    send: Send
    marker_seconds: int = 60
    """How long a marker stands without its task being taken. It outlives a task lost
    before a worker took it: the dispatching worker killed between setting the marker and
    sending the task, or a worker killed between taking the message from Redis and
    starting it (Redis holds that message for the visibility timeout). Then dispatch sends
    again, so a crash delays a tenant by a minute at most. A queue backed up for longer
    gets a second tick for a tenant still waiting in it, which finds its work done or
    shares it (ticks are idempotent)."""
    sent: dict[Queue, int] = field(default_factory=lambda: dict.fromkeys(Queue, 0))
    sweeps: DueSweeps | None = None
    """The sources' periodic sweeps: each due connection's sweep is sent as a task on the
    ``scheduled`` queue, after the live work."""
    crm_every: timedelta | None = PASS_EVERY
    """Tenants whose CRM has timed work get a tick on the ``scheduled`` queue when their
    CRM pass is this old, looked for at most once a ``crm_look``; None: never."""
    crm_look: timedelta = timedelta(seconds=30)
    _crm_looked: datetime | None = field(default=None, init=False, repr=False)

    def dispatch(self) -> Work:
        """Send what is due and not already waiting in a queue; returns what was due."""
        with self.factory() as session:
            work = due_work(session, self.clock())
        for queue, tenants in (
            (Queue.REALTIME, work.realtime),
            (Queue.SCHEDULED, work.scheduled),
            (Queue.BACKFILL, work.backfill),
        ):
            for tenant in tenants:
                self._once(queue, "tick", tenant, (tenant, queue.value))
        for job in work.backfills:
            self._once(Queue.BACKFILL, "backfill", str(job), (job,))
        if self.sweeps is not None:
            for tenant, connection in self.sweeps.due():
                self.sweeps.tried(connection)
                self._once(Queue.SCHEDULED, "sweep", connection, (tenant, connection))
        for tenant in self._crm_due():
            self._once(Queue.SCHEDULED, "tick", tenant, (tenant, Queue.SCHEDULED.value))
        return work

    def _crm_due(self) -> list[str]:
        now = self.clock()
        if self.crm_every is None or (
            self._crm_looked is not None and now - self._crm_looked < self.crm_look
        ):
            return []
        self._crm_looked = now
        with self.factory() as session:
            return due_for_a_pass(session, now, self.crm_every)

    def _once(self, queue: Queue, kind: str, subject: str, args: tuple[Any, ...]) -> None:
        key = marker(queue, kind, subject)
        if self.redis.set(key, 1, nx=True, ex=self.marker_seconds):
            try:
                self.send(f"salesync.{kind}", args, queue)
            except Exception:
                self.redis.delete(key)  # nothing waits: the next round sends it
                raise
            self.sent[queue] += 1


def marker(queue: Queue, kind: str, subject: str) -> str:
    """The Redis key saying a ``kind`` task for ``subject`` waits in ``queue``."""
    return f"salesync:queued:{queue.value}:{kind}:{subject}"


LEADER = "salesync:dispatcher"


def lead(redis: Any, me: str, seconds: float) -> bool:
    """Take or keep the dispatcher's lease for ``seconds``; whether this process leads."""
    ms = int(seconds * 1000)
    if redis.set(LEADER, me, nx=True, px=ms):
        return True
    # Keep it only if it is still ours (compare and extend in one step).
    renewed: int = redis.eval(
        "if redis.call('GET', KEYS[1]) == ARGV[1] then "
        "return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end",
        1,
        LEADER,
        me,
        ms,
    )
    return bool(renewed)
