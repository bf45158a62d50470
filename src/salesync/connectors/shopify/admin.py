"""The Admin API over HTTP: requests paced by the rate limits, retried where that is safe,
and every failure translated into salesync's error kinds before it leaves this module.

Every call here only reads (or creates a webhook subscription, which Shopify refuses to
duplicate), so repeating one after a lost answer is harmless.

| what happened                           | becomes                                        |
|-----------------------------------------|------------------------------------------------|
| timeout, connection error, cut body, 5xx| retried with backoff, then ``TransientError``  |
| 429, GraphQL ``THROTTLED``              | waited out, then ``TransientError`` + retry_after |
| 401, 403, 402, 423, ``ACCESS_DENIED``   | ``AuthError``: the merchant must reconnect     |
| other 4xx, GraphQL errors               | ``BugError``: the connector asked wrongly      |
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from salesync.connectors import capture
from salesync.connectors.shopify.problems import SOURCE
from salesync.connectors.shopify.throttle import CallLimit, CostBucket
from salesync.domain.errors import AuthError, BugError, SyncError, TransientError, ValidationError
from salesync.domain.validation import Problem

API_VERSION = "2026-01"
ATTEMPTS = 5
HELP = "https://shopify.dev/docs/api/usage/response-codes"

Sleep = Callable[[float], None]
Clock = Callable[[], float]

_AUTH = {
    401: "Shopify no longer accepts salesync's access token for {shop}",
    402: "the Shopify store {shop} is frozen until its Shopify bill is paid",
    403: "Shopify refuses salesync access to {shop} (a permission is missing)",
    423: "the Shopify store {shop} is locked",
}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _codes(errors: Any) -> list[str]:
    if not isinstance(errors, list):
        return []
    codes = []
    for error in errors:
        extensions = error.get("extensions") if isinstance(error, dict) else None
        code = extensions.get("code") if isinstance(extensions, dict) else None
        codes.append(str(code) if code else "")
    return codes


def _messages(errors: Any) -> str:
    if isinstance(errors, list):
        return "; ".join(
            str(e.get("message", e)) if isinstance(e, dict) else str(e) for e in errors
        )
    return str(errors)


class ShopifyAdmin:
    """One shop's Admin API, for one access token."""

    def __init__(
        self,
        shop: str,
        access_token: str,
        transport: httpx.BaseTransport | None = None,
        *,
        connection_id: str | None = None,
        api_version: str = API_VERSION,
        admin_url: str | None = None,
        sleep: Sleep = time.sleep,
        monotonic: Clock = time.monotonic,
        attempts: int = ATTEMPTS,
    ) -> None:
        self.shop = shop
        self.connection_id = connection_id
        self.sleep = sleep
        self.monotonic = monotonic
        self.attempts = attempts
        self.bucket = CostBucket()
        self.call_limit = CallLimit()
        self._page_caps: dict[str, int] = {}
        # A transport handed in belongs to the caller (the sweeper shares one across
        # clients); only a client's own network transport is closed with it.
        self._owns_transport = transport is None
        origin = (admin_url or f"https://{shop}").rstrip("/")
        self._http = httpx.Client(
            event_hooks=capture.HOOKS,
            base_url=f"{origin}/admin/api/{api_version}/",
            transport=transport,
            headers={"X-Shopify-Access-Token": access_token, "User-Agent": "salesync"},
            timeout=httpx.Timeout(30.0, connect=10.0),
        )

    def close(self) -> None:
        if self._owns_transport:
            self._http.close()

    def _context(self, operation: str) -> dict[str, Any]:
        return {"provider": SOURCE, "connection": self.connection_id, "operation": operation}

    def _auth(self, status: int, operation: str) -> AuthError:
        what = _AUTH[status].format(shop=self.shop)
        return AuthError(
            f"{what} (HTTP {status} on {operation})",
            user_message=f"{what[0].upper()}{what[1:]}. Reconnect the store in salesync "
            "(and approve the permissions it asks for) to resume syncing.",
            code=f"shopify_http_{status}",
            help_url=HELP,
            **self._context(operation),
        )

    def _transient(
        self, message: str, user_message: str, code: str, operation: str, retry_after: float
    ) -> TransientError:
        return TransientError(
            message,
            user_message=user_message,
            retry_after=retry_after,
            code=code,
            help_url=HELP,
            **self._context(operation),
        )

    def _attempt(
        self, method: str, path: str, operation: str, backoff: float, **kwargs: Any
    ) -> tuple[httpx.Response, Any] | TransientError:
        """One request: the answer and its JSON body, or the transient failure to wait
        out (``retry_after``) before trying again; anything else raises."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.InvalidURL as exc:
            raise ValidationError(
                f"the Shopify store address {self.shop!r} is not usable: {exc}",
                user_message=f"{self.shop!r} is not a Shopify store address; enter the "
                "store's myshopify.com address in the connection.",
                code="shopify_bad_shop",
                problems=(Problem("bad_setting", str(exc), "shop"),),
                **self._context(operation),
            ) from None
        except httpx.TimeoutException as exc:
            return self._transient(
                f"Shopify did not answer {operation} in time: {exc}",
                "Shopify took too long to answer; salesync will try again.",
                "shopify_timeout",
                operation,
                backoff,
            )
        except httpx.HTTPError as exc:
            return self._transient(
                f"{operation} to Shopify failed: {type(exc).__name__}: {exc}",
                "The connection to Shopify failed; salesync will try again.",
                "shopify_connection",
                operation,
                backoff,
            )
        status = response.status_code
        if status in _AUTH:
            raise self._auth(status, operation)
        if status == 429 or status >= 500:
            retry_after = _retry_after(response)
            return self._transient(
                f"Shopify answered {operation} with HTTP {status}",
                "Shopify is busy or unavailable; salesync will try again.",
                f"shopify_http_{status}",
                operation,
                backoff if retry_after is None else retry_after,
            )
        if status >= 400:
            raise BugError(
                f"Shopify refused {operation} with HTTP {status}: {response.text[:300]}",
                user_message="Shopify refused a request salesync made; the developers have "
                "been told.",
                code=f"shopify_http_{status}",
                help_url=HELP,
                **self._context(operation),
            )
        try:
            return response, response.json()
        except ValueError:
            return self._transient(
                f"Shopify's answer to {operation} is not JSON (cut short?)",
                "Shopify's answer arrived damaged; salesync will try again.",
                "shopify_malformed_answer",
                operation,
                backoff,
            )

    def _exchange(
        self, method: str, path: str, operation: str, **kwargs: Any
    ) -> tuple[httpx.Response, Any]:
        """A 2xx answer and its JSON body, retrying with growing waits what may pass on
        its own (Shopify's Retry-After when it gives one)."""
        backoff = 1.0
        for attempt in range(1, self.attempts + 1):
            outcome = self._attempt(method, path, operation, backoff, **kwargs)
            if not isinstance(outcome, TransientError):
                return outcome
            if attempt == self.attempts:
                raise outcome
            self.sleep(outcome.retry_after or backoff)
            backoff *= 2
        raise AssertionError("unreachable: the last attempt raises")

    def rest(self, path: str, operation: str) -> dict[str, Any]:
        """GET a REST resource, paced by the call-limit header."""
        wait = self.call_limit.wait(self.monotonic())
        if wait:
            self.sleep(wait)
        response, body = self._exchange("GET", path, operation)
        self.call_limit.report(
            response.headers.get("X-Shopify-Shop-Api-Call-Limit"), self.monotonic()
        )
        if not isinstance(body, dict):
            raise BugError(f"Shopify's {operation} answer is not an object", code="shopify_shape")
        return body

    def graphql(
        self, operation: str, document: str, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The ``data`` of a GraphQL query, waiting for the cost bucket as needed.

        A page too costly for the bucket to ever hold (a small plan) is asked again with
        fewer items (``first``), so callers only see a shorter page.
        """
        wanted = dict(variables or {})
        first = wanted.get("first")
        if isinstance(first, int) and operation in self._page_caps:
            wanted["first"] = min(first, self._page_caps[operation])
        for _ in range(self.attempts):
            key = f"{operation}:{wanted.get('first')}"
            wait = self.bucket.wait_for(key, self.monotonic())
            if wait:
                self.sleep(wait)
            _, body = self._exchange(
                "POST",
                "graphql.json",
                f"graphql.{operation}",
                json={"query": document, "variables": wanted, "operationName": operation},
            )
            if not isinstance(body, dict):
                raise BugError(
                    f"Shopify's {operation} answer is not an object", code="shopify_shape"
                )
            cost = (body.get("extensions") or {}).get("cost")
            if isinstance(cost, Mapping):
                self.bucket.report(cost, self.monotonic(), key)
            errors = body.get("errors")
            if not errors:
                data = body.get("data")
                if not isinstance(data, dict):
                    raise BugError(
                        f"Shopify's {operation} answer has no data", code="shopify_shape"
                    )
                return data
            if "THROTTLED" not in _codes(errors):
                raise self._graphql_error(operation, errors)
            requested = self.bucket.costs.get(key)
            maximum = self.bucket.maximum
            first = wanted.get("first")
            if requested and maximum and requested > maximum and isinstance(first, int):
                first = max(1, int(first * maximum / requested))
                wanted["first"] = self._page_caps[operation] = first
        raise TransientError(
            f"Shopify kept throttling {operation}",
            user_message="Shopify asked salesync to slow down; it will try again shortly.",
            retry_after=self.bucket.wait_for(
                f"{operation}:{wanted.get('first')}", self.monotonic()
            ),
            code="shopify_throttled",
            **self._context(f"graphql.{operation}"),
        )

    def _graphql_error(self, operation: str, errors: Any) -> SyncError:
        codes = _codes(errors)
        message = _messages(errors)
        context = self._context(f"graphql.{operation}")
        if "ACCESS_DENIED" in codes:
            return AuthError(
                f"Shopify denied {operation}: {message}",
                user_message=f"Shopify does not let salesync read everything it needs from "
                f"{self.shop} ({message}). Reconnect the store and approve the permissions "
                "salesync asks for.",
                code="shopify_access_denied",
                help_url="https://shopify.dev/docs/api/usage/access-scopes",
                **context,
            )
        if any(c in ("INTERNAL_SERVER_ERROR", "SERVICE_UNAVAILABLE") for c in codes):
            return TransientError(
                f"Shopify failed {operation}: {message}",
                user_message="Shopify had an internal error; salesync will try again.",
                code="shopify_internal_error",
                **context,
            )
        return BugError(
            f"Shopify refused the {operation} query: {message}",
            user_message="Shopify refused a query salesync sent; the developers have been told.",
            code="shopify_graphql_error",
            details={"codes": codes},
            **context,
        )
