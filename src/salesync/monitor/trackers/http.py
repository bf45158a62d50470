"""HTTP calls to a tracker's REST API, with its refusals and silences made ``SyncError``s."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from salesync.connectors import capture
from salesync.domain.errors import SyncError
from salesync.monitor.trackers import errors

Refusal = Callable[[httpx.Response, str], SyncError]
"""Makes the error for an answer that is not a success, given the operation's name."""


def client(
    base_url: str,
    *,
    headers: Mapping[str, str],
    timeout: float,
    auth: httpx.Auth | None = None,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """A client whose exchanges are captured (secrets removed) inside ``capturing()``."""
    return httpx.Client(
        base_url=base_url,
        headers=dict(headers),
        auth=auth,
        timeout=timeout,
        transport=transport,
        event_hooks=capture.HOOKS,
    )


def parse_time(raw: Any) -> datetime:
    """GitHub's ``2026-11-23T14:00:00Z`` or Jira's ``2026-11-23T14:00:00.000+0000``."""
    text = str(raw or "")
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text.replace("Z", "+0000"), pattern).astimezone(UTC)
        except ValueError:
            continue
    return datetime.fromtimestamp(0, UTC)


class Api:
    """One tracker's REST API, reached through ``http``."""

    def __init__(self, http: httpx.Client, provider: str, refusal: Refusal) -> None:
        self.http = http
        self.provider = provider
        self.refusal = refusal

    def close(self) -> None:
        self.http.close()

    def send(
        self,
        method: str,
        url: str,
        operation: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        """The answer when it is a success; the matching ``SyncError`` otherwise."""
        try:
            response = self.http.request(
                method, url, params=dict(params) if params else None, json=body
            )
        except httpx.TransportError as exc:
            raise errors.transport_error(exc, self.provider, operation) from None
        if not response.is_success:
            raise self.refusal(response, operation)
        return response

    def json(
        self,
        method: str,
        url: str,
        operation: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
    ) -> Any:
        response = self.send(method, url, operation, params=params, body=body)
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise errors.malformed(response, self.provider, operation) from None

    def object(
        self,
        method: str,
        url: str,
        operation: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: Any = None,
    ) -> dict[str, Any]:
        found = self.json(method, url, operation, params=params, body=body)
        if not isinstance(found, dict):
            raise errors.malformed(
                httpx.Response(200, text=str(found)[:200]), self.provider, operation
            )
        return found
