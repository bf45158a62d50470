"""Jira Cloud's error answers, in the shape the REST API v3 sends them.

Every refusal is ``{"errorMessages": [...], "errors": {field: message}}``: field problems
(a missing summary, an unknown project) go under ``errors``, the rest under
``errorMessages`` (https://developer.atlassian.com/cloud/jira/platform/rest/v3/intro/#status-codes).
An issue that does not exist and one the account may not see answer alike, 404 "Issue
does not exist or you do not have permission to see it." Rate limits answer 429 with
``Retry-After`` in seconds and ``X-RateLimit-Reset`` as a timestamp
(https://developer.atlassian.com/cloud/jira/platform/rate-limiting/); some transient 5xx
carry ``Retry-After`` too.
"""

from __future__ import annotations

from collections.abc import Mapping

from salesync.sandbox.replies import ApiError, Reply

NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"


def refusal(
    status: int,
    messages: tuple[str, ...] = (),
    errors: Mapping[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> ApiError:
    body = {"errorMessages": list(messages), "errors": dict(errors or {})}
    return ApiError(Reply(status, body, headers or {}))


def invalid_fields(errors: Mapping[str, str]) -> ApiError:
    return refusal(400, errors=errors)


def bad_request(message: str) -> ApiError:
    return refusal(400, (message,))


def unauthenticated() -> ApiError:
    return refusal(401, ("Client must be authenticated to access this resource.",))


def forbidden(message: str) -> ApiError:
    return refusal(403, (message,))


def issue_not_found() -> ApiError:
    return refusal(404, ("Issue does not exist or you do not have permission to see it.",))


def rate_limited(headers: dict[str, str]) -> ApiError:
    return refusal(429, ("Rate limit exceeded.",), headers=headers)


def server_error(status: int, retry_after: int | None = None) -> ApiError:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
    message = "Internal server error" if status == 500 else "Service unavailable"
    return refusal(status, (message,), headers=headers)
