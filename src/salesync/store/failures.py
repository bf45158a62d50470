"""Database failures as salesync sees them: "not now" (retry) versus everything else."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError


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
