"""Xero's error answers, as the Accounting API and its gateway send them.

- Validation: HTTP 400 ``ApiException`` with ``ErrorNumber`` 10, ``Type``
  ``ValidationException`` and the failed ``Elements`` each carrying ``ValidationErrors``
  (https://github.com/XeroAPI/XeroAPI-Schemas/issues/13,
  https://github.com/XeroAPI/Xero-Java/issues/171).
- Gateway refusals use a problem-details body: 401 ``TokenExpired: token expired at ...``
  (https://github.com/freakboy3742/pyxero/pull/337) and 403 ``AuthenticationUnsuccessful``
  for a missing, wrong or disconnected tenant
  (https://developer.xero.com/documentation/oauth2/troubleshooting).
- An unknown id is 404 with a plain-text body
  (https://github.com/XeroAPI/Xero-OpenAPI/issues/163).
- A body over the size limit is 413 with Title ``RequestEntityTooLarge`` and Detail
  ``PayloadTooLarge`` (https://github.com/XeroAPI/Xero-Java/issues/349).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any

NOT_FOUND_TEXT = "The resource you're looking for cannot be found"


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer of the API: status, a JSON object or plain text, extra headers."""

    status: int
    body: dict[str, Any] | str
    headers: dict[str, str] = field(default_factory=dict)


class ElementInvalid(Exception):  # noqa: N818 - named as Xero names the condition
    """One element of a request failed validation; carries every message found."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


class ApiError(Exception):
    """A whole request Xero refuses; the service answers it as ``reply``."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"{reply.status}: {reply.body}")
        self.reply = reply


def problem(
    status: int, detail: str, headers: dict[str, str] | None = None, *, title: str | None = None
) -> ApiError:
    """The gateway's problem-details answer, titled by its status unless ``title``."""
    if title is None:
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = "Error"
    body: dict[str, Any] = {
        "Type": None,
        "Title": title,
        "Status": status,
        "Detail": detail,
        "Instance": str(uuid.uuid4()),
        "Extensions": {},
    }
    return ApiError(Reply(status, body, headers or {}))


def token_expired(expired_at: datetime) -> ApiError:
    """401 for an access token past its 30 minutes."""
    return problem(401, f"TokenExpired: token expired at {expired_at:%m/%d/%Y %H:%M:%S}")


def unauthenticated() -> ApiError:
    """401 for a missing, unknown or revoked access token."""
    return problem(401, "AuthenticationUnsuccessful")


def forbidden() -> ApiError:
    """403 for a tenant header that is missing, wrong or no longer connected."""
    return problem(403, "AuthenticationUnsuccessful")


def too_large() -> ApiError:
    """413 for a request body over the 3.5 MB Xero accepts."""
    return problem(413, "PayloadTooLarge", title="RequestEntityTooLarge")


def not_found() -> ApiError:
    """404 for an id or collection that does not exist."""
    return ApiError(Reply(404, NOT_FOUND_TEXT))


def validation_exception(elements: list[dict[str, Any]]) -> dict[str, Any]:
    """The 400 body for a request whose elements failed validation."""
    return {
        "ErrorNumber": 10,
        "Type": "ValidationException",
        "Message": "A validation exception occurred",
        "Elements": elements,
    }


def invalid_request(message: str) -> ApiError:
    """A request that is not a well-formed body for the endpoint at all."""
    return ApiError(
        Reply(400, validation_exception([{"ValidationErrors": [{"Message": message}]}]))
    )


def query_parse(message: str) -> ApiError:
    """A ``where`` or ``order`` the API cannot parse."""
    body = {"ErrorNumber": 16, "Type": "QueryParseException", "Message": message}
    return ApiError(Reply(400, body))
