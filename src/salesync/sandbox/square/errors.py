"""Square's error shape and the answers for faults that stop a request before any work.

Every failed call answers ``{"errors": [{"category", "code", "detail", "field"}]}`` with
the HTTP status of the first error
(https://developer.squareup.com/docs/build-basics/handling-errors); the codes are the
``ErrorCode`` values (https://developer.squareup.com/reference/square/enums/ErrorCode).
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

from salesync.sandbox.faults import Fault, FaultKind

Json = dict[str, Any]


class SquareError(Exception):
    """One Square ``Error`` object with the HTTP status it is answered with."""

    def __init__(
        self, status: int, category: str, code: str, detail: str, field: str | None = None
    ) -> None:
        super().__init__(f"{code}: {detail}")
        self.status = status
        self.category = category
        self.code = code
        self.detail = detail
        self.field = field

    def body(self) -> Json:
        error: Json = {"category": self.category, "code": self.code, "detail": self.detail}
        if self.field is not None:
            error["field"] = self.field
        return {"errors": [error]}

    def response(self, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=headers)


def invalid(code: str, detail: str, field: str | None = None) -> SquareError:
    """A 400 ``INVALID_REQUEST_ERROR``."""
    return SquareError(400, "INVALID_REQUEST_ERROR", code, detail, field)


def missing(field: str) -> SquareError:
    return invalid("MISSING_REQUIRED_PARAMETER", f"Missing required parameter '{field}'.", field)


def not_found(kind: str, object_id: str) -> SquareError:
    return SquareError(
        404, "INVALID_REQUEST_ERROR", "NOT_FOUND", f"{kind} `{object_id}` not found."
    )


def unauthorized(detail: str = "This request could not be authorized.") -> SquareError:
    return SquareError(401, "AUTHENTICATION_ERROR", "UNAUTHORIZED", detail)


def token_expired() -> SquareError:
    return SquareError(
        401, "AUTHENTICATION_ERROR", "ACCESS_TOKEN_EXPIRED", "The access token has expired."
    )


def token_revoked() -> SquareError:
    return SquareError(
        401, "AUTHENTICATION_ERROR", "ACCESS_TOKEN_REVOKED", "The access token has been revoked."
    )


def rate_limited() -> SquareError:
    return SquareError(
        429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "This request was rate limited. Retry later."
    )


_SERVER_CODES = {
    500: "INTERNAL_SERVER_ERROR",
    501: "NOT_IMPLEMENTED",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def server_error(status: int) -> SquareError:
    code = _SERVER_CODES.get(status, "INTERNAL_SERVER_ERROR")
    return SquareError(status, "API_ERROR", code, "An internal error occurred. Retry later.")


def before_fault(fault: Fault) -> JSONResponse:
    """The answer for a fault armed to stop the request before any work."""
    if fault.kind is FaultKind.RATE_LIMITED:
        return rate_limited().response({"Retry-After": f"{fault.retry_after:g}"})
    if fault.kind is FaultKind.UNAUTHORIZED:
        return token_expired().response()
    return server_error(fault.status).response()
