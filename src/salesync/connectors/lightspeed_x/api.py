"""One X-Series retailer over HTTP: the bearer token, the rate limit, and retries.

Access tokens live a day and refresh tokens rotate on every use, so the token comes from a
``TokenSupply``: salesync's ``ConnectionTokens`` refreshes it once for every worker and
stores the new refresh token before the new access token is used. A 401 is met by one
refresh naming the refused token, then the call is tried again.

X-Series counts a retailer's requests in a five-minute window of ``300 x registers + 50``
and states the limit and what is left in ``X-RateLimit-Limit`` and
``X-RateLimit-Remaining`` (https://x-series-api.lightspeedhq.com/docs/rate_limiting). When
what is left runs low, calls are spaced at the window's own pace so the window refills as
fast as it is used; a 429 is waited out until its ``Retry-After`` when that fits the
budget, else its ``TransientError`` goes up with the wait for the engine to reschedule.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from salesync.connectors import capture
from salesync.connectors.lightspeed_x.errors import (
    PROVIDER,
    RECONNECT,
    error_for,
    unanswered,
    unreadable,
)
from salesync.domain.errors import AuthError, TransientError

Json = dict[str, Any]
WINDOW_SECONDS = 300.0
RESERVE = 0.05
"""The share of the window kept back: below it, calls are spaced at the window's pace."""


class TokenSupply(Protocol):
    def access_token(self) -> str: ...

    def refresh(self, *, stale: str | None = None) -> str: ...


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A connection's access token used as it is, for callers that keep no token store:
    once X-Series refuses it, only reconnecting helps."""

    token: str
    connection_id: str | None = None

    def access_token(self) -> str:
        return self.token

    def refresh(self, *, stale: str | None = None) -> str:
        raise AuthError(
            "lightspeed_x refused the access token and no token store can refresh it",
            user_message=RECONNECT,
            code="reconnect_required",
            provider=PROVIDER,
            connection=self.connection_id,
        )


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long one call is retried before its error goes up."""

    attempts: int = 4
    first_wait: float = 1.0
    longest_wait: float = WINDOW_SECONDS
    """A longer wait is not slept here: the engine reschedules the work. Up to one whole
    window is waited out, since a window always reopens within five minutes."""

    def wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return min(self.first_wait * 2.0 ** (attempt - 1), self.longest_wait)


@dataclass(slots=True)
class LimitState:
    """The retailer's window as the last answer stated it."""

    limit: int | None = None
    remaining: int | None = None

    def observe(self, headers: httpx.Headers) -> None:
        for name, attr in (("x-ratelimit-limit", "limit"), ("x-ratelimit-remaining", "remaining")):
            raw = headers.get(name)
            if raw is not None and raw.strip().isdigit():
                setattr(self, attr, int(raw))

    def spacing(self) -> float:
        """Seconds to wait before the next call: none while the window has room."""
        if self.limit is None or self.remaining is None or self.limit <= 0:
            return 0.0
        if self.remaining > self.limit * RESERVE:
            return 0.0
        return WINDOW_SECONDS / self.limit


class LightspeedApi:
    """Calls on one retailer's API 2.0; the caller closes it."""

    def __init__(
        self,
        base_url: str,
        tokens: TokenSupply,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
        connection_id: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.tokens = tokens
        self.sleep = sleep
        self.retry = retry or RetryPolicy()
        self.connection_id = connection_id
        self.limits = LimitState()
        self.waited = 0.0
        self._http = httpx.Client(
            event_hooks=capture.HOOKS,
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            headers={"Accept": "application/json", "User-Agent": "salesync"},
        )

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, operation: str, params: Mapping[str, str] | None = None) -> Json:
        attempt = 0
        refreshed = False
        token = self.tokens.access_token()
        while True:
            attempt += 1
            try:
                return self._once(path, operation, params, token)
            except AuthError as exc:
                if refreshed or exc.code != "HTTP_401":
                    raise
                refreshed = True
                token = self.tokens.refresh(stale=token)
            except TransientError as exc:
                wait = self.retry.wait(attempt, exc.retry_after)
                if attempt >= self.retry.attempts or wait > self.retry.longest_wait:
                    exc.retry_after = wait
                    raise
                self._wait(wait)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self.waited += seconds
            self.sleep(seconds)

    def _once(
        self, path: str, operation: str, params: Mapping[str, str] | None, token: str
    ) -> Json:
        self._wait(self.limits.spacing())
        try:
            request = self._http.build_request(
                "GET", path, params=params, headers={"Authorization": f"Bearer {token}"}
            )
            response = self._http.send(request)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise unanswered(exc, path, operation) from exc
        self.limits.observe(response.headers)
        if response.status_code >= 400:
            raise error_for(response, operation=operation, connection=self.connection_id)
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict):
            raise unreadable(response, operation)
        return answer
