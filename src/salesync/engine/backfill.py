"""Backfill: a merchant's history imported by date windows, resumable after a kill.

Each window's records are stored in the inbox together with the job's checkpoint, in one
transaction: after a crash the job resumes at the first window not committed, and a
window fetched twice only finds duplicates. Backfilled records are taken in after live
ones, and the fetch rate can be capped so a provider's limits are left to live syncs.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.source import SourceRecord
from salesync.domain.errors import SyncError
from salesync.domain.simulate import SOURCE as SIMULATOR
from salesync.domain.simulate import DemoMerchant, SalesSimulator
from salesync.engine.inbox import Inbox, Incoming
from salesync.store import codec
from salesync.store.tables import BackfillRow

BATCH = 1000
"""Records of a window stored with one statement: a window is read as a stream, so memory
holds one batch whatever the window's size."""


class BackfillState(enum.StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    """A window could not be fetched; ``error`` says why. Running it again resumes."""


HistoricalRecord = SourceRecord


class HistorySource(Protocol):
    """A source that can list what happened between two instants, oldest first (a
    connector's ``SourceClient`` is one)."""

    @property
    def name(self) -> str: ...

    @property
    def connection_id(self) -> str | None:
        """The connection records are stored under (``None`` for connection-less ones)."""
        ...

    def history(self, start: datetime, end: datetime) -> Iterable[HistoricalRecord]:
        """Records of everything that happened in ``[start, end)``."""
        ...


@dataclass(frozen=True, slots=True)
class BackfillProgress:
    job_id: int
    first_day: date
    last_day: date
    next_day: date
    records: int
    duplicates: int
    state: BackfillState

    @property
    def days_total(self) -> int:
        return (self.last_day - self.first_day).days + 1

    @property
    def days_done(self) -> int:
        return min((self.next_day - self.first_day).days, self.days_total)


def _progress(row: BackfillRow) -> BackfillProgress:
    return BackfillProgress(
        row.id,
        row.first_day,
        row.last_day,
        row.next_day,
        row.records,
        row.duplicates,
        BackfillState(row.state),
    )


class Backfills:
    def __init__(
        self,
        factory: sessionmaker[Session],
        clock: Callable[[], datetime],
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
        batch: int = BATCH,
    ) -> None:
        """``batch`` is how many records of a window go into the inbox per statement."""
        if batch < 1:
            raise ValueError("a batch holds at least one record")
        self.factory = factory
        self.batch = batch
        self.clock = clock
        self.sleep = sleep
        self.monotonic = monotonic

    def start(
        self,
        tenant_id: str,
        source: str,
        first: date,
        last: date,
        window_days: int = 1,
        *,
        connection_id: str | None = None,
    ) -> int:
        """Create a backfill of ``first..last`` (inclusive); returns its id. With the
        ``connection_id`` it reads from recorded, any worker can run its windows."""
        if last < first:
            raise ValueError(f"the backfill ends ({last}) before it starts ({first})")
        if window_days < 1:
            raise ValueError("a backfill window is at least one day")
        now = self.clock()
        with self.factory() as session, session.begin():
            row = BackfillRow(
                tenant_id=tenant_id,
                source=source,
                first_day=first,
                last_day=last,
                window_days=window_days,
                next_day=first,
                connection_id=connection_id,
                state=BackfillState.RUNNING.value,
                records=0,
                duplicates=0,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            return row.id

    def progress(self, job_id: int) -> BackfillProgress:
        with self.factory() as session:
            row = session.get(BackfillRow, job_id)
            if row is None:
                raise KeyError(f"no backfill {job_id}")
            return _progress(row)

    def run(
        self,
        job_id: int,
        source: HistorySource,
        *,
        max_windows: int | None = None,
        max_records_per_second: float | None = None,
        after_window: Callable[[BackfillProgress], None] | None = None,
    ) -> BackfillProgress:
        """Fetch windows from the checkpoint on; stops when done, after ``max_windows``, or
        at a failure (recorded on the job, which can be run again to resume)."""
        progress = self.progress(job_id)
        windows = 0
        while progress.next_day <= progress.last_day:
            if max_windows is not None and windows >= max_windows:
                break
            started = self.monotonic()
            try:
                progress, fetched = self._window(job_id, source)
            except SyncError as exc:
                self._fail(job_id, exc)
                return self.progress(job_id)
            windows += 1
            if after_window is not None:
                after_window(progress)
            if max_records_per_second:
                # A window of n records takes at least n / rate seconds, leaving the rest
                # of the provider's limit to live syncs.
                spare = fetched / max_records_per_second - (self.monotonic() - started)
                if spare > 0:
                    self.sleep(spare)
        return progress

    def _window(self, job_id: int, source: HistorySource) -> tuple[BackfillProgress, int]:
        with self.factory() as session, session.begin():
            row = session.get(BackfillRow, job_id, with_for_update=True)
            if row is None:
                raise KeyError(f"no backfill {job_id}")
            first = row.next_day
            end_day = min(first + timedelta(days=row.window_days), row.last_day + timedelta(1))
            start = datetime.combine(first, datetime.min.time(), UTC)
            end = datetime.combine(end_day, datetime.min.time(), UTC)
            inbox = Inbox(session, row.tenant_id, self.clock)
            new = duplicates = 0
            batch: list[Incoming] = []
            for record in source.history(start, end):
                batch.append(
                    Incoming(
                        source.name,
                        record.record_type,
                        record.payload,
                        record.event_id,
                        source.connection_id,
                        origin="backfill",
                    )
                )
                if len(batch) == self.batch:
                    stored = sum(not r.is_duplicate for r in inbox.receive_many(batch))
                    new, duplicates, batch = new + stored, duplicates + len(batch) - stored, []
            stored = sum(not r.is_duplicate for r in inbox.receive_many(batch))
            new, duplicates = new + stored, duplicates + len(batch) - stored
            row.records += new
            row.duplicates += duplicates
            row.next_day = end_day
            row.updated_at = self.clock()
            row.state = (
                BackfillState.DONE.value if end_day > row.last_day else BackfillState.RUNNING.value
            )
            row.error = None
            return _progress(row), new + duplicates

    def _fail(self, job_id: int, exc: SyncError) -> None:
        with self.factory() as session, session.begin():
            row = session.get(BackfillRow, job_id)
            if row is not None:
                row.state = BackfillState.FAILED.value
                row.error = exc.context()
                row.updated_at = self.clock()


class SimulatedHistory:
    """The simulator's sales as a history source: the same seed always tells the same past.

    It walks forward through one simulation; asking for an earlier window (a resumed
    backfill in a new process) starts the walk again, so windows are always consistent
    with each other: a refund refers to a sale of the same simulated past.
    """

    name = SIMULATOR
    connection_id = None

    def __init__(self, merchant: DemoMerchant, first: date, last: date, seed: int = 7) -> None:
        self.merchant = merchant
        self.first = first
        self.days = (last - first).days + 1
        self.seed = seed
        self._stream: Iterator[tuple[datetime, HistoricalRecord]] = iter(())
        self._ahead: list[tuple[datetime, HistoricalRecord]] = []
        self._position: datetime | None = None

    def _records(self) -> Iterator[tuple[datetime, HistoricalRecord]]:
        for document in SalesSimulator(self.merchant, self.seed).run(self.first, self.days):
            payload = json.dumps(codec.encode(document))
            record = HistoricalRecord(document.kind.value, payload, f"sim:{document.id}")
            yield document.occurred_at, record

    def history(self, start: datetime, end: datetime) -> Iterator[HistoricalRecord]:
        if self._position is None or start < self._position:
            self._stream = self._records()
            self._ahead = []
        self._position = end
        ahead, self._ahead = self._ahead, []
        for when, record in ahead:
            if start <= when < end:
                yield record
            elif when >= end:
                self._ahead.append((when, record))
        for when, record in self._stream:
            if start <= when < end:
                yield record
            elif when >= end:
                self._ahead.append((when, record))
                # The simulator tells a day at a time (payouts of the day before first), so
                # a record past the window is not yet proof the window is over; a record a
                # full day past it is.
                if when >= end + timedelta(days=1):
                    return
