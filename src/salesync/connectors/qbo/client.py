"""One QuickBooks Online company over HTTP: token, pinned minor version, pacing, faults.

Every call

- carries the connection's current access token; a 401 refreshes it once (single flight,
  through the token source) and the call goes again, once;
- names the pinned ``minorversion`` and, when it writes, a ``requestid``: QBO answers a
  repeated requestid with its first answer instead of doing the work twice
  (https://blogs.intuit.com/2015/04/06/15346/: at most 50 characters, 36 for a batch,
  whose bIds may then hold at most 10);
- waits for room in the realm's budget, 500 calls a minute and 10 in flight, batch calls
  also 40 a minute (https://developer.intuit.com/app/developer/qbo/docs/learn/limits-and-throttles),
  and pauses the realm when QBO answers 429 anyway;
- is read for a Fault whatever its status.

Nothing is retried here beyond the refreshed token: the engine owns retries, and reads
back first whenever a write may have happened.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import ExitStack
from typing import Any

import httpx

from salesync.connectors import capture
from salesync.connectors.destination import TokenSource
from salesync.connectors.pacing import CallBudget, Clock, Limits, Sleep, budget_for
from salesync.connectors.qbo.errors import (
    THROTTLE_WAIT,
    fault_error,
    faults_in,
    malformed,
    response_details,
    retry_after,
    status_fault,
    unanswered,
)
from salesync.connectors.qbo.settings import QboSettings

Json = dict[str, Any]
REALM_LIMITS = Limits(per_minute=500, concurrent=10)
BATCH_LIMITS = Limits(per_minute=40, concurrent=10)
BATCH_MAX = 30
"""Items in one batch call (limits page: 30 payloads)."""
PAGE = 1000
"""Most rows one query answers (data-queries page)."""
TIMEOUT = 120.0
"""Intuit ends requests that run longer than 120 s (limits page)."""


def quoted(value: str) -> str:
    """A string literal of QBO's query language (quotes escaped with a backslash)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class _Borrowed(httpx.BaseTransport):
    """A transport the caller owns (the engine shares one with every books it opens):
    used here, closed by its owner."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.inner.handle_request(request)

    def close(self) -> None:
        return None


class QboClient:
    """Calls on one realm; the caller closes it."""

    def __init__(
        self,
        settings: QboSettings,
        *,
        token: TokenSource | None,
        access_token: str,
        transport: httpx.BaseTransport | None,
        clock: Clock,
        sleep: Sleep,
        context: Mapping[str, Any],
    ) -> None:
        """``token`` hands out and refreshes the connection's tokens; without one the
        stored ``access_token`` is used until refused. ``context`` goes on every error."""
        self.realm = settings.realm_id
        self.minorversion = settings.minorversion
        self._token = token
        self._static = access_token
        self._context = dict(context)
        self._http = httpx.Client(
            event_hooks=capture.HOOKS,
            base_url=f"{settings.base_url}/v3/company/{settings.realm_id}",
            transport=_Borrowed(transport) if transport is not None else None,
            timeout=TIMEOUT,
        )
        self.budget = budget_for(
            f"qbo:{self.realm}", lambda: CallBudget(REALM_LIMITS, clock=clock, sleep=sleep)
        )
        self.batches = budget_for(
            f"qbo-batch:{self.realm}", lambda: CallBudget(BATCH_LIMITS, clock=clock, sleep=sleep)
        )

    def close(self) -> None:
        self._http.close()

    def query(self, statement: str) -> Json:
        """The ``QueryResponse`` of one statement (empty when nothing matched)."""
        found: Json = self._call(
            "GET", "/query", "query", expect="QueryResponse", params={"query": statement}
        )
        return found

    def query_all(self, entity: str, where: str = "") -> Iterator[Json]:
        """Every ``entity`` matching ``where``, page after page."""
        start = 1
        while True:
            page = self.query(
                f"select * from {entity}{where} startposition {start} maxresults {PAGE}"  # noqa: S608 - QBO's query language
            )
            rows = [r for r in page.get(entity, []) if isinstance(r, dict)]
            yield from rows
            if len(rows) < PAGE:
                return
            start += PAGE

    def read(self, entity: str, entity_id: str) -> Json:
        found: Json = self._call(
            "GET", f"/{entity.lower()}/{entity_id}", f"read:{entity}", expect=entity
        )
        return found

    def create(self, entity: str, payload: Json, requestid: str) -> Json:
        """Create one object; the same ``requestid`` again gets the first answer."""
        found: Json = self._call(
            "POST",
            f"/{entity.lower()}",
            f"create:{entity}",
            expect=entity,
            body=payload,
            requestid=requestid,
        )
        return found

    def batch(
        self, items: list[Json], requestid: str | None, operation: str = "batch"
    ) -> dict[str, Json]:
        """Up to ``BATCH_MAX`` operations in one call; each answer (object or Fault) by its bId.

        Writes go with a ``requestid``; reads without, or a second read would get the
        first one's answer back."""
        found: list[Any] = self._call(
            "POST",
            "/batch",
            operation,
            expect="BatchItemResponse",
            body={"BatchItemRequest": items},
            requestid=requestid,
            batch=True,
        )
        return {str(item.get("bId")): item for item in found if isinstance(item, dict)}

    def _call(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        expect: str,
        params: Mapping[str, str] | None = None,
        body: Json | None = None,
        requestid: str | None = None,
        batch: bool = False,
    ) -> Any:
        """The ``expect`` member of the answer (an object, or the batch's list)."""
        query = {"minorversion": str(self.minorversion), **(params or {})}
        if requestid is not None:
            query["requestid"] = requestid
        content = None if body is None else json.dumps(body, separators=(",", ":")).encode()
        token = self._token.access_token() if self._token is not None else self._static
        response = self._send(
            method, path, query, content, token=token, operation=operation, batch=batch
        )
        if response.status_code == 401 and self._token is not None:
            # Expired or revoked early: refresh once (a refused refresh pauses the
            # connection and raises its reconnect error) and send the same request again.
            token = self._token.refresh(stale=token)
            response = self._send(
                method, path, query, content, token=token, operation=operation, batch=batch
            )
        return self._answer(response, operation, expect)

    def _send(
        self,
        method: str,
        path: str,
        query: Mapping[str, str],
        content: bytes | None,
        *,
        token: str,
        operation: str,
        batch: bool,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        if content is not None:
            headers["Content-Type"] = "application/json"
        try:
            with ExitStack() as held:
                if batch:
                    held.enter_context(self.batches.call())
                held.enter_context(self.budget.call())
                return self._http.request(
                    method, path, params=query, content=content, headers=headers
                )
        except httpx.HTTPError as exc:
            raise unanswered(exc, operation=operation, **self._context) from exc

    def _answer(self, response: httpx.Response, operation: str, expect: str) -> Any:
        try:
            body = response.json()
        except ValueError:
            body = None
        status = response.status_code
        wait = retry_after(response)
        if status == 429:
            self.budget.pause(wait if wait is not None else THROTTLE_WAIT)
        faults = faults_in(body, status)
        if faults or status >= 400:
            details = response_details(response)
            if len(faults) > 1:
                details["faults"] = [f.as_json() for f in faults]
            raise fault_error(
                faults[0] if faults else status_fault(response),
                operation=operation,
                retry_after=wait,
                details=details,
                **self._context,
            )
        found = body.get(expect) if isinstance(body, dict) else None
        if not isinstance(found, list if expect == "BatchItemResponse" else dict):
            raise malformed(response, operation=operation, **self._context)
        return found
