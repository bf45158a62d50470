"""Request bodies read with a hard size cap, so one huge upload cannot fill memory."""

from __future__ import annotations

from starlette.requests import Request

MAX_BODY_BYTES = 2 * 1024 * 1024
"""Large enough for an order with hundreds of lines; providers send far less."""


class BodyTooLargeError(Exception):
    """A body over the cap: answered 413 before or while it is read."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the body is larger than {limit} bytes")
        self.limit = limit


class BadLengthError(Exception):
    """A Content-Length header that is not a number."""


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused as soon as it is known to pass ``limit``: by its declared
    length first, then while streaming (the declared length may be missing or lie)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            length = int(declared)
        except ValueError:
            raise BadLengthError(f"Content-Length {declared!r} is not a number") from None
        if length > limit:
            raise BodyTooLargeError(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLargeError(limit)
        chunks.append(chunk)
    return b"".join(chunks)
