"""One Square account over HTTP: the pinned API version, the bearer token, and retries.

Every call names the ``Square-Version`` it was written against, so a change Square makes
in a later version never reaches salesync unannounced
(https://developer.squareup.com/docs/build-basics/versioning-overview). A 429, a 5xx, a
timeout or a body cut short is retried after ``Retry-After`` when Square gives one, else
after a doubling wait, within a small budget; past it the ``TransientError`` goes up to
the engine, which owns the longer retry. Every call here only reads, so a retry is safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from salesync.connectors import capture
from salesync.connectors.square.errors import error_for, unanswered, unreadable
from salesync.domain.errors import TransientError

SQUARE_VERSION = "2025-10-16"
PRODUCTION_URL = "https://connect.squareup.com"
SANDBOX_URL = "https://connect.squareupsandbox.com"
Json = dict[str, Any]


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


class SquareApi:
    """Calls on one seller account with its access token; the caller closes it."""

    def __init__(
        self,
        access_token: str,
        *,
        base_url: str = PRODUCTION_URL,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
        connection_id: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.sleep = sleep
        self.retry = retry or RetryPolicy()
        self.connection_id = connection_id
        self._http = httpx.Client(
            event_hooks=capture.HOOKS,
            base_url=base_url,
            transport=transport,
            timeout=timeout,
            headers={
                "Authorization": f"Bearer {access_token}",
                "Square-Version": SQUARE_VERSION,
                "Accept": "application/json",
            },
        )

    def close(self) -> None:
        self._http.close()

    def get(self, path: str, operation: str, params: Mapping[str, str] | None = None) -> Json:
        return self._call("GET", path, operation, params=params)

    def post(self, path: str, operation: str, body: Json) -> Json:
        return self._call("POST", path, operation, body=body)

    def pages(
        self, path: str, operation: str, name: str, params: Mapping[str, str] | None = None
    ) -> Iterator[Json]:
        """Every object of a ``GET`` list, following Square's cursors to the end."""
        cursor: str | None = None
        while True:
            query = {**(params or {}), **({"cursor": cursor} if cursor else {})}
            answer = self.get(path, operation, query)
            yield from objects(answer, name)
            cursor = answer.get("cursor") or None
            if cursor is None:
                return

    def _call(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Json | None = None,
    ) -> Json:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self._once(method, path, operation, params, body)
            except TransientError as exc:
                wait = self.retry.wait(attempt, exc.retry_after)
                if attempt >= self.retry.attempts or wait > self.retry.longest_wait:
                    exc.retry_after = wait
                    raise
                self.sleep(wait)

    def _once(
        self,
        method: str,
        path: str,
        operation: str,
        params: Mapping[str, str] | None,
        body: Json | None,
    ) -> Json:
        try:
            request = self._http.build_request(method, path, params=params, json=body)
            response = self._http.send(request)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise unanswered(
                exc, method, path, operation=operation, connection=self.connection_id
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


def objects(answer: Json, name: str) -> list[Json]:
    """The list ``name`` of an answer; Square leaves an empty list out of the body."""
    found = answer.get(name)
    return [o for o in found if isinstance(o, dict)] if isinstance(found, list) else []
