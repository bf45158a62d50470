"""Lookups by key stay lookups as the books grow.

Every statement a backfill, its planning and posting, and the dashboard's sales log run is
explained by SQLite while it runs; none may walk a tenant's whole history of documents,
queue, links or inbox when it was asked for particular rows. (SQLite, without statistics,
prefers an index starting with ``tenant_id`` over the primary key for ``tenant_id = ? AND
id IN (...)``: each such lookup grew with the tenant's history, and a million-order
backfill slowed sevenfold.)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine as SqlEngine
from sqlalchemy import event

from salesync.clock import ManualClock
from salesync.domain.simulate import demo_merchant
from salesync.engine.backfill import Backfills, SimulatedHistory
from salesync.engine.runner import Engine
from salesync.store.database import make_engine, migrate, session_factory
from salesync.store.repositories import Locations, Tenants
from salesync.views.sales import sales_log

KEYED = re.compile(r"\.(id|document_id|parent_id|parent_ref) IN \(")
"""A statement asking for particular rows (listings and totals over a tenant's history are
another matter)."""
HISTORY = ("documents", "queued_documents", "posting_documents", "inbox_records")
TENANT_ONLY = re.compile(
    r"(SEARCH|SCAN) (?P<table>\w+) USING (?:COVERING )?INDEX \w+ \(tenant_id=\?\)$"
)


@contextmanager
def _explained(db: SqlEngine) -> Iterator[list[tuple[str, str]]]:
    seen: list[tuple[str, str]] = []

    @event.listens_for(db, "before_cursor_execute")
    def explain(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if many or not statement.lstrip().upper().startswith(("SELECT", "UPDATE", "DELETE")):
            return
        plan = cursor.connection.execute("EXPLAIN QUERY PLAN " + statement, parameters)
        seen.extend((statement, str(row[3])) for row in plan.fetchall())

    yield seen
    event.remove(db, "before_cursor_execute", explain)


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SqlEngine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'plans.db'}")
    migrate(engine)
    yield engine
    engine.dispose()


def test_backfill_planning_and_the_sales_log_look_rows_up_by_key(db: SqlEngine) -> None:
    merchant = demo_merchant(orders_per_day=20)
    factory = session_factory(db)
    clock = ManualClock(datetime(2026, 3, 1, tzinfo=UTC))
    with factory() as session, session.begin():
        Tenants(session).add(merchant.tenant)
        for location in merchant.locations:
            Locations(session, merchant.tenant.id).add(location)
    first, last = date(2026, 2, 1), date(2026, 2, 4)
    backfills = Backfills(factory, clock)
    job = backfills.start(merchant.tenant.id, "simulator", first, last)
    engine = Engine(factory, clock)
    with _explained(db) as seen:
        backfills.run(
            job,
            SimulatedHistory(merchant, first, last, seed=5),
            after_window=lambda _: engine.tick(merchant.tenant.id),
        )
        engine.run_until_idle(merchant.tenant.id)
        with factory() as session:
            page = sales_log(session, merchant.tenant.id, limit=50)
    assert len(page.entries) == 50
    walks = sorted(
        {
            (m["table"], " ".join(statement.split())[:400])
            for statement, detail in seen
            if KEYED.search(statement)
            and (m := TENANT_ONLY.search(detail))
            and m["table"] in HISTORY
        }
    )
    assert not walks, "statements walking a tenant's whole history:\n" + "\n".join(
        f"{table}: {statement}" for table, statement in walks
    )
