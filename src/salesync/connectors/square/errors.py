"""Square's failures as salesync's error kinds, decided where they cross into salesync.

Square answers a failed call with ``{"errors": [{"category", "code", "detail", "field"}]}``
and the HTTP status of the first error
(https://developer.squareup.com/docs/build-basics/handling-errors). The category decides
the kind: ``AUTHENTICATION_ERROR`` (``UNAUTHORIZED``, ``ACCESS_TOKEN_EXPIRED``,
``ACCESS_TOKEN_REVOKED``) and a 403 stop the connection until the merchant reconnects;
``RATE_LIMIT_ERROR`` and ``API_ERROR`` (5xx) are transient; ``INVALID_REQUEST_ERROR``
means salesync asked something Square cannot answer, which is salesync's bug. httpx's own
exceptions never pass this module: a timeout or a dropped connection is transient.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from salesync.connectors.unanswered import unanswered as no_answer
from salesync.domain.errors import AuthError, BugError, SyncError, TransientError

PROVIDER = "square"
HELP_URL = "https://developer.squareup.com/docs/build-basics/handling-errors"
RECONNECT = (
    "Square no longer accepts salesync's access to your account: the access has expired "
    "or was revoked. Reconnect Square in salesync to resume syncing; nothing is lost "
    "meanwhile, salesync catches up once you do."
)
PERMISSIONS = (
    "Square refused salesync permission to read your {what}. Reconnect Square and allow "
    "salesync to read orders, customers, items and payouts."
)
TRANSIENT = "Square is not answering right now; salesync tries again shortly by itself."


class _SquareError(BaseModel):
    model_config = ConfigDict(extra="ignore")
    category: str = ""
    code: str = ""
    detail: str = ""
    field: str | None = None


class _ErrorBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    errors: list[_SquareError] = []


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), if any."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _errors(response: httpx.Response) -> list[_SquareError]:
    try:
        return _ErrorBody.model_validate_json(response.content).errors
    except ValidationError:
        return []


def _details(response: httpx.Response) -> dict[str, Any]:
    """What a developer needs to see, never the Authorization header or the body sent."""
    request = response.request
    details: dict[str, Any] = {
        "method": request.method,
        "path": request.url.path,
        "status": response.status_code,
    }
    found = _errors(response)
    if found:
        details["errors"] = [e.model_dump(exclude_none=True) for e in found]
    else:
        details["body"] = response.text[:500]
    return details


def error_for(response: httpx.Response, *, operation: str, connection: str | None) -> SyncError:
    """The salesync error for a Square answer of 400 or above."""
    status = response.status_code
    found = _errors(response)
    first = found[0] if found else _SquareError()
    code = first.code or f"HTTP_{status}"
    message = (
        f"square {operation} answered {status} {code}: {first.detail or response.reason_phrase}"
    )
    context: dict[str, Any] = {
        "code": code,
        "provider": PROVIDER,
        "operation": operation,
        "connection": connection,
        "help_url": HELP_URL,
        "details": _details(response),
    }
    if status == 401 or first.category == "AUTHENTICATION_ERROR":
        return AuthError(message, user_message=RECONNECT, **context)
    if status == 403 or code in ("FORBIDDEN", "INSUFFICIENT_SCOPES"):
        what = operation.split(".", 1)[0]
        return AuthError(message, user_message=PERMISSIONS.format(what=what), **context)
    if status == 429 or first.category == "RATE_LIMIT_ERROR":
        return TransientError(
            message, retry_after=retry_after(response), user_message=TRANSIENT, **context
        )
    if status >= 500 or first.category == "API_ERROR":
        return TransientError(
            message, retry_after=retry_after(response), user_message=TRANSIENT, **context
        )
    return BugError(
        message,
        user_message="salesync asked Square for something it could not answer; a developer "
        "has been told.",
        **context,
    )


def unanswered(
    exc: httpx.HTTPError | httpx.InvalidURL,
    method: str,
    path: str,
    *,
    operation: str,
    connection: str | None,
) -> SyncError:
    """The salesync error for a call that got no answer."""
    return no_answer(
        PROVIDER,
        exc,
        operation=operation,
        connection=connection,
        user_message=TRANSIENT,
        method=method,
        path=path,
    )


def unreadable(response: httpx.Response, *, operation: str, connection: str | None) -> SyncError:
    """A success whose body is not a JSON object: cut short on the way, so worth a retry."""
    return TransientError(
        f"square {operation} answered {response.status_code} with a body that is not a JSON object",
        code="malformed_response",
        user_message=TRANSIENT,
        provider=PROVIDER,
        operation=operation,
        connection=connection,
        details=_details(response),
    )
