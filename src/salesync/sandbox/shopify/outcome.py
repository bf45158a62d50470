"""How a Shopify response goes out, or fails to: error bodies and injected faults.

Before-work faults answer like Shopify does for 5xx, 429 and 401. After-work faults let the
work commit and then spoil the answer: a lost response starts the reply and drops the
connection (optionally after a delay longer than the client waits), a slow one answers
late, a malformed one answers with a body cut in half.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from salesync.sandbox.faults import BEFORE, Fault, FaultKind, FaultPlan

UNRECOGNIZED_LOGIN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
REST_THROTTLED = (
    "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted "
    "service."
)


def shopify_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Shopify's Admin error body: ``{"errors": "..."}``."""
    return JSONResponse({"errors": message}, status_code=status, headers=headers)


class DroppedResponse(Response):
    """Starts the answer, then loses the connection before the body is complete.

    Under uvicorn the client sees the peer close mid-response. In process (TestClient or
    httpx's ASGI transport) the exception itself reaches the client, and it is the one httpx
    raises for a connection dropped mid-body, so both paths look alike to a connector.
    """

    def __init__(self) -> None:
        super().__init__(status_code=200, media_type="application/json")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"data":', "more_body": True})
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body"
        )


def before_fault(fault: Fault) -> Response:
    """The answer for a fault that stops the request before any work."""
    if fault.kind is FaultKind.RATE_LIMITED:
        return shopify_error(429, REST_THROTTLED, {"Retry-After": f"{fault.retry_after:.1f}"})
    if fault.kind is FaultKind.UNAUTHORIZED:
        return shopify_error(401, UNRECOGNIZED_LOGIN)
    message = {500: "Internal Server Error", 502: "Bad Gateway", 504: "Gateway Timeout"}
    return shopify_error(fault.status, message.get(fault.status, "Service Unavailable"))


def after_fault(fault: Fault, response: Response) -> Response:
    """Spoil ``response`` after the work was committed."""
    if fault.kind in (FaultKind.LOST_RESPONSE, FaultKind.SLOW):
        time.sleep(fault.delay)
    if fault.kind is FaultKind.LOST_RESPONSE:
        return DroppedResponse()
    if fault.kind is FaultKind.SLOW:
        return response
    body = bytes(response.body)
    return Response(
        body[: len(body) // 2],
        status_code=response.status_code,
        media_type="application/json",
    )


def take_fault(plan: FaultPlan, *operations: str) -> Fault | None:
    """The next armed fault for the most specific of ``operations`` that has one."""
    for operation in operations:
        fault = plan.take(operation)
        if fault is not None:
            return fault
    return None


def is_before(fault: Fault) -> bool:
    return fault.kind in BEFORE


def json_body(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(payload, separators=(",", ":")),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )
