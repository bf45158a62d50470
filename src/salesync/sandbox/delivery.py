"""How an answer reaches the client when an after-work fault is armed, for every sandbox.

The work is already committed when these run: a lost response sends the status line and
part of the body and then drops the connection (or, armed with status 504, answers as a
gateway that timed out), so the client cannot tell whether the write happened. A slow
answer arrives late; a malformed one arrives cut in half.
"""

from __future__ import annotations

import time

from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from salesync.sandbox.faults import Fault, FaultKind

GATEWAY_TIMEOUT = 504


class ConnectionDroppedError(ConnectionResetError):
    """Raised by the app after a partial answer, so the server closes the connection."""


class DroppedResponse(Response):
    """Announces the full body's length, sends half of it, then drops the connection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status_code,
                "headers": self.raw_headers,
            }
        )
        await send(
            {
                "type": "http.response.body",
                "body": self.body[: len(self.body) // 2],
                "more_body": True,
            }
        )
        raise ConnectionDroppedError("sandbox dropped the connection after committing the work")


def gateway_timeout() -> Response:
    """The HTML page a load balancer answers with when the service behind it is too slow."""
    return HTMLResponse(
        "<html><head><title>504 Gateway Time-out</title></head>"
        "<body><h1>504 Gateway Time-out</h1></body></html>",
        status_code=GATEWAY_TIMEOUT,
    )


def deliver(fault: Fault | None, response: Response) -> Response:
    """The response as an armed after-work fault lets it arrive (unchanged when none)."""
    if fault is None:
        return response
    if fault.kind is FaultKind.SLOW:
        time.sleep(fault.delay)
        return response
    if fault.kind is FaultKind.MALFORMED:
        return Response(
            response.body[: len(response.body) // 2],
            status_code=response.status_code,
            media_type=response.media_type or "application/json",
        )
    if fault.kind is FaultKind.LOST_RESPONSE:
        if fault.status == GATEWAY_TIMEOUT:
            return gateway_timeout()
        headers = {
            k.decode(): v.decode() for k, v in response.raw_headers if k != b"content-length"
        }
        return DroppedResponse(response.body, status_code=response.status_code, headers=headers)
    return response
