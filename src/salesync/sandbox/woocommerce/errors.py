"""WooCommerce's error shape and the answers for faults that stop a request early.

The WordPress REST API answers a refusal with ``{"code", "message", "data": {"status"}}``
and that status; WooCommerce's own codes start with ``woocommerce_rest_``
(https://woocommerce.github.io/woocommerce-rest-api-docs/#errors). An invalid consumer
key is ``woocommerce_rest_authentication_error`` (401), a key without the right
permission ``woocommerce_rest_cannot_view`` (401), an unknown id
``woocommerce_rest_invalid_id`` / ``woocommerce_rest_shop_order_invalid_id`` (404), and a
parameter out of range ``rest_invalid_param`` (400) with the bad ones in ``data.params``.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import HTMLResponse, JSONResponse, Response

from salesync.sandbox.faults import Fault, FaultKind

Json = dict[str, Any]


class WooError(Exception):
    """One WordPress REST error with the status it is answered with."""

    def __init__(self, status: int, code: str, message: str, extra: Json | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra or {}
        self.headers: dict[str, str] = {}

    def body(self) -> Json:
        return {
            "code": self.code,
            "message": self.message,
            "data": {"status": self.status, **self.extra},
        }

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def bad_key() -> WooError:
    return WooError(401, "woocommerce_rest_authentication_error", "Consumer key is invalid.")


def bad_signature() -> WooError:
    return WooError(
        401,
        "woocommerce_rest_authentication_error",
        "Invalid signature - provided signature does not match.",
    )


def cannot(action: str) -> WooError:
    """A request without (enough) credentials: WooCommerce answers as for a visitor."""
    verb = {
        "list": "cannot list resources",
        "view": "cannot view this resource",
        "create": "cannot create resources",
        "edit": "cannot edit this resource",
        "delete": "cannot delete this resource",
    }[action]
    return WooError(401, f"woocommerce_rest_cannot_{action}", f"Sorry, you {verb}.")


def invalid_id(kind: str = "") -> WooError:
    code = f"woocommerce_rest_{kind}_invalid_id" if kind else "woocommerce_rest_invalid_id"
    return WooError(404, code, "Invalid ID.")


def invalid_param(name: str, reason: str) -> WooError:
    return WooError(
        400,
        "rest_invalid_param",
        f"Invalid parameter(s): {name}",
        {"params": {name: reason}, "details": {}},
    )


def no_route() -> WooError:
    return WooError(404, "rest_no_route", "No route was found matching the URL and request method.")


def rate_limited(limit: int, retry_after: int, reset_at: int) -> WooError:
    """WooCommerce's limiter's 429: ``rate_limit_exceeded``, the seconds to wait in
    ``RateLimit-Retry-After`` and the Unix time of the reset in ``RateLimit-Reset``
    (https://developer.woocommerce.com/docs/apis/store-api/rate-limiting)."""
    error = WooError(
        429,
        "rate_limit_exceeded",
        f"Too many requests. Please wait {retry_after} seconds before trying again.",
    )
    error.headers = {
        "RateLimit-Limit": str(limit),
        "RateLimit-Remaining": "0",
        "RateLimit-Reset": str(reset_at),
        "RateLimit-Retry-After": str(retry_after),
    }
    return error


def before_fault(fault: Fault, now: int) -> Response:
    """The answer for a fault armed to stop the request before any work; ``now`` is the
    Unix time."""
    if fault.kind is FaultKind.RATE_LIMITED:
        seconds = max(int(fault.retry_after), 1)
        return rate_limited(25, seconds, now + seconds).response()
    if fault.kind is FaultKind.UNAUTHORIZED:
        return bad_key().response()
    if fault.status >= 502:
        # What a web server in front of PHP answers while PHP is down or overloaded.
        return HTMLResponse(
            f"<html><body><h1>{fault.status} Service Unavailable</h1></body></html>",
            status_code=fault.status,
        )
    return WooError(
        fault.status,
        "internal_server_error",
        "<p>There has been a critical error on this website.</p>",
    ).response()
