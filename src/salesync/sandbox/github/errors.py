"""GitHub's error answers, in the shapes the REST API sends them.

Every refusal is a JSON object with ``message`` and ``documentation_url`` (and, lately,
``status`` as a string); a 422 adds ``errors``, one object per problem with ``resource``,
``field`` and a ``code`` of ``missing_field``, ``invalid``, ``already_exists`` or
``custom`` (which carries its own ``message``):
https://docs.github.com/rest/using-the-rest-api/troubleshooting-the-rest-api and
https://docs.github.com/rest/overview/resources-in-the-rest-api#client-errors. A private
repository, or an issue the token cannot see, is a plain 404 so its existence is not
revealed. Issues switched off in a repository, or a deleted issue, answer 410.
"""

from __future__ import annotations

from typing import Any

from salesync.sandbox.replies import ApiError, Reply

DOCS = "https://docs.github.com/rest"
ISSUES_DOCS = "https://docs.github.com/rest/issues/issues"
COMMENTS_DOCS = "https://docs.github.com/rest/issues/comments"
LIMITS_DOCS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
SECONDARY_DOCS = LIMITS_DOCS + "#about-secondary-rate-limits"
TITLE_MAX = 256
BODY_MAX = 65536


def refusal(
    status: int,
    message: str,
    documentation_url: str = DOCS,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> ApiError:
    body: dict[str, Any] = {"message": message, "documentation_url": documentation_url}
    if errors:
        body["errors"] = errors
    body["status"] = str(status)
    return ApiError(Reply(status, body, headers or {}))


def bad_credentials() -> ApiError:
    return refusal(401, "Bad credentials")


def requires_authentication() -> ApiError:
    return refusal(401, "Requires authentication")


def not_accessible() -> ApiError:
    """403 for a token that may read the repository but not write its issues."""
    return refusal(403, "Resource not accessible by personal access token", ISSUES_DOCS)


def not_found() -> ApiError:
    return refusal(404, "Not Found")


def issues_disabled() -> ApiError:
    return refusal(410, "Issues are disabled for this repo", ISSUES_DOCS)


def issue_deleted() -> ApiError:
    return refusal(410, "This issue was deleted", ISSUES_DOCS)


def bad_json() -> ApiError:
    return refusal(400, "Problems parsing JSON", DOCS)


def validation_failed(
    problems: list[dict[str, Any]], documentation_url: str = ISSUES_DOCS
) -> ApiError:
    return refusal(422, "Validation Failed", documentation_url, errors=problems)


def problem(field_name: str, code: str, resource: str = "Issue", **extra: Any) -> dict[str, Any]:
    """One entry of a 422's ``errors``."""
    return {"resource": resource, "code": code, "field": field_name, **extra}


def primary_exhausted(status: int, user_id: int, headers: dict[str, str]) -> ApiError:
    return refusal(
        status, f"API rate limit exceeded for user ID {user_id}.", LIMITS_DOCS, headers=headers
    )


def secondary_limited(status: int, retry_after: int | None, headers: dict[str, str]) -> ApiError:
    extra = dict(headers)
    if retry_after is not None:
        extra["retry-after"] = str(retry_after)
    return refusal(
        status,
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
        "again. If you reach out to GitHub Support for help, please include the request ID.",
        SECONDARY_DOCS,
        headers=extra,
    )


def server_error(status: int) -> ApiError:
    return refusal(status, "Server Error" if status == 500 else "Service Unavailable")
