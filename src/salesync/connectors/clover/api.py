"""One Clover merchant over HTTP: the bearer token, Clover's limits, and retries.

Clover limits each token to 16 new requests a second and 5 in flight, and each app to 50
a second and 10 in flight (https://docs.clover.com/docs/api-usage-rate-limits). Every
client on the same token in this process shares one ``Pacer``, and every client of the
same app another: a ``CallBudget`` holds the in-flight cap and the pause a 429 imposes,
and a one-second window spaces new requests, so parallel sweeps of many merchants stay
inside the limits instead of meeting them. A 429, a
5xx, a timeout or a body cut short is retried after ``Retry-After`` when Clover gives one,
else after a doubling wait, within a small budget; past it the ``TransientError`` goes up
to the engine. Every call here only reads, so a retry is safe.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from salesync.connectors import capture
from salesync.connectors.clover.errors import error_for, unanswered, unreadable
from salesync.connectors.pacing import CallBudget, Limits
from salesync.domain.errors import TransientError

PRODUCTION_URL = "https://api.clover.com"
SANDBOX_URL = "https://apisandbox.dev.clover.com"
TOKEN_PER_SECOND = 16
TOKEN_CONCURRENT = 5
APP_PER_SECOND = 50
APP_CONCURRENT = 10
PAGE_LIMIT = 1000
"""Clover's hard limit on ``limit`` (https://docs.clover.com/docs/paginating-elements)."""
Json = dict[str, Any]
Params = Mapping[str, str | Sequence[str]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long one call is retried before its error goes up."""

    attempts: int = 4
    """Tries in all, the first included."""
    first_wait: float = 1.0
    longest_wait: float = 30.0
    """A longer ``Retry-After`` is not waited out here: the engine reschedules the work."""

    def wait(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed try number ``attempt``."""
        if retry_after is not None:
            return retry_after
        return min(self.first_wait * 2.0 ** (attempt - 1), self.longest_wait)


class Pacer:
    """Keeps the calls of one token (or one app) inside Clover's limits for it."""

    def __init__(
        self,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        *,
        per_second: int = TOKEN_PER_SECOND,
        concurrent: int = TOKEN_CONCURRENT,
    ) -> None:
        self.per_second = per_second
        self.budget = CallBudget(
            Limits(per_minute=per_second * 60, concurrent=concurrent), clock=clock, sleep=sleep
        )
        self._clock = clock
        self._sleep = sleep
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def _room(self) -> None:
        """Wait until a new request fits in the last second's window, then count it."""
        while True:
            with self._lock:
                now = self._clock()
                while self._recent and self._recent[0] <= now - 1.0:
                    self._recent.popleft()
                if len(self._recent) < self.per_second:
                    self._recent.append(now)
                    return
                wait = self._recent[0] + 1.0 - now
            self._sleep(max(wait, 0.001))

    @contextmanager
    def call(self) -> Iterator[None]:
        """Hold a slot among the requests in flight, with room in the second's window."""
        with self.budget.call():
            self._room()
            yield

    def pause(self, seconds: float) -> None:
        """Clover said 429: nobody under this limit calls for ``seconds``."""
        self.budget.pause(seconds)


_PACERS: dict[str, Pacer] = {}
_GUARD = threading.Lock()


def pacer_for(
    key: str,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    *,
    per_second: int,
    concurrent: int,
) -> Pacer:
    """The process-wide pacer of ``key`` (a token or an app, kept as a digest, never the
    token itself), made on first use with ``clock`` and ``sleep``."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    with _GUARD:
        found = _PACERS.get(digest)
        if found is None:
            found = _PACERS[digest] = Pacer(
                clock, sleep, per_second=per_second, concurrent=concurrent
            )
        return found


class CloverApi:
    """Calls on one merchant with its access token; the caller closes it."""

    def __init__(
        self,
        access_token: str,
        merchant_id: str,
        *,
        base_url: str = PRODUCTION_URL,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
        connection_id: str | None = None,
        timeout: float = 30.0,
        app: str | None = None,
    ) -> None:
        """``app`` names the Clover app the token belongs to; every merchant of one app
        in this process shares its limits (by default, the app of ``base_url``)."""
        self.merchant_id = merchant_id
        self.sleep = sleep
        self.retry = retry or RetryPolicy()
        self.connection_id = connection_id
        self.pacer = pacer_for(
            f"token:{access_token}",
            clock,
            sleep,
            per_second=TOKEN_PER_SECOND,
            concurrent=TOKEN_CONCURRENT,
        )
        self.app_pacer = pacer_for(
            f"app:{app or base_url}",
            clock,
            sleep,
            per_second=APP_PER_SECOND,
            concurrent=APP_CONCURRENT,
        )
        self._http = httpx.Client(
            event_hooks=capture.HOOKS,
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, operation: str, params: Params | None = None) -> Json:
        """``GET /v3/merchants/{mId}<path>``, retried within the policy."""
        full = f"/v3/merchants/{self.merchant_id}{path}"
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once(full, operation, params)
            except TransientError as exc:
                wait = self.retry.wait(attempt, exc.retry_after)
                if attempt >= self.retry.attempts or wait > self.retry.longest_wait:
                    exc.retry_after = wait
                    raise
                if exc.code == "rate_limited":
                    limit = str((exc.details or {}).get("limit") or "")
                    hit = self.app_pacer if limit.startswith("crossToken") else self.pacer
                    hit.pause(wait)
                else:
                    self.sleep(wait)

    def elements(self, path: str, operation: str, params: Params | None = None) -> Iterator[Json]:
        """Every element of a list, page by page with ``offset`` and ``limit``."""
        offset = 0
        while True:
            answer = self.get(
                path, operation, {**(params or {}), "offset": str(offset), "limit": str(PAGE_LIMIT)}
            )
            page = listed(answer)
            yield from page
            if len(page) < PAGE_LIMIT:
                return
            offset += len(page)

    def _once(self, path: str, operation: str, params: Params | None) -> Json:
        # The token's slot first, then the app's: one order everywhere, so no two calls
        # ever wait on each other's slot.
        with self.pacer.call(), self.app_pacer.call():
            try:
                response = self._http.get(path, params=params)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise unanswered(
                    exc, path, operation=operation, connection=self.connection_id
                ) from exc
        if response.status_code >= 400:
            raise error_for(response, operation=operation, connection=self.connection_id)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise unreadable(response, operation=operation, connection=self.connection_id)
        return answer


def listed(answer: Json) -> list[Json]:
    """The ``elements`` of a list answer (an empty list when there are none)."""
    found = answer.get("elements")
    return [o for o in found if isinstance(o, dict)] if isinstance(found, list) else []
