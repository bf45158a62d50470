"""Settings of a long-running salesync process that are not about salesync's own data."""

from __future__ import annotations

import gc

YOUNGEST = 10_000
"""Allocations the youngest generation takes before a collection (Python's default is 700).
A sync builds and drops thousands of small objects per batch (money, lines, rows), nearly
none in cycles: collecting every 700 was about 8% of ``benchmarks/backfill.py``; at 10,000
the same runs were 2-5% faster and their peak memory grew by about 1 MiB."""


def settle_heap() -> int:
    """Collect once, then leave everything still alive out of later collections; returns
    how many objects that is.

    A process holds from its start on what it keeps until it ends: imported modules,
    pydantic's validators, SQLAlchemy's mappers, Typer's and FastAPI's apps (about two
    hundred thousand objects). The cycle collector would otherwise walk all of them at
    each of its older-generation passes, which a sync provokes every few hundred
    documents: ``benchmarks/backfill.py`` spends about a fifth of its time there without
    this. Called at start by the ``salesync`` command (which also serves the API and
    runs the in-process worker) and by each Celery worker process.
    The youngest generation is also collected less often (``YOUNGEST``).
    See https://docs.python.org/3/library/gc.html#gc.freeze.
    """
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNGEST, middle, oldest)
    return gc.get_freeze_count()
