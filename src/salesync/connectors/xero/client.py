"""HTTP calls to one Xero organisation: token, tenant header, pacing, idempotency, errors.

Every call takes a fresh access token from the connection's token source and, on a 401,
refreshes it once (naming the refused token, so concurrent workers refresh only once) and
tries again; a second 401, or a refused refresh, is an ``AuthError``. Calls are paced by
the organisation's ``CallBudget`` (Xero: 60 a minute, 5 at once, 5,000 a day,
https://developer.xero.com/documentation/guides/oauth2/limits/), which adopts the
``X-MinLimit-Remaining`` and ``X-DayLimit-Remaining`` of every answer and pauses on 429.
Writes carry an ``Idempotency-Key`` (at most 128 characters; Xero replays the first answer
to a repeat for a few minutes, https://developer.xero.com/documentation/guides/idempotent-requests/idempotency/)
and ask for ``summarizeErrors=false``, so a batch answers element by element.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from salesync.connectors import capture
from salesync.connectors.destination import TokenSource
from salesync.connectors.pacing import CallBudget
from salesync.connectors.xero import errors
from salesync.domain.errors import AuthError

API = "/api.xro/2.0"
IDEMPOTENCY_KEY_MAX = 128


def idempotency_key(step: str, keys: Sequence[str], body: bytes) -> str:
    """A key for one write: the step, the postings it carries and the exact body.

    The body is part of it because Xero refuses a key reused with a different request; a
    retry of the same request within Xero's window is answered from its memory, and any
    other retry is guarded by reading back first.
    """
    digest = hashlib.sha256()
    digest.update(step.encode())
    for key in sorted(keys):
        digest.update(b"\0" + key.encode())
    digest.update(b"\0" + body)
    return f"salesync-{step}-{digest.hexdigest()}"[:IDEMPOTENCY_KEY_MAX]


class StaticToken:
    """An access token with no way to refresh it (a connection without OAuth refresh)."""

    def __init__(self, token: str) -> None:
        self.token = token

    def access_token(self) -> str:
        return self.token

    def refresh(self, *, stale: str | None = None) -> str:
        raise AuthError(
            "Xero refused the access token and the connection has no refresh token",
            user_message="Xero no longer accepts salesync's sign-in; reconnect Xero in salesync.",
            code="reconnect_required",
            provider=errors.PROVIDER,
        )


class XeroClient:
    """Calls one organisation's Accounting API."""

    def __init__(
        self,
        base_url: str,
        tenant_id: str,
        token: TokenSource,
        budget: CallBudget,
        *,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.tenant_id = tenant_id
        self.token = token
        self.budget = budget
        self.http = httpx.Client(
            event_hooks=capture.HOOKS,
            base_url=base_url.rstrip("/") + API,
            transport=transport,
            timeout=timeout,
        )
        # A transport handed in belongs to the caller (the engine shares one across every
        # connection it opens); only the client's own network transport closes with it.
        self._owns_transport = transport is None

    def close(self) -> None:
        if self._owns_transport:
            self.http.close()

    def get(self, path: str, params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """One page of a collection (or one object) as Xero answers it."""
        return self._send("GET", path, params=dict(params or {}), operation=f"get:{path}")

    def write(
        self,
        method: str,
        path: str,
        collection: str,
        elements: Sequence[Mapping[str, Any]],
        *,
        step: str,
        keys: Sequence[str],
    ) -> list[dict[str, Any]]:
        """PUT (create) or POST (update) elements; their answers, in order.

        An answer that does not name every element (Xero summarised the errors, or the
        body is cut short) may hide what was saved, so it counts as no answer at all.
        """
        body = json.dumps({collection: list(elements)}, sort_keys=True).encode()
        operation = f"{method.lower()}:{path}"
        answer = self._send(
            method,
            path,
            params={"summarizeErrors": "false"},
            body=body,
            key=idempotency_key(step, keys, body),
            operation=operation,
            validation=True,
        )
        found = answer.get(collection, answer.get("Elements"))
        if not isinstance(found, list) or len(found) != len(elements):
            raise errors.malformed(httpx.Response(200, text=str(answer)[:200]), operation)
        return [e if isinstance(e, dict) else {} for e in found]

    def write_one(
        self, method: str, path: str, collection: str, element: Mapping[str, Any], *, step: str
    ) -> dict[str, Any]:
        """Write one object sent bare, as Xero's account endpoints take it; its answer
        (with ``ValidationErrors`` when refused)."""
        body = json.dumps(dict(element), sort_keys=True).encode()
        operation = f"{method.lower()}:{path}"
        answer = self._send(
            method,
            path,
            params={"summarizeErrors": "false"},
            body=body,
            key=idempotency_key(step, [], body),
            operation=operation,
            validation=True,
        )
        found = answer.get(collection, answer.get("Elements"))
        if not isinstance(found, list) or len(found) != 1 or not isinstance(found[0], dict):
            raise errors.malformed(httpx.Response(200, text=str(answer)[:200]), operation)
        return found[0]

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str],
        operation: str,
        body: bytes | None = None,
        key: str | None = None,
        validation: bool = False,
    ) -> dict[str, Any]:
        """The answer's body; with ``validation``, a 400 listing refused elements too."""
        stale: str | None = None
        for _ in range(2):
            token = self.token.refresh(stale=stale) if stale else self.token.access_token()
            response = self._call(
                method, path, params=params, body=body, key=key, token=token, operation=operation
            )
            if response.status_code == 401 and stale is None:
                stale = token
                continue
            break
        if response.status_code == 429:
            self.budget.pause(errors.retry_after(response))
        if validation and response.status_code == 400:
            refused = _validation_elements(response)
            if refused is not None:
                return {"Elements": refused}
        if not response.is_success:
            raise errors.response_error(response, operation)
        try:
            parsed = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise errors.malformed(response, operation) from None
        if not isinstance(parsed, dict):
            raise errors.malformed(response, operation)
        return parsed

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str],
        body: bytes | None,
        key: str | None,
        token: str,
        operation: str,
    ) -> httpx.Response:
        headers = {
            "Authorization": f"Bearer {token}",
            "xero-tenant-id": self.tenant_id,
            "Accept": "application/json",
        }
        if body is not None:
            headers["Content-Type"] = "application/json"
        if key is not None:
            headers["Idempotency-Key"] = key
        with self.budget.call():
            try:
                response = self.http.request(
                    method, path, params=params, content=body, headers=headers
                )
            except httpx.TransportError as exc:
                raise errors.transport_error(exc, operation) from None
        self.budget.observe_remaining(
            minute=_int(response.headers.get("x-minlimit-remaining")),
            day=_int(response.headers.get("x-daylimit-remaining")),
        )
        return response


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() else None


def _validation_elements(response: httpx.Response) -> list[Any] | None:
    """The elements of a ValidationException (ErrorNumber 10), if that is the answer."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if isinstance(body, dict) and body.get("ErrorNumber") == 10:
        elements = body.get("Elements")
        return elements if isinstance(elements, list) else None
    return None
