"""The salesync error for a call to a provider that got no answer: a timeout or a
connection lost on the way is transient (tried again by itself), a request that could not
even be sent is a bug. httpx's exceptions never pass this line."""

from __future__ import annotations

from typing import Any

import httpx

from salesync.domain.errors import BugError, SyncError, TransientError


def unanswered(
    provider: str,
    exc: Exception,
    *,
    operation: str,
    connection: str | None,
    user_message: str,
    **details: Any,
) -> SyncError:
    """What ``exc``, raised by httpx on a call to ``provider``, means to salesync;
    ``details`` (the method, the path) go into the error's details beside its type."""
    context: dict[str, Any] = {
        "provider": provider,
        "operation": operation,
        "connection": connection,
        "details": {**details, "error": type(exc).__name__},
    }
    if isinstance(exc, httpx.TimeoutException):
        return TransientError(
            f"{provider} {operation} timed out: {exc}",
            code="timeout",
            user_message=user_message,
            **context,
        )
    if isinstance(exc, httpx.TransportError):
        return TransientError(
            f"{provider} {operation} failed in transit: {type(exc).__name__}: {exc}",
            code="connection_failed",
            user_message=user_message,
            **context,
        )
    return BugError(
        f"{provider} {operation} could not be sent: {type(exc).__name__}: {exc}",
        code="request_failed",
        **context,
    )
