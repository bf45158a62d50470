"""WooCommerce's failures as salesync's error kinds, decided where they cross into salesync.

WooCommerce answers a refusal with the WordPress REST error
``{"code": "woocommerce_rest_...", "message": ..., "data": {"status": ...}}``
(https://woocommerce.github.io/woocommerce-rest-api-docs/#errors). A 401 or 403
(``woocommerce_rest_authentication_error``: the key is unknown or revoked;
``woocommerce_rest_cannot_*``: the key may not read) stops the connection until the
merchant makes a new key; ``rest_no_route`` means the shop's REST API is not where the
connection says (a wrong address, WooCommerce deactivated, plain permalinks), which only
the merchant can fix too. A 429 (a host's or WooCommerce's limiter) and a 5xx are
transient, with the wait the limiter names in ``RateLimit-Retry-After`` or
``Retry-After``. Anything else is salesync asking something wrong: a bug.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from salesync.connectors.unanswered import unanswered as no_answer
from salesync.domain.errors import AuthError, BugError, SyncError, TransientError

PROVIDER = "woocommerce"
HELP_URL = "https://woocommerce.github.io/woocommerce-rest-api-docs/#errors"
RECONNECT = (
    "Your WooCommerce shop no longer accepts salesync's REST API key: it was revoked, "
    "deleted or lost its read permission. Create a new key with Read/Write permission "
    "(WooCommerce > Settings > Advanced > REST API) and enter it in salesync; nothing is "
    "lost meanwhile, salesync catches up once you do."
)
NOT_FOUND = (
    "salesync cannot find your shop's REST API at {url}. Check the shop address in the "
    "connection, that WooCommerce is active, and that permalinks are not set to 'Plain'."
)
TRANSIENT = "Your WooCommerce shop is not answering right now; salesync tries again shortly."


class _WooError(BaseModel):
    model_config = ConfigDict(extra="ignore")
    code: str = ""
    message: str = ""


def _error(response: httpx.Response) -> _WooError:
    try:
        return _WooError.model_validate_json(response.content)
    except ValidationError:
        return _WooError()


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait, from the limiter's ``RateLimit-Retry-After`` or ``Retry-After``."""
    for name in ("ratelimit-retry-after", "retry-after"):
        value = response.headers.get(name)
        if value:
            try:
                return max(float(value), 0.0)
            except ValueError:
                continue
    return None


def _details(response: httpx.Response, error: _WooError) -> dict[str, Any]:
    """What a developer needs, never the key pair (it may sit in the query string)."""
    request = response.request
    details: dict[str, Any] = {
        "method": request.method,
        "path": request.url.path,
        "status": response.status_code,
    }
    if error.code:
        details["error"] = error.model_dump()
    else:
        details["body"] = response.text[:500]
    return details


def error_for(response: httpx.Response, *, operation: str, connection: str | None) -> SyncError:
    """The salesync error for a WooCommerce answer of 400 or above."""
    status = response.status_code
    error = _error(response)
    code = error.code or f"HTTP_{status}"
    message = (
        f"woocommerce {operation} answered {status} {code}: "
        f"{error.message or response.reason_phrase}"
    )
    context: dict[str, Any] = {
        "code": code,
        "provider": PROVIDER,
        "operation": operation,
        "connection": connection,
        "help_url": HELP_URL,
        "details": _details(response, error),
    }
    if status in (401, 403):
        return AuthError(message, user_message=RECONNECT, **context)
    if code == "rest_no_route":
        base = str(response.request.url).split("/wp-json", 1)[0]
        return AuthError(message, user_message=NOT_FOUND.format(url=base), **context)
    if status == 429 or status >= 500:
        return TransientError(
            message, retry_after=retry_after(response), user_message=TRANSIENT, **context
        )
    return BugError(
        message,
        user_message="salesync asked your WooCommerce shop for something it could not "
        "answer; a developer has been told.",
        **context,
    )


def unanswered(exc: Exception, *, operation: str, connection: str | None) -> SyncError:
    """The salesync error for a call that got no answer (httpx never passes this line)."""
    return no_answer(
        PROVIDER, exc, operation=operation, connection=connection, user_message=TRANSIENT
    )


def unreadable(response: httpx.Response, *, operation: str, connection: str | None) -> SyncError:
    """A success whose body is not JSON: cut short on the way (or a PHP notice printed
    before it), so worth another try."""
    return TransientError(
        f"woocommerce {operation} answered {response.status_code} with a body that is not JSON",
        code="malformed_response",
        user_message=TRANSIENT,
        provider=PROVIDER,
        operation=operation,
        connection=connection,
        details=_details(response, _WooError()),
    )
