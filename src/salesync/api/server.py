"""Running the API under uvicorn, tuned for its traffic."""

from __future__ import annotations

import gc

import uvicorn
from fastapi import FastAPI

GC_THRESHOLDS = (10_000, 20, 100)
"""Collections are rarer than CPython's default (700, 10, 10); see ``run``."""


def tune_collector() -> None:
    """Keep the garbage collector off the hot path.

    Each request makes many short-lived containers (the parsed delivery, SQL rows), so
    with the default thresholds the collector runs every few requests, and every tenth
    or so of those walks the whole loaded application (FastAPI, pydantic, SQLAlchemy:
    hundreds of thousands of objects). In benchmarks/ingress.py that was a tenth of the
    event loop's time and most of its p99. What exists at start-up is frozen out of every
    collection, and young collections are rarer; reference cycles are still collected.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def run(
    app: FastAPI,
    host: str,
    port: int,
    *,
    log_level: str = "info",
    forwarded_allow_ips: str | None = None,
) -> None:
    """Serve ``app`` on ``host:port`` with one uvicorn worker until interrupted.

    ``forwarded_allow_ips`` names the proxies (comma-separated addresses, or ``*``) whose
    X-Forwarded-For and X-Forwarded-Proto salesync believes: behind a TLS proxy that is
    what makes the request https (Secure cookies, links) and the client address real.
    """
    tune_collector()
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level=log_level.lower(),
        # uvicorn's own lines go through salesync's logging (salesync.logs): JSON when not
        # on a terminal, redacted, like every other line.
        log_config=None,
        access_log=False,
        proxy_headers=forwarded_allow_ips is not None,
        forwarded_allow_ips=forwarded_allow_ips,
    )
