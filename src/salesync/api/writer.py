"""Group commit: the writes of concurrent requests share one transaction and one commit.

A webhook is acknowledged only after its records are committed, and committing is the
dear part of storing them (a WAL append on SQLite, a round trip and a flush on
PostgreSQL), together with the per-statement cost of the ORM. One writer thread takes
every job waiting in its queue and runs them in a single transaction: the records of all
waiting deliveries of a tenant go into the inbox through one ``receive_many`` (one read,
one insert), other work runs under a savepoint each. It commits once and only then
answers each request, so an acknowledgement still follows its commit while many
deliveries share the cost. A job that fails is rolled back alone; a failure of the
database or the transaction fails every job in it, and none of them is acknowledged.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from salesync.engine.inbox import Inbox, Incoming, Received

T = TypeVar("T")

MAX_BATCH = 256
"""Jobs per transaction at most, so one commit never holds a long list of waiters."""


@dataclass(frozen=True, slots=True)
class _Job:
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[Any]
    work: Callable[[Session], Any] | None = None
    """Any work, run under its own savepoint; or else:"""
    tenant_id: str = ""
    incoming: tuple[Incoming, ...] = ()
    """Records for the tenant's inbox, received together with other deliveries'."""


Outcome = tuple[_Job, Any, BaseException | None]


def _answer(outcomes: list[Outcome]) -> None:
    """Hand each job its outcome, on the job's event loop: one wake-up per loop and
    batch, not one per job (each is a write to the loop's self-pipe)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, mine in by_loop.items():
        loop.call_soon_threadsafe(_settle, mine)


def _settle(outcomes: list[Outcome]) -> None:
    for job, value, error in outcomes:
        # The request may have gone (the client hung up); its work is committed anyway.
        if job.future.cancelled():
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(value)


def _receive_alone(inbox: Inbox, incoming: tuple[Incoming, ...], _: Session) -> list[Received]:
    return inbox.receive_many(incoming)


def _own_failure(exc: Exception) -> bool:
    """Whether ``exc`` is one job's own (a bug, bad data) rather than the database's."""
    return not isinstance(exc, DBAPIError) or isinstance(exc, IntegrityError | DataError)


class GroupWriter:
    """Runs the writes of any number of requests in shared transactions."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self.factory = factory
        self.clock = clock
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.commits = 0
        self.jobs = 0

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._loop, name="salesync-group-writer", daemon=True
                )
                self._thread.start()

    def stop(self) -> None:
        """Finish the jobs already queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(None)
            thread.join()

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in the next shared transaction; returns once that has committed."""
        result: T = await self._submit(work=work)
        return result

    async def receive(self, tenant_id: str, incoming: Sequence[Incoming]) -> list[Received]:
        """Keep ``incoming`` in the tenant's inbox; returns once committed."""
        received: list[Received] = await self._submit(tenant_id=tenant_id, incoming=tuple(incoming))
        return received

    async def _submit(self, **job: Any) -> Any:
        self.start()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._queue.put(_Job(loop, future, **job))
        return await future

    def _loop(self) -> None:
        # One session for the thread's life: opening and closing one per batch was a
        # tenth of the writer's Python time, and that time holds the GIL the event loop
        # needs. Each batch still starts with an empty identity map (see ``_write``).
        with self.factory() as session:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch = [first]
                stopping = False
                while len(batch) < self.max_batch:
                    try:
                        more = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if more is None:
                        stopping = True
                        break
                    batch.append(more)
                self._write(session, batch)
                if stopping:
                    return

    def _write(self, session: Session, batch: list[_Job]) -> None:
        outcomes: list[Outcome] = []
        try:
            with session.begin():
                receipts: dict[str, list[_Job]] = {}
                for job in batch:
                    if job.work is None:
                        receipts.setdefault(job.tenant_id, []).append(job)
                for tenant_id, jobs in receipts.items():
                    outcomes += self._receive(session, tenant_id, jobs)
                for job in batch:
                    if job.work is not None:
                        outcomes.append(self._work(session, job, job.work))
        except Exception as exc:  # the transaction failed: every job hears why
            _answer([(job, None, exc) for job in batch])
            return
        finally:
            # Nothing read in this batch is trusted in the next: the runner may change it.
            session.expunge_all()
        self.commits += 1
        self.jobs += len(batch)
        _answer(outcomes)

    def _receive(self, session: Session, tenant_id: str, jobs: list[_Job]) -> list[Outcome]:
        inbox = Inbox(session, tenant_id, self.clock)
        try:
            received = inbox.receive_many([i for job in jobs for i in job.incoming])
        except Exception as exc:
            if not _own_failure(exc):
                raise
            # Something in one delivery broke the batch (rolled back to its savepoint):
            # each delivery again on its own, so only that one fails.
            return [
                self._work(session, job, partial(_receive_alone, inbox, job.incoming))
                for job in jobs
            ]
        outcomes: list[Outcome] = []
        for job in jobs:
            outcomes.append((job, received[: len(job.incoming)], None))
            received = received[len(job.incoming) :]
        return outcomes

    @staticmethod
    def _work(session: Session, job: _Job, work: Callable[[Session], Any]) -> Outcome:
        try:
            with session.begin_nested():
                return job, work(session), None
        except Exception as exc:
            if not _own_failure(exc):
                # The database itself failed (gone, locked, full): the transaction
                # cannot be trusted, so nothing in it is acknowledged.
                raise
            return job, None, exc
