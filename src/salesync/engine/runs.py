"""Runs: every execution of a sync step recorded with inputs, outcome, counts and timings."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from salesync.domain.errors import SyncError
from salesync.engine.incidents import Failure, IncidentLog
from salesync.store.tables import RunRow


@contextmanager
def recorded(
    factory: sessionmaker[Session],
    clock: Callable[[], datetime],
    step: str,
    tenant_id: str | None = None,
    *,
    incidents: IncidentLog | None = None,
    **inputs: Any,
) -> Iterator[dict[str, int]]:
    """Record one run of ``step``; the body fills in the counts it wants kept.

    The run is written in its own transaction, after the step, whatever its outcome: a
    failure is recorded with its classified context (and, for a tenant's step, as an
    incident in the same transaction) and then raised on.
    """
    counts: dict[str, int] = {}
    started = clock()
    outcome, error = "ok", None
    failure: SyncError | None = None
    try:
        yield counts
    except SyncError as exc:
        outcome, error, failure = "failed", exc.context(), exc
        raise
    except Exception as exc:
        failure = SyncError(
            f"{type(exc).__name__}: {exc}", operation=f"run:{step}", code="unexpected"
        )
        outcome, error = "failed", failure.context()
        raise
    finally:
        with factory() as session, session.begin():
            if failure is not None and tenant_id is not None:
                (incidents or IncidentLog(clock)).record(
                    session,
                    tenant_id,
                    Failure(
                        error=failure,
                        stage="scheduler",
                        subject=f"run:{step}",
                        failed_at=clock(),
                        replay={"run": step},
                    ),
                )
            session.add(
                RunRow(
                    tenant_id=tenant_id,
                    step=step,
                    inputs=inputs,
                    outcome=outcome,
                    counts=counts,
                    error=error,
                    started_at=started,
                    finished_at=clock(),
                )
            )


def recent_runs(session: Session, tenant_id: str, limit: int = 50) -> list[RunRow]:
    query = (
        select(RunRow)
        .where(RunRow.tenant_id == tenant_id)
        .order_by(RunRow.started_at.desc(), RunRow.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
