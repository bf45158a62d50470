"""Backfill jobs run a window at a time by whichever worker takes them.

Nothing about a job lives only in the process that started it (DESIGN.md §2): its row
holds the tenant, the dates, the checkpoint and the connection whose history is read, so
any worker opens the source again from the row alone and fetches the next window. The
simulator's history, which has no connection, is told again with its default seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from salesync.connectors.source import SourceClient
from salesync.domain.errors import SyncError
from salesync.domain.simulate import SOURCE as SIMULATOR
from salesync.domain.simulate import demo_merchant
from salesync.engine.backfill import (
    BackfillProgress,
    Backfills,
    BackfillState,
    HistoricalRecord,
    HistorySource,
    SimulatedHistory,
)
from salesync.engine.sweep import Sweeper
from salesync.store.tables import BackfillRow

SIMULATED_SEED = 7
"""The seed the simulator's history is told with when a worker opens it again."""


class ConnectionHistory:
    """A connection's history, its client opened at the first window it is asked for.

    Opened lazily so that a connection that cannot be opened (its token revoked, say)
    fails inside the window, where the job records why, instead of before it."""

    def __init__(self, sweeper: Sweeper, tenant_id: str, provider: str, connection: str) -> None:
        self.sweeper = sweeper
        self.tenant_id = tenant_id
        self.name = provider
        self.connection_id: str | None = connection
        self._client: SourceClient | None = None

    def history(self, start: datetime, end: datetime) -> Iterable[HistoricalRecord]:
        if self._client is None:
            try:
                self._client = self.sweeper.client(self.tenant_id, str(self.connection_id))
            except LookupError as exc:
                raise SyncError(
                    f"backfill connection {self.connection_id} cannot be opened: {exc}",
                    user_message="The connection this backfill reads from no longer "
                    "exists; connect the source again and start a new backfill.",
                    code="backfill_connection_gone",
                    connection=self.connection_id,
                    provider=self.name,
                    operation="backfill",
                ) from exc
        return self._client.history(start, end)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def open_history(sweeper: Sweeper, job: BackfillRow) -> HistorySource:
    """The source of ``job``'s history, from its row alone."""
    if job.connection_id is not None:
        return ConnectionHistory(sweeper, job.tenant_id, job.source, job.connection_id)
    if job.source == SIMULATOR:
        return SimulatedHistory(
            demo_merchant(job.tenant_id), job.first_day, job.last_day, seed=SIMULATED_SEED
        )
    raise SyncError(
        f"backfill {job.id} reads {job.source!r} without a connection; only the "
        f"{SIMULATOR} can be read that way",
        user_message=f"Backfill {job.id} was started where it ran by itself and cannot be "
        "continued by the workers; start it again with `salesync backfill --connection`.",
        code="backfill_source_unknown",
        tenant=job.tenant_id,
        operation="backfill",
    )


def run_window(backfills: Backfills, sweeper: Sweeper, job_id: int) -> BackfillProgress | None:
    """Fetch the next window of a running job; None when the job is not running (done,
    failed, or gone), so a task sent twice does no harm."""
    with backfills.factory() as session:
        job = session.get(BackfillRow, job_id)
        if job is None or job.state != BackfillState.RUNNING.value:
            return None
    try:
        source = open_history(sweeper, job)
    except SyncError as exc:
        with backfills.factory() as session, session.begin():
            session.execute(
                update(BackfillRow)
                .where(BackfillRow.id == job_id)
                .values(
                    state=BackfillState.FAILED.value,
                    error=exc.context(),
                    updated_at=backfills.clock(),
                )
                .execution_options(synchronize_session=False)
            )
        return backfills.progress(job_id)
    try:
        return backfills.run(job_id, source, max_windows=1)
    finally:
        if isinstance(source, ConnectionHistory):
            source.close()


def reopen(factory: sessionmaker[Session], clock: Callable[[], datetime], job_id: int) -> bool:
    """Set a failed job running again, for the workers to resume at its checkpoint;
    whether it was failed."""
    with factory() as session, session.begin():
        result = session.execute(
            update(BackfillRow)
            .where(BackfillRow.id == job_id, BackfillRow.state == BackfillState.FAILED.value)
            .values(state=BackfillState.RUNNING.value, error=None, updated_at=clock())
            .execution_options(synchronize_session=False)
        )
    return bool(getattr(result, "rowcount", 0))
