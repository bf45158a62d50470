"""A webhook receiver for sandbox tests, served with ``salesync.sandbox.server.serving``."""

from __future__ import annotations

import threading

from fastapi import FastAPI, Request, Response


class Receiver:
    """A webhook endpoint that records what it was sent and answers with a chosen status."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.status = 200
        self.app = FastAPI()
        self.lock = threading.Lock()

        @self.app.post("/hooks")
        async def hook(request: Request) -> Response:
            with self.lock:
                self.received.append((dict(request.headers), await request.body()))
            return Response(status_code=self.status)
