"""R-Series' failures as salesync's error kinds, decided where they cross into salesync.

The API answers a refused call with ``{"httpCode", "httpMessage", "message",
"errorClass"}`` and that HTTP status
(https://developers.lightspeedhq.com/retail/introduction/errors/). A 401 (an access token
that expired or was revoked, once a refresh could not mend it) and a 403 stop the
connection until the merchant reconnects; 429 (the leaky bucket overflowed) and 5xx are
transient; any other refusal means salesync asked something R-Series cannot answer, which
is salesync's bug. httpx's own exceptions never pass this module.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from salesync.connectors.lightspeed_r.bucket import retry_after
from salesync.connectors.unanswered import unanswered as no_answer
from salesync.domain.errors import AuthError, BugError, SyncError, TransientError

PROVIDER = "lightspeed_r"
HELP_URL = "https://developers.lightspeedhq.com/retail/introduction/errors/"
RECONNECT = (
    "Lightspeed no longer accepts salesync's access to your account: the access has "
    "expired or was revoked. Reconnect Lightspeed in salesync to resume syncing; nothing "
    "is lost meanwhile, salesync catches up once you do."
)
PERMISSIONS = (
    "Lightspeed refused salesync permission to read your {what}. Reconnect Lightspeed with "
    "an employee who may read sales, customers and items."
)
TRANSIENT = "Lightspeed is not answering right now; salesync tries again shortly by itself."


class _ErrorBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    httpCode: str = ""  # noqa: N815  R-Series' field name
    message: str = ""
    errorClass: str = ""  # noqa: N815  R-Series' field name


def _error(response: httpx.Response) -> _ErrorBody | None:
    try:
        return _ErrorBody.model_validate_json(response.content)
    except ValidationError:
        return None


def _details(response: httpx.Response) -> dict[str, Any]:
    """What a developer needs to see, never the Authorization header or the body sent."""
    request = response.request
    details: dict[str, Any] = {
        "method": request.method,
        "path": request.url.path,
        "status": response.status_code,
    }
    found = _error(response)
    if found is not None:
        details["error"] = found.model_dump()
    else:
        details["body"] = response.text[:500]
    for name in ("x-ls-api-bucket-level", "x-ls-api-drip-rate", "retry-after"):
        if name in response.headers:
            details[name] = response.headers[name]
    return details


def error_for(response: httpx.Response, *, operation: str, connection: str | None) -> SyncError:
    """The salesync error for an R-Series answer of 400 or above."""
    status = response.status_code
    found = _error(response)
    code = (found.errorClass if found and found.errorClass else "") or f"HTTP_{status}"
    detail = found.message if found and found.message else response.reason_phrase
    message = f"lightspeed_r {operation} answered {status} {code}: {detail}"
    context: dict[str, Any] = {
        "code": code,
        "provider": PROVIDER,
        "operation": operation,
        "connection": connection,
        "help_url": HELP_URL,
        "details": _details(response),
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
        f"lightspeed_r {operation} answered {response.status_code} with a body that is not "
        "a JSON object",
        code="malformed_response",
        user_message=TRANSIENT,
        provider=PROVIDER,
        operation=operation,
        connection=connection,
        details=_details(response),
    )
