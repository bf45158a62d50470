"""One WooCommerce shop over HTTP: the REST API key, pages, and retries.

The key pair goes as HTTP Basic credentials over HTTPS, or, for a server that drops the
Authorization header, as ``consumer_key`` / ``consumer_secret`` in the query string
(https://woocommerce.github.io/woocommerce-rest-api-docs/#authentication-over-https).
A list is read page by page (``per_page`` at most 100) until ``X-WP-TotalPages``. A 429,
a 5xx, a timeout or a body cut short is retried after the limiter's wait, else a doubling
one, within a small budget; past it the ``TransientError`` goes up to the engine.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from salesync.connectors import capture
from salesync.connectors.woocommerce.errors import error_for, unanswered, unreadable
from salesync.domain.errors import TransientError

API_PATH = "/wp-json/wc/v3"
PER_PAGE = 100


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long one call is retried before its error goes up."""

    attempts: int = 4
    first_wait: float = 1.0
    longest_wait: float = 30.0

    def wait(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        return min(self.first_wait * 2.0 ** (attempt - 1), self.longest_wait)


@dataclass(frozen=True, slots=True)
class Answer:
    """A decoded answer and the headers that describe it."""

    body: Any
    headers: httpx.Headers

    @property
    def total_pages(self) -> int:
        try:
            return int(self.headers.get("x-wp-totalpages", "1"))
        except ValueError:
            return 1


class WooApi:
    """Calls on one shop with one key pair; the caller closes it."""

    def __init__(
        self,
        store_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        query_auth: bool = False,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry: RetryPolicy | None = None,
        connection_id: str | None = None,
    ) -> None:
        self.sleep = sleep
        self.retry = retry or RetryPolicy()
        self.connection_id = connection_id
        keys = {"consumer_key": consumer_key, "consumer_secret": consumer_secret}
        self._http = httpx.Client(
            event_hooks=capture.HOOKS,
            base_url=store_url.rstrip("/") + API_PATH,
            transport=transport,
            timeout=30.0,
            auth=None if query_auth else httpx.BasicAuth(consumer_key, consumer_secret),
            params=keys if query_auth else None,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        params: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Answer:
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

    def get(self, path: str, operation: str, params: Mapping[str, str] | None = None) -> Answer:
        return self.call("GET", path, operation, params=params)

    def listed(self, path: str, operation: str, params: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every item of a list, page after page."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            answer = self.get(
                path, operation, {**params, "per_page": str(PER_PAGE), "page": str(page)}
            )
            found += items(answer)
            if page >= answer.total_pages:
                return found
            page += 1

    def _once(
        self,
        method: str,
        path: str,
        operation: str,
        params: Mapping[str, str] | None,
        body: dict[str, Any] | None,
    ) -> Answer:
        try:
            response = self._http.request(method, path, params=params, json=body)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise unanswered(exc, operation=operation, connection=self.connection_id) from exc
        if response.status_code >= 400:
            raise error_for(response, operation=operation, connection=self.connection_id)
        try:
            decoded = response.json()
        except ValueError:
            raise unreadable(response, operation=operation, connection=self.connection_id) from None
        return Answer(decoded, response.headers)


def items(answer: Answer) -> list[dict[str, Any]]:
    """The objects of a list answer."""
    body = answer.body
    return [i for i in body if isinstance(i, dict)] if isinstance(body, list) else []
