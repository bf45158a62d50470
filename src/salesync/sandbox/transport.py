"""Reaching a sandbox in this process, without a socket: for tests, benchmarks and demos.

httpx's own ASGI transport is async only; Starlette's test client is the sync one. Every
request, whatever its host, goes to the one app. A connection the app drops on purpose (a
lost response) reaches the caller as the httpx error a real network would raise.
"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi.testclient import TestClient


class InProcessTransport(httpx.BaseTransport):
    """Hands each request to an ASGI app in this process, as the network would.

    Many clients may share one: closing a client leaves it open; ``shutdown`` stops the
    event loop thread the app runs on. With ``record``, each answer is kept in
    ``answers`` as (path, status, body).
    """

    def __init__(self, app: Any, *, record: bool = False) -> None:
        self._client = TestClient(app, raise_server_exceptions=False)
        self._client.__enter__()
        self.record = record
        self.answers: list[tuple[str, int, bytes]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        answer = self._client.send(request)
        if self.record:
            self.answers.append((request.url.path, answer.status_code, answer.content))
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def close(self) -> None:
        """Kept open for the next client; see ``shutdown``."""

    def shutdown(self) -> None:
        self._client.__exit__(None, None, None)
