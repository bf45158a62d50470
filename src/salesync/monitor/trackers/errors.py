"""Trackers' answers sorted into salesync's error kinds (DESIGN.md §4).

GitHub (https://docs.github.com/rest/using-the-rest-api/troubleshooting-the-rest-api): 401
is a token that is wrong, expired or revoked; 403 and 429 are rate limits when
``retry-after`` is present, when ``x-ratelimit-remaining`` is 0 (wait until
``x-ratelimit-reset``, UTC epoch seconds) or when the message names a secondary limit (wait
at least a minute), and otherwise a token without the permission
(https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit);
404 is a repository or issue that does not exist or that the token cannot see; 410 is
issues switched off or an issue deleted; 422 lists what was wrong with salesync's request.

Jira Cloud answers ``{"errorMessages": [...], "errors": {field: message}}``: 400 for a
request it refuses (an unknown project or issue type is a setting to fix), 401 for a bad
e-mail or API token, 403 for an account without the permission, 404 for an issue that
does not exist or cannot be seen, 429 with ``Retry-After``, 5xx sometimes with
``Retry-After`` too (https://developer.atlassian.com/cloud/jira/platform/rate-limiting/).
Anything else is a ``bug``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import httpx

from salesync.domain.errors import (
    AuthError,
    BugError,
    SyncError,
    TransientError,
    ValidationError,
)

GITHUB = "github"
JIRA = "jira"
GITHUB_LIMITS = "https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api"
GITHUB_TOKENS = (
    "https://docs.github.com/authentication/keeping-your-account-and-data-secure/"
    "managing-your-personal-access-tokens"
)
GITHUB_ERRORS = "https://docs.github.com/rest/using-the-rest-api/troubleshooting-the-rest-api"
GITHUB_STATUS = "https://www.githubstatus.com"
JIRA_AUTH = "https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/"
JIRA_LIMITS = "https://developer.atlassian.com/cloud/jira/platform/rate-limiting/"
JIRA_STATUS = "https://jira-software.status.atlassian.com"
SECONDARY_WAIT = 60.0
"""GitHub: wait at least a minute after a secondary limit that names no time."""
JIRA_WAIT = 60.0


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        found = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return found if isinstance(found, dict) else {}


def _seconds(raw: str | None) -> float | None:
    return float(raw) if raw is not None and raw.strip().isdigit() else None


def github_error(
    response: httpx.Response, operation: str, *, repository: str, now: datetime
) -> SyncError:
    """The error for a request GitHub did not carry out."""
    status = response.status_code
    body = _json(response)
    message = str(body.get("message") or response.text[:200]).strip()
    problems = [
        f"{p.get('field', '?')}: {p.get('message') or p.get('code', '?')}"
        for p in body.get("errors", [])
        if isinstance(p, dict)
    ]
    internal = f"GitHub answered {status} to {operation} on {repository}: {message}"
    if problems:
        internal += f" ({'; '.join(problems)})"
    context: dict[str, Any] = {
        "provider": GITHUB,
        "operation": operation,
        "details": {"status": status, "message": message, "errors": problems},
    }
    headers = response.headers
    if status in (403, 429):
        wait = _seconds(headers.get("retry-after"))
        if wait is None and headers.get("x-ratelimit-remaining") == "0":
            reset = _seconds(headers.get("x-ratelimit-reset"))
            wait = max((reset or 0) - now.timestamp(), 1.0) if reset else SECONDARY_WAIT
            return TransientError(
                internal,
                user_message=f"salesync used up its GitHub rate limit for {repository}; the "
                "issues catch up once it resets.",
                code="rate_limited",
                help_url=GITHUB_LIMITS,
                retry_after=wait,
                **context,
            )
        if wait is not None or status == 429 or "rate limit" in message.lower():
            return TransientError(
                internal,
                user_message="GitHub asked salesync to slow down (a secondary rate limit); "
                "the issues catch up shortly.",
                code="secondary_rate_limit",
                help_url=GITHUB_LIMITS,
                retry_after=wait or SECONDARY_WAIT,
                **context,
            )
        return AuthError(
            internal,
            user_message=f"GitHub's token may not change issues in {repository}: give it "
            "Issues read and write on the repository, or use another token.",
            code="forbidden",
            help_url=GITHUB_TOKENS,
            **context,
        )
    if status == 401:
        return AuthError(
            internal,
            user_message="GitHub refused salesync's token (wrong, expired or revoked): make a "
            "new one with Issues read and write and update the GitHub tracker settings.",
            code="bad_credentials",
            help_url=GITHUB_TOKENS,
            **context,
        )
    if status == 404:
        return ValidationError(
            internal,
            user_message=f"GitHub has no {repository} (or the issue is gone from it), or the "
            "token cannot see it: check the owner and repository in the tracker settings.",
            code="not_found",
            help_url=GITHUB_ERRORS,
            **context,
        )
    if status == 410:
        return ValidationError(
            internal,
            user_message=f"GitHub says: {message}. Turn issues on in {repository}'s settings, "
            "or point the tracker at another repository.",
            code="gone",
            help_url=GITHUB_ERRORS,
            **context,
        )
    if status >= 500:
        return TransientError(
            internal,
            user_message="GitHub is not answering properly; the issues catch up shortly.",
            code="github_unavailable",
            help_url=GITHUB_STATUS,
            retry_after=_seconds(headers.get("retry-after")),
            **context,
        )
    return BugError(
        internal,
        user_message="salesync sent GitHub a request it refused; a developer has been told.",
        code="validation_failed" if status == 422 else f"http_{status}",
        help_url=GITHUB_ERRORS,
        **context,
    )


def jira_error(response: httpx.Response, operation: str, *, site: str) -> SyncError:
    """The error for a request Jira did not carry out."""
    status = response.status_code
    body = _json(response)
    messages = [str(m) for m in body.get("errorMessages", []) or []]
    fields = body.get("errors") if isinstance(body.get("errors"), dict) else {}
    messages += [f"{name}: {text}" for name, text in (fields or {}).items()]
    said = "; ".join(messages) or response.text[:200].strip()
    internal = f"Jira answered {status} to {operation} on {site}: {said}"
    context: dict[str, Any] = {
        "provider": JIRA,
        "operation": operation,
        "details": {"status": status, "messages": messages},
    }
    if status == 400:
        return ValidationError(
            internal,
            user_message=f"Jira refused the request: {said}. Check the project key and issue "
            "type in the Jira tracker settings.",
            code="rejected",
            help_url=JIRA_AUTH,
            **context,
        )
    if status == 401:
        return AuthError(
            internal,
            user_message="Jira refused salesync's e-mail and API token: make a new API token "
            "for the account and update the Jira tracker settings.",
            code="unauthenticated",
            help_url=JIRA_AUTH,
            **context,
        )
    if status == 403:
        return AuthError(
            internal,
            user_message=f"Jira's account for salesync lacks a permission it needs ({said}): "
            "grant it in the project, or use another account.",
            code="forbidden",
            help_url=JIRA_AUTH,
            **context,
        )
    if status == 404:
        return ValidationError(
            internal,
            user_message=f"Jira says: {said}",
            code="not_found",
            help_url=JIRA_AUTH,
            **context,
        )
    if status == 429:
        return TransientError(
            internal,
            user_message="Jira asked salesync to slow down; the issues catch up shortly.",
            code="rate_limited",
            help_url=JIRA_LIMITS,
            retry_after=_seconds(response.headers.get("retry-after")) or JIRA_WAIT,
            **context,
        )
    if status >= 500:
        return TransientError(
            internal,
            user_message="Jira is not answering properly; the issues catch up shortly.",
            code="jira_unavailable",
            help_url=JIRA_STATUS,
            retry_after=_seconds(response.headers.get("retry-after")),
            **context,
        )
    return BugError(
        internal,
        user_message="salesync sent Jira a request it refused; a developer has been told.",
        code=f"http_{status}",
        help_url=JIRA_AUTH,
        **context,
    )


def transport_error(exc: httpx.TransportError, provider: str, operation: str) -> TransientError:
    """No (complete) answer: a timeout, a refused or dropped connection."""
    return TransientError(
        f"no answer from {provider} to {operation}: {type(exc).__name__}: {exc}",
        user_message=f"salesync could not hear back from {provider}; it tries again on the "
        "next sync and looks for what was already made first.",
        code="no_answer",
        provider=provider,
        operation=operation,
    )


def malformed(response: httpx.Response, provider: str, operation: str) -> TransientError:
    """A success whose body is not the JSON the API documents."""
    return TransientError(
        f"{provider} answered {response.status_code} to {operation} with a body that is not "
        f"the JSON it documents: {response.text[:120]!r}",
        user_message=f"{provider}'s answer arrived garbled; salesync tries again on the next sync.",
        code="malformed_answer",
        provider=provider,
        operation=operation,
    )
