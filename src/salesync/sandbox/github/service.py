"""The path every REST call takes: token, primary and secondary limits, faults, work.

Limits are GitHub's (https://docs.github.com/rest/using-the-rest-api/rate-limits-for-the-rest-api):
a personal access token may make 5,000 requests an hour, counted in a window that opens
at its first request; every answer carries ``x-ratelimit-limit``, ``-remaining``,
``-used``, ``-reset`` (UTC epoch seconds) and ``-resource``. Past the primary limit the
answer is 403 or 429 with ``x-ratelimit-remaining: 0`` (which of the two is a setting
here, as GitHub uses both). Secondary limits guard bursts, among them about 80
content-creating requests (issues, comments) a minute; they answer 403 or 429 with a
message naming the secondary limit and, often, ``retry-after``. Authentication comes
first, so a refused token counts against nothing.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from starlette.responses import JSONResponse, Response

from salesync.sandbox.delivery import deliver
from salesync.sandbox.faults import BEFORE, Fault, FaultKind, FaultPlan
from salesync.sandbox.github import errors
from salesync.sandbox.github.repo import GitHubRepo, RequestRecord, Token
from salesync.sandbox.limits import CallWindow
from salesync.sandbox.replies import ApiError, Reply

PRIMARY_LIMIT = 5000
PRIMARY_PERIOD = timedelta(hours=1)
CONTENT_PER_MINUTE = 80
API_VERSION = "2022-11-28"

Work = Callable[[str], Reply]
"""The work of one request, given the login of the token that asked."""


@dataclass(frozen=True, slots=True)
class ApiCall:
    method: str
    operation: str
    """The fault plan's name for it: create_issue, get_issue, update_issue, list_issues,
    list_events, create_comment, list_comments or get_user."""
    authorization: str | None
    write: bool = False
    creates: bool = False
    """Creates content (an issue, a comment): counted by the secondary limit."""


@dataclass(frozen=True, slots=True)
class Quota:
    allowed: bool
    limit: int
    remaining: int
    used: int
    reset: int
    """When the window resets, in UTC epoch seconds."""

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-resource": "core",
        }


class PrimaryLimit:
    """``limit`` requests per hour per account, in a window opened by its first request."""

    def __init__(self, limit: int, clock: Callable[[], datetime]) -> None:
        self.limit = limit
        self._clock = clock
        self._windows: dict[str, tuple[datetime, int]] = {}
        self._lock = threading.Lock()

    def take(self, login: str) -> Quota:
        """Count one request for ``login`` unless its window is used up."""
        now = self._clock()
        with self._lock:
            opened, used = self._windows.get(login, (now, 0))
            if now >= opened + PRIMARY_PERIOD:
                opened, used = now, 0
            allowed = used < self.limit
            if allowed:
                used += 1
            self._windows[login] = (opened, used)
        reset = math.ceil((opened + PRIMARY_PERIOD).timestamp())
        return Quota(allowed, self.limit, max(self.limit - used, 0), used, reset)


class GitHubSandbox:
    """One repository behind GitHub's gatekeeping: tokens, limits, faults."""

    def __init__(
        self,
        repo: GitHubRepo,
        faults: FaultPlan,
        *,
        primary_limit: int = PRIMARY_LIMIT,
        content_per_minute: int = CONTENT_PER_MINUTE,
    ) -> None:
        self.repo = repo
        self.faults = faults
        self.primary = PrimaryLimit(primary_limit, repo.now)
        self.content = CallWindow(content_per_minute, timedelta(minutes=1), repo.now)
        self.primary_status = 403
        """403 or 429: how an exhausted primary limit answers."""

    def handle(self, call: ApiCall, work: Work) -> Response:
        """Run ``work`` behind every check GitHub makes, in GitHub's order; never raises."""
        login: str | None = None
        status = 0
        try:
            token = self._authenticate(call.authorization)
            login = token.login
            quota = self.primary.take(login)
            headers = quota.headers()
            if not quota.allowed:
                user = self.repo.person(login).id
                raise errors.primary_exhausted(self.primary_status, user, headers)
            fault = self.faults.take(call.operation)
            if fault is not None and fault.kind in BEFORE:
                response = self.render(_before_fault(fault), headers)
            else:
                response = deliver(fault, self.render(self._run(call, token, work), headers))
            status = response.status_code
            return response
        except ApiError as error:
            status = error.reply.status
            return self.render(error.reply)
        finally:
            self.repo.record(
                RequestRecord(self.repo.now(), call.method, call.operation, login, status)
            )

    def render(self, reply: Reply, headers: dict[str, str] | None = None) -> Response:
        merged = {
            "x-github-request-id": uuid.uuid4().hex[:20].upper(),
            "x-github-api-version-selected": API_VERSION,
            **(headers or {}),
            **reply.headers,
        }
        if reply.body is None:
            return Response(status_code=reply.status, headers=merged)
        return JSONResponse(
            reply.body,
            status_code=reply.status,
            headers=merged,
            media_type="application/json; charset=utf-8",
        )

    def _authenticate(self, authorization: str | None) -> Token:
        scheme, _, value = (authorization or "").strip().partition(" ")
        if not value:
            raise errors.requires_authentication()
        token = self.repo.tokens.get(value.strip())
        if scheme.lower() not in ("bearer", "token") or token is None:
            raise errors.bad_credentials()
        return token

    def _run(self, call: ApiCall, token: Token, work: Work) -> Reply:
        try:
            if call.write and not token.write:
                raise errors.not_accessible()
            if call.creates:
                decision = self.content.acquire(token.login)
                if not decision.allowed:
                    wait = max(math.ceil(decision.retry_after.total_seconds()), 1)
                    raise errors.secondary_limited(403, wait, {})
            with self.repo.lock:
                return work(token.login)
        except ApiError as error:
            return error.reply


def _before_fault(fault: Fault) -> Reply:
    if fault.kind is FaultKind.RATE_LIMITED:
        status = 403 if fault.status == 403 else 429
        return errors.secondary_limited(status, max(math.ceil(fault.retry_after), 1), {}).reply
    if fault.kind is FaultKind.UNAUTHORIZED:
        return errors.bad_credentials().reply
    return errors.server_error(fault.status).reply
