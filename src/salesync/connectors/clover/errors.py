"""Clover's failures as salesync's error kinds, decided where they cross into salesync.

Clover answers a refused REST call with ``{"message": ...}`` and the status: ``401`` for a
token that is missing, expired, revoked or for another merchant; ``403`` for a permission
the merchant did not grant the app; ``404`` for an object the merchant does not have;
``429`` over a rate or concurrency limit, with ``Retry-After`` and an ``X-RateLimit-*``
header naming the limit (https://docs.clover.com/docs/api-usage-rate-limits); ``5xx``
when Clover could not answer. httpx's own exceptions never pass this module.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from salesync.connectors.unanswered import unanswered as no_answer
from salesync.domain.errors import AuthError, BugError, SyncError, TransientError

PROVIDER = "clover"
HELP_URL = "https://docs.clover.com/docs/api-usage-rate-limits"
RECONNECT = (
    "Clover no longer accepts salesync's access to your merchant account: the access has "
    "expired or the app was removed. Reconnect Clover in salesync to resume syncing; "
    "nothing is lost meanwhile, salesync catches up once you do."
)
PERMISSIONS = (
    "Clover refused salesync permission to read your {what}. Reinstall the salesync app "
    "on Clover and allow it to read orders, payments, customers, inventory and merchant "
    "details."
)
TRANSIENT = "Clover is not answering right now; salesync tries again shortly by itself."


def retry_after(response: httpx.Response) -> float | None:
    """Seconds from a ``Retry-After`` header, if it holds a number."""
    value = response.headers.get("retry-after")
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None


LIMITS = ("tokenLimit", "tokenConcurrentLimit", "crossTokenLimit", "crossTokenConcurrentLimit")


def limit_hit(response: httpx.Response) -> str | None:
    """The limit a 429 names (``tokenLimit``, ``tokenConcurrentLimit``...), if any."""
    for name in LIMITS:
        if f"x-ratelimit-{name}" in response.headers:
            return name
    return None


def _message(response: httpx.Response) -> str:
    try:
        body = json.loads(response.content)
    except ValueError:
        return response.text[:200] or response.reason_phrase
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])
    return response.reason_phrase


def error_for(response: httpx.Response, *, operation: str, connection: str | None) -> SyncError:
    """The salesync error for a Clover answer of 400 or above."""
    status = response.status_code
    message = f"clover {operation} answered {status}: {_message(response)}"
    context: dict[str, Any] = {
        "provider": PROVIDER,
        "operation": operation,
        "connection": connection,
        "details": {
            "method": response.request.method,
            "path": response.request.url.path,
            "status": status,
            "message": _message(response),
        },
    }
    if status == 401:
        return AuthError(message, user_message=RECONNECT, code="unauthorized", **context)
    if status == 403:
        what = operation.split(".", 1)[0]
        return AuthError(
            message, user_message=PERMISSIONS.format(what=what), code="forbidden", **context
        )
    if status == 429:
        limit = limit_hit(response)
        context["details"]["limit"] = limit
        return TransientError(
            message,
            retry_after=retry_after(response),
            user_message=TRANSIENT,
            code="rate_limited",
            help_url=HELP_URL,
            **context,
        )
    if status >= 500:
        return TransientError(
            message,
            retry_after=retry_after(response),
            user_message=TRANSIENT,
            code=f"http_{status}",
            **context,
        )
    return BugError(
        message,
        user_message="salesync asked Clover for something it could not answer; a developer "
        "has been told.",
        code="not_found" if status == 404 else f"http_{status}",
        **context,
    )


def unanswered(
    exc: httpx.HTTPError | httpx.InvalidURL, path: str, *, operation: str, connection: str | None
) -> SyncError:
    """The salesync error for a call that got no answer."""
    return no_answer(
        PROVIDER, exc, operation=operation, connection=connection, user_message=TRANSIENT, path=path
    )


def unreadable(response: httpx.Response, *, operation: str, connection: str | None) -> SyncError:
    """A success whose body is not a JSON object: cut short on the way, so worth a retry."""
    return TransientError(
        f"clover {operation} answered {response.status_code} with a body that is not a JSON object",
        code="malformed_response",
        user_message=TRANSIENT,
        provider=PROVIDER,
        operation=operation,
        connection=connection,
        details={"path": response.request.url.path, "body": response.text[:200]},
    )
