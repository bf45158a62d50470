"""Database failures as salesync sees them: "not now" (retry) versus everything else."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from salesync.domain.errors import SyncError, TransientError


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be used right now (locked, restarting,
    connection lost, pool exhausted), so the same work may succeed when tried again."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def reason(exc: BaseException) -> str:
    """What went wrong, fit for a log line: a database error's own words only, never the
    statement or its parameters (which carry payloads)."""
    if isinstance(exc, DBAPIError):
        return f"{type(exc.orig).__name__}: {exc.orig}"
    return f"{type(exc).__name__}: {exc}"


def unforeseen(exc: Exception, operation: str) -> SyncError:
    """An exception nothing classified: the database being busy or away is worth trying
    again; anything else is a bug, and its work waits for a developer and a replay."""
    if isinstance(exc, SyncError):
        return exc
    if unavailable(exc):
        return TransientError(
            f"the database is unavailable: {reason(exc)}", operation=operation, code="database"
        )
    return SyncError(f"{type(exc).__name__}: {exc}", operation=operation, code="unexpected")
