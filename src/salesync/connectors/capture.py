"""The HTTP exchanges of one unit of work, kept for the incident if the unit fails.

Every connector's ``httpx.Client`` is built with ``event_hooks=capture.HOOKS``. Inside
``with capturing() as exchanges:`` each request made on this thread (and the answer, or
the transport failure) is appended to ``exchanges``; outside such a block nothing is
kept. Authorization and other secret headers are removed as the exchange is captured;
the full redaction (known secrets, card numbers, personal data) happens when an incident
is recorded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from salesync.domain.redaction import Redactor

BODY_LIMIT = 4000
"""Characters of a body kept; the rest is cut with a note of how much was left out."""
KEEP = 6
"""Exchanges kept per unit (the latest)."""

_HEADERS = Redactor(emails=False)
_current: ContextVar[list[Exchange] | None] = ContextVar("salesync_capture", default=None)


@dataclass(slots=True)
class Exchange:
    method: str
    url: str
    request_headers: dict[str, str]
    request_body: str
    status: int | None = None
    response_headers: dict[str, str] | None = None
    response_body: str | None = None
    elapsed_ms: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(content: bytes) -> str:
    text = content.decode("utf-8", errors="replace")
    if len(text) > BODY_LIMIT:
        return f"{text[:BODY_LIMIT]}… [{len(text) - BODY_LIMIT} more characters]"
    return text


def _on_request(request: httpx.Request) -> None:
    exchanges = _current.get()
    if exchanges is None:
        return
    try:
        body = _text(request.content)
    except httpx.RequestNotRead:
        body = "[streamed body]"
    exchanges.append(
        Exchange(
            method=request.method,
            url=str(request.url),
            request_headers=_HEADERS.headers(request.headers.multi_items()),
            request_body=body,
        )
    )
    request.extensions["salesync_exchange"] = exchanges[-1]
    del exchanges[: max(0, len(exchanges) - KEEP)]


def _on_response(response: httpx.Response) -> None:
    exchange = response.request.extensions.get("salesync_exchange")
    if not isinstance(exchange, Exchange):
        return
    response.read()
    exchange.status = response.status_code
    exchange.response_headers = _HEADERS.headers(response.headers.multi_items())
    exchange.response_body = _text(response.content)
    try:
        exchange.elapsed_ms = round(response.elapsed.total_seconds() * 1000, 1)
    except RuntimeError:  # httpx knows the time only once the response is closed
        exchange.elapsed_ms = None


HOOKS: dict[str, list[Any]] = {"request": [_on_request], "response": [_on_response]}


@contextmanager
def capturing() -> Iterator[list[Exchange]]:
    """Collect this thread's HTTP exchanges until the block ends."""
    exchanges: list[Exchange] = []
    token = _current.set(exchanges)
    try:
        yield exchanges
    finally:
        _current.reset(token)
