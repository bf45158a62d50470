"""X-Series failures as salesync's error kinds, decided where they cross into salesync.

A 401 is an access token X-Series no longer takes (expired, or revoked when the retailer
removed the add-on): the connection needs new tokens. A 403 is a scope the add-on was not
granted. A 429 or a 5xx is transient, and a 429 says when to come back in ``Retry-After``,
an HTTP date (https://x-series-api.lightspeedhq.com/docs/rate_limiting). Anything else
means salesync asked for something X-Series cannot answer, which is salesync's bug. httpx's
own exceptions never pass this module: a timeout or a dropped connection is transient.
"""

from __future__ import annotations

import email.utils
from datetime import datetime
from typing import Any

import httpx

from salesync.domain.errors import AuthError, BugError, SyncError, TransientError

PROVIDER = "lightspeed_x"
HELP_URL = "https://x-series-api.lightspeedhq.com/docs/introduction"
RECONNECT = (
    "Lightspeed no longer accepts salesync's access to your store: the access has expired "
    "or the salesync add-on was removed. Reconnect Lightspeed in salesync to resume "
    "syncing; nothing is lost meanwhile, salesync catches up once you do."
)
PERMISSIONS = (
    "Lightspeed refused salesync permission to read your {what}. Reconnect Lightspeed and "
    "allow salesync to read sales, customers and products."
)
TRANSIENT = "Lightspeed is not answering right now; salesync tries again shortly by itself."


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds until ``Retry-After``: an HTTP date measured from the answer's ``Date`` (or
    ``now``), or plain seconds."""
    raw = response.headers.get("retry-after")
    if not raw:
        return None
    if raw.strip().isdigit():
        return float(raw)
    try:
        until = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    sent = response.headers.get("date")
    try:
        base = email.utils.parsedate_to_datetime(sent) if sent else now
    except (TypeError, ValueError):
        base = now
    if base is None or until.tzinfo is None:
        return None
    return max((until - base).total_seconds(), 0.0)


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    if isinstance(body, dict):
        return str(body.get("details") or body.get("message") or body.get("error") or "")
    return response.reason_phrase


def error_for(response: httpx.Response, *, operation: str, connection: str | None) -> SyncError:
    """The salesync error for an X-Series answer of 400 or above."""
    status = response.status_code
    detail = _detail(response)
    message = f"lightspeed_x {operation} answered {status}: {detail}"
    context: dict[str, Any] = {
        "code": f"HTTP_{status}",
        "provider": PROVIDER,
        "operation": operation,
        "connection": connection,
        "help_url": HELP_URL,
        "details": {"status": status, "detail": detail},
    }
    if status == 401:
        return AuthError(message, user_message=RECONNECT, **context)
    if status == 403:
        what = operation.split(".", 1)[0]
        return AuthError(message, user_message=PERMISSIONS.format(what=what), **context)
    if status == 429 or status >= 500:
        return TransientError(
            message, retry_after=retry_after(response), user_message=TRANSIENT, **context
        )
    return BugError(
        message,
        user_message="salesync asked Lightspeed for something it could not answer; a "
        "developer has been told.",
        **context,
    )


def unanswered(exc: httpx.HTTPError | httpx.InvalidURL, path: str, operation: str) -> SyncError:
    """The salesync error for a call that got no answer."""
    context: dict[str, Any] = {
        "provider": PROVIDER,
        "operation": operation,
        "details": {"path": path, "error": type(exc).__name__},
    }
    if isinstance(exc, httpx.TransportError):
        return TransientError(
            f"lightspeed_x {operation} got no answer: {exc!r}",
            code="timeout" if isinstance(exc, httpx.TimeoutException) else "network",
            user_message=TRANSIENT,
            **context,
        )
    return BugError(
        f"lightspeed_x {operation} could not be sent: {exc!r}", code="bad_request", **context
    )


def unreadable(response: httpx.Response, operation: str) -> TransientError:
    """An answer cut short or not JSON: asked again, it usually comes whole."""
    return TransientError(
        f"lightspeed_x {operation} answered {response.status_code} with a body that is not "
        "the JSON X-Series documents",
        code="malformed_response",
        provider=PROVIDER,
        operation=operation,
        user_message=TRANSIENT,
    )
