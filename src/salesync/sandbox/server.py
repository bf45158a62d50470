"""Serve an ASGI app on a free loopback port in a background thread (tests, demo)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # the host process keeps its own handlers
        pass


@contextmanager
def serving(
    app: Any, *, port: int | None = None, timeout: float = 10.0, log_level: str = "warning"
) -> Iterator[str]:
    """Run ``app`` under uvicorn until the block ends; yields its base URL. ``log_level``
    "critical" keeps quiet about the connections a sandbox drops on purpose."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level=log_level, lifespan="on")
    server = _Server(config)
    thread = threading.Thread(target=server.run, name=f"sandbox-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"sandbox server on port {port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout)
