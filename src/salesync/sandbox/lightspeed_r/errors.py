"""R-Series' error shape, and the answers for faults that stop a request before any work.

A refused call answers ``{"httpCode", "httpMessage", "message", "errorClass"}``, every
value a string, with the HTTP status of ``httpCode``
(https://developers.lightspeedhq.com/retail/introduction/errors/). The token endpoint is
an OAuth server and answers OAuth's ``{"error", "error_description"}`` instead.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from starlette.responses import JSONResponse

from salesync.sandbox.faults import Fault, FaultKind

Json = dict[str, Any]


class LightspeedError(Exception):
    """One refusal of the API with the status it is answered with."""

    def __init__(
        self, status: int, message: str, error_class: str = "Exception", retry_after: float = 0
    ) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.error_class = error_class
        self.retry_after = retry_after

    def body(self) -> Json:
        return {
            "httpCode": str(self.status),
            "httpMessage": HTTPStatus(self.status).phrase,
            "message": self.message,
            "errorClass": self.error_class,
        }

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        extra = dict(headers or {})
        if self.retry_after:
            extra["Retry-After"] = f"{self.retry_after:g}"
        return JSONResponse(self.body(), status_code=self.status, headers=extra)


def bad_request(message: str) -> LightspeedError:
    return LightspeedError(400, message, "Exception")


def not_found(resource: str, object_id: str) -> LightspeedError:
    return LightspeedError(404, f"{resource} {object_id} not found.", "NotFoundException")


def invalid_token() -> LightspeedError:
    return LightspeedError(401, "Invalid access token.", "Exception")


def expired_token() -> LightspeedError:
    return LightspeedError(401, "Expired access token.", "Exception")


def forbidden(account_id: str) -> LightspeedError:
    return LightspeedError(403, f"Access to account {account_id} denied.", "Exception")


def rate_limited(retry_after: float) -> LightspeedError:
    return LightspeedError(
        429, "Rate limit exceeded. Please try again later.", "RateLimitException", retry_after
    )


def server_error(status: int) -> LightspeedError:
    return LightspeedError(status, "An unexpected error occurred.", "Exception")


def before_fault(fault: Fault) -> JSONResponse:
    """The answer for a fault armed to stop the request before any work."""
    if fault.kind is FaultKind.RATE_LIMITED:
        return rate_limited(fault.retry_after).response()
    if fault.kind is FaultKind.UNAUTHORIZED:
        return expired_token().response()
    return server_error(fault.status).response()


def oauth_error(error: str, description: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status)
